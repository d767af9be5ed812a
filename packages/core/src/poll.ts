import { formatDuration } from './duration.js';
import { errorMessage, RelError } from './errors.js';

export interface PollOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between attempts. Default 100 ms. */
  intervalMs?: number;
  /** Stops the wait early with an ABORTED error. */
  signal?: AbortSignal;
  /** What is being waited for, for the timeout message: `"HTTP 200 from http://127.0.0.1:8080/health"`. */
  waitingFor: string;
  /** Called on timeout to add context (say, a container's last log lines) to the error's details. */
  onTimeout?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

/**
 * Calls `check` until it returns something other than `undefined`/`false`, or the deadline passes.
 * A `check` that throws counts as "not yet"; its last error is kept as the timeout's cause.
 */
export async function pollUntil<T>(
  check: (signal: AbortSignal) => Promise<T | undefined | false> | T | undefined | false,
  options: PollOptions,
): Promise<T> {
  const { timeoutMs, intervalMs = 100, signal, waitingFor } = options;
  const started = Date.now();
  const deadline = started + timeoutMs;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let lastError: unknown;
  try {
    for (;;) {
      if (signal?.aborted) throw new RelError('ABORTED', `stopped while waiting for ${waitingFor}`);
      try {
        const result = await check(controller.signal);
        if (result !== undefined && result !== false) return result as T;
        lastError = undefined;
      } catch (error) {
        if (error instanceof RelError && error.code !== 'TIMEOUT' && error.code !== 'UNREACHABLE') throw error;
        lastError = error;
      }
      const now = Date.now();
      if (now >= deadline) break;
      await sleep(Math.min(intervalMs, deadline - now), signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const details = (await options.onTimeout?.()) ?? {};
  const last = lastError === undefined ? '' : ` (last error: ${errorMessage(lastError)})`;
  throw new RelError(
    'TIMEOUT',
    `timed out after ${formatDuration(Date.now() - started)} waiting for ${waitingFor}${last}`,
    {
      cause: lastError,
      details: { waitingFor, timeoutMs, ...details },
    },
  );
}

/** A sleep that ends early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
