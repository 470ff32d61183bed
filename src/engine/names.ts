/**
 * Container ids and names as Docker makes them: 64 random hex digits (never all-decimal in the
 * 12-character short form, so a short id is never mistaken for a number), and generated names of
 * the form adjective_surname. The word lists are berth's own: surnames of people whose work
 * computing and science stand on.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { invalid } from '../errors';

const ADJECTIVES = [
  'agile', 'amiable', 'ardent', 'astute', 'bold', 'brave', 'bright', 'brisk', 'calm', 'candid',
  'careful', 'cheerful', 'clever', 'cordial', 'curious', 'daring', 'deft', 'diligent', 'eager', 'earnest',
  'elated', 'epic', 'fearless', 'fervent', 'fond', 'frank', 'gallant', 'gentle', 'gifted', 'glad',
  'graceful', 'hardy', 'hearty', 'honest', 'humble', 'jolly', 'jovial', 'keen', 'kind', 'lively',
  'loyal', 'lucid', 'merry', 'mindful', 'modest', 'nimble', 'noble', 'patient', 'placid', 'plucky',
  'polite', 'proud', 'quick', 'quiet', 'radiant', 'rapid', 'serene', 'sharp', 'shrewd', 'sincere',
  'sleepy', 'smart', 'snappy', 'spirited', 'steady', 'stoic', 'sturdy', 'sunny', 'swift', 'tender',
  'thoughtful', 'tidy', 'tranquil', 'trusty', 'upbeat', 'valiant', 'vibrant', 'vigilant', 'vivid', 'warm',
  'wise', 'witty', 'zealous', 'zen',
];

const SURNAMES = [
  'agnesi', 'allen', 'babbage', 'backus', 'bardeen', 'bartik', 'bernoulli', 'boole', 'brattain', 'cerf',
  'chandrasekhar', 'clarke', 'codd', 'conway', 'corbato', 'curie', 'dijkstra', 'engelbart', 'euclid', 'euler',
  'faraday', 'fermat', 'feynman', 'franklin', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'hertz',
  'hopper', 'hypatia', 'jackson', 'johnson', 'kahan', 'kay', 'kepler', 'knuth', 'kowalevski', 'lamarr',
  'lamport', 'leavitt', 'liskov', 'lovelace', 'maxwell', 'mccarthy', 'meitner', 'mendel', 'minsky', 'mirzakhani',
  'napier', 'newton', 'noether', 'noyce', 'pascal', 'perlman', 'planck', 'raman', 'ramanujan', 'ritchie',
  'sammet', 'shannon', 'shamir', 'sinoussi', 'somerville', 'stallman', 'sutherland', 'tesla', 'thompson', 'torvalds',
  'turing', 'vaughan', 'volta', 'wiles', 'wilkes', 'wing', 'wozniak', 'wu', 'yalow', 'yonath',
];

export function newId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (!/^\d+$/.test(id.slice(0, 12))) return id;
  }
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** A generated name not taken yet; after a few collisions a digit suffix, as Docker does. */
export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 10; attempt++) {
    const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
    if (!taken(name)) return name;
  }
  for (;;) {
    const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}${randomInt(10)}`;
    if (!taken(name)) return name;
  }
}

const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Validates a user-given name and strips the leading slash Docker allows. */
export function validateName(name: string): string {
  if (!VALID_NAME.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.replace(/^\//, '');
}
