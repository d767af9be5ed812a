/** What went wrong, as a value callers can match on. Only the CLI turns these into exit codes. */
export type RelErrorCode =
  | 'BAD_INPUT' // an argument or option the operator typed is not valid
  | 'CONFIG' // the configuration file is missing, malformed or incomplete
  | 'NOT_FOUND' // an image, tag, container or file that was named does not exist
  | 'AUTH' // credentials were refused
  | 'UNREACHABLE' // a service (Docker engine, registry, database, HTTP endpoint) could not be reached
  | 'TIMEOUT' // something waited for did not happen before its deadline
  | 'UNHEALTHY' // a health check answered, but not healthy
  | 'LOCKED' // another release step holds the lock
  | 'STEP_FAILED' // a step failed for another reason
  | 'ABORTED' // cancelled through an AbortSignal or a signal
  | 'ROLLED_BACK'; // production failed and traffic was moved back

export interface RelErrorOptions {
  cause?: unknown;
  /** Extra facts for reports and --json output; never secrets. */
  details?: Record<string, unknown>;
}

// A brand shared by every copy of @rel/core in a process (two installed versions, a bundle): `Symbol.for`
// returns the same symbol everywhere, so an error thrown through one copy is recognised by another.
const BRAND: unique symbol = Symbol.for('rel.error') as never;

export class RelError extends Error {
  override readonly name = 'RelError';
  readonly code: RelErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly [BRAND] = true;

  constructor(code: RelErrorCode, message: string, options: RelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  /** `error instanceof RelError` holds for a RelError of any copy of @rel/core, not only this one. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}

/** Whether `error` is a RelError (of any copy of @rel/core), and of `code` when given. */
export function isRelError(error: unknown, code?: RelErrorCode): error is RelError {
  return error instanceof RelError && (code === undefined || error.code === code);
}

/** A one-line message for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
