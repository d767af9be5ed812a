import { request } from 'node:http';
import { formatDuration, RelError } from '@rel/core';
import { WaitStrategy } from './strategy.js';

export interface HttpWaitOptions {
  /** The container port the server listens on; it must be published. */
  port: number;
  /** Expected status. Default 200. */
  status?: number;
  /** Text the body must contain. Default: any body. */
  bodyIncludes?: string;
  /** Limit for one request; the first attempts get less (50 ms, doubling up to it). Default 2000 ms. */
  requestTimeoutMs?: number;
}

/** Limit of the first HTTP attempt of a wait; each later attempt may take twice as long, up to `requestTimeoutMs`. */
const FIRST_HTTP_ATTEMPT_MS = 50;

/** `GET path` on the 127.0.0.1 host port published for `port` answers `status` (and contains `bodyIncludes`). */
export function forHttp(path: string, options: HttpWaitOptions): WaitStrategy {
  if (!path.startsWith('/'))
    throw new RelError('BAD_INPUT', `invalid HTTP path ${JSON.stringify(path)}: starts with /`);
  const { port, status = 200, bodyIncludes, requestTimeoutMs = 2000 } = options;
  const body = bodyIncludes === undefined ? '' : ` containing ${JSON.stringify(bodyIncludes)}`;
  return new WaitStrategy(`HTTP ${status}${body} from GET ${path} on container port ${port}`, () => {
    // A connection made just as the container starts can hang in docker-proxy (its SYN to the container
    // is lost and retried a second later): early attempts give up fast, later ones wait longer.
    let attemptTimeoutMs = Math.min(FIRST_HTTP_ATTEMPT_MS, requestTimeoutMs);
    return async (context) => {
      const url = `http://127.0.0.1:${context.hostPort(port)}${path}`;
      const limit = attemptTimeoutMs;
      attemptTimeoutMs = Math.min(attemptTimeoutMs * 2, requestTimeoutMs);
      const response = await withAttemptTimeout(context.signal, limit, `no answer from ${url}`, (signal) =>
        httpGet(url, signal, bodyIncludes !== undefined).catch((error: Error & { code?: string }) => {
          if (signal.aborted) throw error;
          throw new Error(`no HTTP answer from ${url}: ${error.code ?? error.message}`);
        }),
      );
      if (response.status !== status) throw new Error(`HTTP ${response.status} from ${url}`);
      if (bodyIncludes !== undefined && !response.text.includes(bodyIncludes)) {
        throw new Error(`the body from ${url} does not contain ${JSON.stringify(bodyIncludes)}`);
      }
      return true;
    };
  });
}

/** Runs one attempt with its own deadline, ended early when the whole wait ends; leaves no listener behind. */
async function withAttemptTimeout<T>(
  outer: AbortSignal,
  timeoutMs: number,
  what: string,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  outer.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    return await attempt(controller.signal);
  } catch (error) {
    if (timedOut) throw new Error(`${what} within ${formatDuration(timeoutMs)}`);
    throw error;
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', onAbort);
  }
}

/**
 * One GET on a fresh connection (no keep-alive: each attempt sees the container as it is now), with the
 * body read only when asked for. node:http rather than fetch: fetch loads undici on first use, which costs
 * a short-lived CLI tens of milliseconds.
 */
function httpGet(url: string, signal: AbortSignal, readBody: boolean): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      if (readBody) res.on('data', (chunk: Buffer) => chunks.push(chunk));
      else res.resume();
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}
