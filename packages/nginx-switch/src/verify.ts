import { connect } from 'node:net';
import { type Environment, errorMessage, RelError, sleep } from '@rel/core';
import { Agent, type Dispatcher, request } from 'undici';
import { DEFAULT_ENVIRONMENT_HEADER } from './config-edit.js';

export interface VerifyEnvironmentOptions {
  /** URL(s) to request through nginx, e.g. `http://127.0.0.1:8088/api/health`. Each must pass. */
  url: string | readonly string[];
  /** The environment that must answer. */
  environment: Environment;
  /** Response header naming the environment. Default `X-Rel-Environment`. */
  header?: string;
  /** Consecutive good responses needed per URL. Default 5. */
  consecutive?: number;
  /**
   * The good responses in a row must also span this long, first to last, per URL. Default 0. After a reload,
   * nginx's old workers keep taking new connections for 100 ms or more next to the new ones; a run of good
   * answers that outlasts that window means no old worker takes connections any more.
   */
  settleMs?: number;
  /** Deadline for all URLs together. Default 10 s. */
  timeoutMs?: number;
  /** Timeout of one request (headers and body). Default 2 s. */
  requestTimeoutMs?: number;
  /** Pause after a response that does not count. Default 50 ms. */
  retryIntervalMs?: number;
  /** Accepted status code(s). Default any 2xx. */
  expectedStatus?: number | readonly number[];
  /** undici dispatcher for the requests. Default: a private Agent, closed afterwards. */
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

export interface VerificationResult {
  ok: boolean;
  environment: Environment;
  /** Requests sent, all URLs together. */
  requests: number;
  durationMs: number;
  /** What came back, e.g. `X-Rel-Environment: blue (200) 5 times, error ECONNREFUSED 1 time`. */
  seen: string;
  /** Why it failed: the deadline passed, or the target answered with a bad status `consecutive` times in a row. */
  reason?: string;
}

/**
 * Requests the URL(s), each request on a new connection (what a new client sees, whichever nginx worker takes
 * it), until `consecutive` responses in a row, spanning at least `settleMs`, have an expected status and carry
 * `<header>: <environment>`, or the deadline passes. Fails early once the target itself answers with a bad
 * status `consecutive` times in a row (it answers, and answers badly). Never throws for a failed check.
 */
export async function verifyEnvironment(options: VerifyEnvironmentOptions): Promise<VerificationResult> {
  const {
    environment,
    consecutive = 5,
    settleMs = 0,
    timeoutMs = 10_000,
    requestTimeoutMs = 2_000,
    retryIntervalMs = 50,
    signal,
  } = options;
  const header = (options.header ?? DEFAULT_ENVIRONMENT_HEADER).toLowerCase();
  const shownHeader = options.header ?? DEFAULT_ENVIRONMENT_HEADER;
  const urls = typeof options.url === 'string' ? [options.url] : [...options.url];
  const statusOk = statusMatcher(options.expectedStatus);
  const dispatcher = options.dispatcher ?? new Agent({ connections: 2 });
  const started = Date.now();
  const deadline = started + timeoutMs;
  const outcomes = new Map<string, number>();
  let requests = 0;
  let reason: string | undefined;
  // Each URL needs `consecutive` good answers in a row; then, until the good answers (all URLs together) have
  // kept coming for `settleMs`, the URLs are asked in turn. A wrong answer restarts its URL's count and the span.
  const good = urls.map(() => 0);
  const badFromTarget = urls.map(() => 0);
  let goodSince: number | undefined;
  let turn = 0;
  const pause = () => sleep(Math.min(retryIntervalMs, Math.max(0, deadline - Date.now())), signal);
  try {
    for (;;) {
      const pending = good.findIndex((count) => count < consecutive);
      const settled = settleMs <= 0 || (goodSince !== undefined && Date.now() - goodSince >= settleMs);
      if (pending < 0 && settled) break;
      const index = pending < 0 ? turn++ % urls.length : pending;
      const url = urls[index]!;
      if (signal?.aborted) throw new RelError('ABORTED', `stopped while verifying ${environment} through ${url}`);
      if (Date.now() >= deadline) {
        const span = settleMs > 0 ? ` over ${settleMs}ms` : '';
        reason = `no ${consecutive} good responses in a row${span} from ${url} within ${timeoutMs}ms`;
        break;
      }
      if (pending < 0) await pause();
      requests += 1;
      const sentAt = Date.now();
      const outcome = await requestOnce(url, dispatcher, header, requestTimeoutMs, signal);
      const key =
        'error' in outcome
          ? `error ${outcome.error}`
          : `${outcome.env === undefined ? `no ${shownHeader}` : `${shownHeader}: ${outcome.env}`} (${outcome.status})`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      const fromTarget = !('error' in outcome) && outcome.env === environment;
      if (fromTarget && statusOk(outcome.status)) {
        goodSince ??= sentAt;
        good[index]! += 1;
        badFromTarget[index] = 0;
        continue;
      }
      goodSince = undefined;
      good[index] = 0;
      badFromTarget[index] = fromTarget ? badFromTarget[index]! + 1 : 0;
      if (badFromTarget[index]! >= consecutive) {
        reason = `${environment} answered ${url} with ${key} ${badFromTarget[index]} times in a row`;
        break;
      }
      await pause();
    }
  } finally {
    if (!options.dispatcher) await (dispatcher as Agent).close().catch(() => undefined);
  }
  const seen = [...outcomes.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${key} ${count} time${count === 1 ? '' : 's'}`)
    .join(', ');
  return {
    ok: reason === undefined,
    environment,
    requests,
    durationMs: Date.now() - started,
    seen: seen || 'nothing',
    ...(reason === undefined ? {} : { reason }),
  };
}

async function requestOnce(
  url: string,
  dispatcher: Dispatcher,
  header: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ status: number; env: string | undefined } | { error: string }> {
  try {
    const response = await request(url, {
      method: 'GET',
      dispatcher,
      // A new connection per request: a kept one stays with the nginx worker that took it.
      reset: true,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
    });
    await response.body.dump();
    const value = response.headers[header];
    return { status: response.statusCode, env: Array.isArray(value) ? value.join(',') : value };
  } catch (error) {
    // A DOMException (the timeout signal) has a numeric `code`; socket and undici errors have a string one.
    const { code, name } = error as { code?: unknown; name?: string };
    if (typeof code === 'string') return { error: code };
    return { error: name === 'TimeoutError' ? `timeout after ${timeoutMs}ms` : errorMessage(error) };
  }
}

function statusMatcher(expected: number | readonly number[] | undefined): (status: number) => boolean {
  if (expected === undefined) return (status) => status >= 200 && status < 300;
  const accepted = new Set(typeof expected === 'number' ? [expected] : expected);
  return (status) => accepted.has(status);
}

/** Whether a TCP connection to the URL's host and port is accepted within `timeoutMs`. */
function acceptsConnections(url: URL, timeoutMs: number): Promise<boolean> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves with the status when `url` answers HTTP at all (a 502 still means nginx runs), or 0 when it
 * takes connections but does not answer in time (nginx runs; its upstream is slow); RelError
 * UNREACHABLE ("nginx is not running: <url> refuses connections") when it cannot be reached.
 */
export async function checkNginxAnswers(
  url: string,
  options: { dispatcher?: Dispatcher; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const dispatcher = options.dispatcher ?? new Agent({ connections: 1 });
  try {
    const outcome = await requestOnce(url, dispatcher, 'x', timeoutMs, options.signal);
    if ('error' in outcome) {
      const refused = outcome.error === 'ECONNREFUSED';
      // No answer in time, but the port takes connections: nginx runs, and what sits behind it is slow
      // (say, the very environment a rollback is leaving). 0: no status.
      if (!refused && (await acceptsConnections(new URL(url), timeoutMs))) return 0;
      throw new RelError(
        'UNREACHABLE',
        `nginx is not running: ${url} ${refused ? 'refuses connections' : `does not answer (${outcome.error})`}`,
      );
    }
    return outcome.status;
  } finally {
    if (!options.dispatcher) await (dispatcher as Agent).close().catch(() => undefined);
  }
}
