import { errorMessage, RelError, runStep } from '@rel/core';
import { oneLine, redact } from '../connection.js';
import type { Progress, Run } from './context.js';

/** Error codes that mean a connection went away. */
const CONNECTION_LOST = /^(08|57P0)/;

/** ABORTED, naming the source, when the run's signal aborted. */
export function throwIfAborted(run: Run): void {
  if (run.signal.aborted) {
    throw new RelError('ABORTED', `replication of ${run.sourceWhere} stopped; ${run.names.target} is untouched`);
  }
}

/**
 * Any error as a one-line RelError that names what was being done and carries no secret: ABORTED once the
 * run is aborted (whatever failed then failed because its session was closed), a RelError as it is, a lost
 * connection as UNREACHABLE, anything else as STEP_FAILED (with the PostgreSQL error code in `details`).
 */
export function failure(run: Run, error: unknown, doing: string): RelError {
  if (run.signal.aborted) {
    return new RelError(
      'ABORTED',
      `replication of ${run.sourceWhere} stopped while ${doing}; ${run.names.target} is untouched`,
    );
  }
  if (error instanceof RelError) return error;
  const code = (error as { code?: string })?.code;
  const message = oneLine(redact(errorMessage(error), run.secrets));
  const lost =
    (code !== undefined && (CONNECTION_LOST.test(code) || /^E[A-Z]+$/.test(code))) ||
    /Connection terminated|ECONNRESET|ECONNREFUSED|socket|premature close/i.test(message);
  // disk_full: the copy is dropped right after, which gives the space back.
  const full = code === '53100' ? ` (disk full); ${run.names.target} is untouched, the partial copy is dropped` : '';
  return new RelError(lost ? 'UNREACHABLE' : 'STEP_FAILED', `${doing} failed: ${message}${full}`, {
    cause: error,
    details: { ...(code ? { code } : {}) },
  });
}

/** Runs `fn`, turning what it throws into `failure(run, error, doing)`. */
export async function guard<T>(run: Run, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw failure(run, error, doing);
  }
}

/** One `db:replicate:*` step: its events, ABORTED before it starts, and its errors sorted by `failure`. */
export function step<T>(
  run: Run,
  name: string,
  message: string,
  fn: (progress: Progress) => Promise<T>,
  finishMessage?: (result: T) => string,
): Promise<T> {
  return runStep(
    run.onEvent,
    name,
    message,
    async (progress) => {
      throwIfAborted(run);
      try {
        return await fn(progress);
      } catch (error) {
        throw failure(run, error, message);
      }
    },
    finishMessage,
  );
}
