/**
 * Signal names and numbers as Docker accepts them for kill and stop: "KILL", "SIGKILL", "9",
 * and the real-time forms.
 */
import { invalid } from '../errors';

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

export function normalizeSignal(s: string): string {
  if (/^\d+$/.test(s)) return s;
  return s.toUpperCase().replace(/^SIG/, '');
}

export function signalNumber(s: string): string {
  const n = normalizeSignal(s);
  return /^\d+$/.test(n) ? n : String(SIGNALS[n]);
}

export function validateSignal(s: string): void {
  const n = normalizeSignal(s);
  const ok = /^\d+$/.test(n) ? Number(n) >= 1 && Number(n) <= 64 : n in SIGNALS || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(n);
  if (!ok) throw invalid(`Invalid signal: ${s}`);
}
