/**
 * The distribution spec's error codes, each with the HTTP status it travels with. Handlers throw a
 * RegistryError; the server turns it into the spec's body, {"errors":[{code,message,detail}]}, in
 * one place.
 */
export const ErrorCodes = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  // Not in the spec's table, but the status distribution and the spec's prose use for each case.
  PAGINATION_NUMBER_INVALID: 400,
  RANGE_INVALID: 416,
  MANIFEST_TOO_LARGE: 413,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class RegistryError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
    /** Headers the answer must carry (a challenge, the current Range of an upload). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RegistryError';
    this.status = ErrorCodes[code];
  }

  body(): string {
    // A 416 and a 413 speak the nearest spec codes to clients that read them.
    const code = this.code === 'RANGE_INVALID' ? 'BLOB_UPLOAD_INVALID' : this.code === 'MANIFEST_TOO_LARGE' ? 'MANIFEST_INVALID' : this.code;
    return JSON.stringify({ errors: [{ code, message: this.message, ...(this.detail !== undefined ? { detail: this.detail } : {}) }] });
  }
}

export const regErr = (code: ErrorCode, message: string, detail?: unknown) => new RegistryError(code, message, detail);
