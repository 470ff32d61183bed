/**
 * The one place where error kinds become HTTP statuses. Bodies are Docker's: {"message": "..."}.
 */
import { kindOf, type ErrorKind } from '../errors';

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'not-modified': 304,
  'not-implemented': 501,
  unavailable: 503,
  internal: 500,
};

export function statusOf(e: unknown): number {
  const k = kindOf(e);
  return k ? STATUS[k] : 500;
}
