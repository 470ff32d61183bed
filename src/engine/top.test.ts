import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePsOutput, validatePsArgs } from './top';

const PS = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         101       1  0 10:01 ?        00:00:00 sleep 1000 extra args
root         102     101  0 10:01 ?        00:00:00 sh -c echo hi
`;

describe('top', () => {
  it('keeps only the container\'s rows and joins the command\'s words into the last column', () => {
    const r = parsePsOutput(PS, new Set([101, 102]));
    assert.deepEqual(r.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    assert.deepEqual(r.Processes, [
      ['root', '101', '1', '0', '10:01', '?', '00:00:00', 'sleep 1000 extra args'],
      ['root', '102', '101', '0', '10:01', '?', '00:00:00', 'sh -c echo hi'],
    ]);
  });

  it('keeps thread rows (PID "-") under a kept process only', () => {
    const r = parsePsOutput('PID TID CMD\n1 - init\n- 1 -\n7 - sleep\n- 7 -\n', new Set([7]));
    assert.deepEqual(r.Processes, [['7', '-', 'sleep'], ['-', '7', '-']]);
  });

  it('fails as Docker does without a PID column', () => {
    assert.throws(() => parsePsOutput('COMMAND\nsleep\n', new Set([1])), /Couldn't find PID field in ps output/);
  });

  it('refuses renaming the PID column', () => {
    assert.throws(() => validatePsArgs('-o comm= -o x=PID'), /specifying "x=PID" is not allowed/);
    validatePsArgs('-o pid=PID');
    validatePsArgs('aux');
  });
});
