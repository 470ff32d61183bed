/**
 * Error kinds used everywhere below the API. Code throws a kind; the API layer maps kinds to
 * HTTP statuses in one place (src/api/errors.ts), as containerd's errdefs and moby's httpstatus do.
 * Messages that a Docker client prints keep Docker's wording.
 */
export type ErrorKind =
  | 'invalid' // bad parameter or malformed input: 400
  | 'not-found' // 404
  | 'conflict' // 409
  | 'not-modified' // 304 (start of a running container, stop of a stopped one)
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not-implemented' // 501
  | 'unavailable' // 503
  | 'internal'; // 500

export class BerthError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BerthError';
  }
}

export const invalid = (msg: string, cause?: unknown) => new BerthError('invalid', msg, { cause });
export const notFound = (msg: string) => new BerthError('not-found', msg);
export const conflict = (msg: string) => new BerthError('conflict', msg);

export function kindOf(e: unknown): ErrorKind | undefined {
  return e instanceof BerthError ? e.kind : undefined;
}

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
