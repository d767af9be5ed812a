import { request } from 'node:http';
import { connect } from 'node:net';
import {
  type EventSink,
  formatDuration,
  ignoreEvents,
  isRelError,
  pollUntil,
  RelError,
  runStep,
  sleep,
} from '@rel/core';
import type Dockerode from 'dockerode';
import { oneLine, shortId } from './client.js';
import { execInContainer } from './exec.js';
import { demultiplexToText, readLogs, splitLines, tailLogs } from './logs.js';
import { inspectContainer } from './run.js';
import type { DockerClient } from './types.js';

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_POLL_INTERVAL_MS = 50;
const LOG_LINES_ON_FAILURE = 10;
// docker-proxy accepts a connection on the host port even when nothing listens in the container, then
// closes it within milliseconds; a connection still open after this long reached a real listener.
const PROXY_GRACE_MS = 60;

/** What a readiness check sees on each attempt. */
export interface WaitContext {
  client: DockerClient;
  containerId: string;
  /** The container's name, for messages. */
  containerName: string;
  /** The container as inspected just before this attempt (it is running). */
  container: Dockerode.ContainerInspectInfo;
  /** The 127.0.0.1 host port published for a container TCP port; RelError CONFIG if it is not published. */
  hostPort(containerPort: number): number;
  /** Aborted when the caller cancels the wait: pass it to anything that may take long. */
  signal: AbortSignal;
}

/**
 * One attempt: resolves `true` when ready. `false`, or a thrown plain Error (its message is kept for the
 * timeout message), means "not yet"; a thrown RelError (not TIMEOUT or UNREACHABLE) ends the wait at once.
 */
export type ReadinessCheck = (context: WaitContext) => Promise<boolean>;

/** A readiness condition as a value: what to check, how often, and for how long. Immutable. */
export class WaitStrategy {
  /** What is waited for, for messages: `HTTP 200 from GET /health on container port 8080`. */
  readonly description: string;
  /** Give up after this long. Default 60 s. */
  readonly timeoutMs: number;
  /** Pause between attempts. Default 50 ms. */
  readonly pollIntervalMs: number;
  /** Makes the check for one wait: checks that count (log messages) or remember (forAll) keep state here. */
  readonly #start: () => ReadinessCheck;

  constructor(
    description: string,
    start: () => ReadinessCheck,
    options: { timeoutMs?: number; pollIntervalMs?: number } = {},
  ) {
    this.description = description;
    this.#start = start;
    this.timeoutMs = positive(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeout');
    this.pollIntervalMs = positive(options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, 'poll interval');
  }

  /** The same strategy with another deadline. */
  withTimeout(ms: number): WaitStrategy {
    return new WaitStrategy(this.description, this.#start, { timeoutMs: ms, pollIntervalMs: this.pollIntervalMs });
  }

  /** The same strategy, checking every `ms`. */
  withPollInterval(ms: number): WaitStrategy {
    return new WaitStrategy(this.description, this.#start, { timeoutMs: this.timeoutMs, pollIntervalMs: ms });
  }

  /** A fresh check for one wait. */
  start(): ReadinessCheck {
    return this.#start();
  }
}

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

export interface PostgresWaitOptions {
  user: string;
  database: string;
  /** The port PostgreSQL listens on inside the container. Default 5432. */
  port?: number;
  /** Limit for one `pg_isready`. Default 5000 ms. */
  attemptTimeoutMs?: number;
}

/** Limit of the first HTTP attempt of a wait; each later attempt may take twice as long, up to `requestTimeoutMs`. */
const FIRST_HTTP_ATTEMPT_MS = 50;

/** Readiness strategies, testcontainers style: `Wait.forHttp('/health', { port: 8080 }).withTimeout(30_000)`. */
export const Wait = {
  /** The container's health check (from its image or spec) reports `healthy`; `unhealthy` fails at once (UNHEALTHY). */
  forHealthCheck(): WaitStrategy {
    return new WaitStrategy('its health check to report healthy', () => async ({ container, containerName }) => {
      const health = container.State.Health;
      if (!health) {
        throw new RelError('CONFIG', `container ${containerName} has no health check; wait for something else`);
      }
      if (health.Status === 'healthy') return true;
      if (health.Status === 'unhealthy') {
        const output = oneLine(health.Log?.at(-1)?.Output ?? '').slice(0, 200);
        throw new RelError(
          'UNHEALTHY',
          `container ${containerName} became unhealthy${output ? ` (last check: ${output})` : ''}`,
        );
      }
      throw new Error(`health: ${health.Status}`);
    });
  },

  /** Something accepts TCP connections on the 127.0.0.1 host port published for `containerPort`. */
  forListeningPort(containerPort: number): WaitStrategy {
    return new WaitStrategy(`container port ${containerPort} to accept connections`, () => async (context) => {
      await tcpListening(context.hostPort(containerPort), context.signal);
      return true;
    });
  },

  /** `GET path` on the 127.0.0.1 host port published for `port` answers `status` (and contains `bodyIncludes`). */
  forHttp(path: string, options: HttpWaitOptions): WaitStrategy {
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
  },

  /**
   * The container's output (stdout or stderr) has `times` lines containing the text or matching the pattern.
   * Each attempt reads the whole output: meant for start-up messages, not for chatty long-running logs.
   */
  forLogMessage(message: string | RegExp, times = 1): WaitStrategy {
    const pattern =
      typeof message === 'string' ? undefined : new RegExp(message.source, message.flags.replace(/[gy]/g, ''));
    const matches = (line: string) => (pattern ? pattern.test(line) : line.includes(message as string));
    const shown = typeof message === 'string' ? JSON.stringify(message) : String(message);
    const description = `log message ${shown}${times > 1 ? ` ${times} times` : ''}`;
    return new WaitStrategy(description, () => async ({ client, containerId }) => {
      const lines = splitLines(demultiplexToText(await readLogs(client, containerId)).all);
      const seen = lines.filter(matches).length;
      if (seen >= times) return true;
      throw new Error(`seen ${seen} of ${times}`);
    });
  },

  /** `pg_isready -h 127.0.0.1` inside the container exits 0. Needs `pg_isready` in the image. */
  forPostgres(options: PostgresWaitOptions): WaitStrategy {
    const { user, database, port = 5432, attemptTimeoutMs = 5000 } = options;
    for (const [what, value] of [
      ['user', user],
      ['database', database],
    ] as const) {
      // pg_isready reads a -d containing '=' as a connection string: allow plain names only.
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.$-]*$/.test(value)) {
        throw new RelError('BAD_INPUT', `invalid PostgreSQL ${what} ${JSON.stringify(value)} for Wait.forPostgres`);
      }
    }
    const cmd = ['pg_isready', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', database];
    return new WaitStrategy(`PostgreSQL to accept connections on port ${port}`, () => async (context) => {
      const result = await execInContainer(context.client, context.containerId, cmd, {
        timeoutMs: attemptTimeoutMs,
        signal: context.signal,
      }).catch((error: unknown) => {
        // Say, the container stopped between inspect and exec: "not yet", and the next attempt reports the exit.
        if (isRelError(error, 'STEP_FAILED')) throw new Error(error.message);
        throw error;
      });
      const output = oneLine(`${result.stdout} ${result.stderr}`);
      if (result.exitCode === 0) return true;
      if (result.exitCode === 3 || result.exitCode >= 126) {
        throw new RelError(
          'CONFIG',
          `pg_isready cannot run in container ${context.containerName} (exit code ${result.exitCode}): ${output}`,
        );
      }
      throw new Error(`pg_isready: ${output || `exit code ${result.exitCode}`}`);
    });
  },

  /** Every strategy is satisfied (each once is enough). Timeout: the longest of theirs, unless set. */
  forAll(strategies: WaitStrategy[]): WaitStrategy {
    if (strategies.length === 0) throw new RelError('BAD_INPUT', 'Wait.forAll needs at least one strategy');
    const description = strategies.map((s) => s.description).join(' and ');
    return new WaitStrategy(
      description,
      () => {
        const pending = new Map(strategies.map((s) => [s, s.start()]));
        return async (context) => {
          const errors: string[] = [];
          await Promise.all(
            [...pending].map(async ([strategy, check]) => {
              try {
                if (await check(context)) pending.delete(strategy);
                else errors.push(`${strategy.description}: not yet`);
              } catch (error) {
                if (error instanceof RelError && error.code !== 'TIMEOUT' && error.code !== 'UNREACHABLE') throw error;
                errors.push(`${strategy.description}: ${(error as Error).message}`);
              }
            }),
          );
          if (pending.size === 0) return true;
          throw new Error(errors.join('; '));
        };
      },
      {
        timeoutMs: Math.max(...strategies.map((s) => s.timeoutMs)),
        pollIntervalMs: Math.min(...strategies.map((s) => s.pollIntervalMs)),
      },
    );
  },

  /** Your own check (see `ReadinessCheck`), described for messages. */
  forCondition(description: string, check: ReadinessCheck): WaitStrategy {
    return new WaitStrategy(description, () => check);
  },
};

export interface WaitForReadyOptions {
  /** Stops waiting with RelError ABORTED. */
  signal?: AbortSignal;
  /** Progress events (step `wait`). */
  onEvent?: EventSink;
}

/**
 * Waits until a running container satisfies `strategy`. On timeout: RelError TIMEOUT saying what was
 * waited for, how long, the last reason it was not ready, and the container's last log lines. A container
 * that exits (or is restarted by its restart policy) while waited on fails at once: STEP_FAILED with its
 * exit code and last log lines. Returns how long it waited.
 */
export async function waitForReady(
  client: DockerClient,
  containerId: string,
  strategy: WaitStrategy,
  options: WaitForReadyOptions = {},
): Promise<{ durationMs: number }> {
  const first = await inspectContainer(client, containerId);
  if (!first) throw new RelError('NOT_FOUND', `container ${containerId} not found`);
  const name = first.Name.replace(/^\//, '');
  const waitingFor = `${strategy.description} (container ${name})`;
  return runStep(
    options.onEvent ?? ignoreEvents,
    'wait',
    `waiting for ${waitingFor}`,
    async () => {
      const started = Date.now();
      const check = strategy.start();
      const hostPorts = (info: Dockerode.ContainerInspectInfo) => (containerPort: number) => {
        const port = info.NetworkSettings?.Ports?.[`${containerPort}/tcp`]?.[0]?.HostPort;
        if (!port) {
          throw new RelError('CONFIG', `port ${containerPort} of container ${name} is not published on the host`);
        }
        return Number(port);
      };
      const exitedError = (how: string, exitCode: number) =>
        new RelError('STEP_FAILED', `container ${name} ${how} while waiting for ${strategy.description}`, {
          details: { container: name, exitCode },
        });
      // The engine tells us the moment the container exits, even while a check is stuck (a request to a
      // container that went away can hang until its own timeout); this stops the poll right then.
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) stop.abort();
      let exitCode: number | undefined;
      const waitStartedSec = Math.floor(Date.now() / 1000) - 1;
      const exited = client.docker
        .getContainer(first.Id)
        .wait({ condition: 'next-exit', abortSignal: stop.signal })
        .then(({ StatusCode }: { StatusCode: number }) => {
          exitCode = StatusCode;
          stop.abort();
        })
        .catch(() => undefined);
      try {
        await pollUntil(
          async (signal) => {
            const info = await inspectContainer(client, first.Id);
            if (!info) {
              throw new RelError(
                'STEP_FAILED',
                `container ${name} was removed while waiting for ${strategy.description}`,
              );
            }
            const state = info.State;
            if (state.Status === 'exited' || state.Status === 'dead') {
              throw exitedError(
                state.OOMKilled ? 'was killed for lack of memory' : `exited with code ${state.ExitCode}`,
                state.ExitCode,
              );
            }
            if (info.RestartCount > first.RestartCount) {
              // While `restarting`, ExitCode is the last run's; once running again, it is 0.
              const how =
                state.Status === 'restarting'
                  ? `exited with code ${state.ExitCode}`
                  : 'exited and was restarted by its restart policy';
              throw exitedError(how, state.ExitCode);
            }
            if (state.Status !== 'running') return false;
            return check({
              client,
              containerId: first.Id,
              containerName: name,
              container: info,
              hostPort: hostPorts(info),
              signal,
            });
          },
          { timeoutMs: strategy.timeoutMs, intervalMs: strategy.pollIntervalMs, waitingFor, signal: stop.signal },
        );
      } catch (error) {
        let failure = error;
        // Seen from inspect, a container its restart policy restarts may already show exit code 0 again,
        // and a `next-exit` wait registered while it was restarting may not say the code either: the
        // engine's `die` events are its own word on every exit since we started waiting.
        if (isRelError(error, 'STEP_FAILED')) {
          if (exitCode === undefined) await Promise.race([exited, sleep(1000)]);
          exitCode = (await lastDieExitCode(client, first.Id, waitStartedSec)) ?? exitCode;
        }
        if (exitCode !== undefined) {
          const after = await inspectContainer(client, first.Id).catch(() => undefined);
          failure = exitedError(
            after?.State.OOMKilled ? 'was killed for lack of memory' : `exited with code ${exitCode}`,
            exitCode,
          );
        }
        if (isRelError(failure, 'TIMEOUT') || isRelError(failure, 'STEP_FAILED') || isRelError(failure, 'UNHEALTHY')) {
          throw await withLogLines(client, first.Id, name, failure);
        }
        throw failure;
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
        stop.abort();
      }
      return { durationMs: Date.now() - started };
    },
    (result) => `${name}: ${strategy.description} after ${formatDuration(result.durationMs)}`,
  );
}

/** The same error, its message ending with the container's last log lines (also in `details.logs`). */
async function withLogLines(client: DockerClient, id: string, name: string, error: RelError): Promise<RelError> {
  const lines = await tailLogs(client, id, LOG_LINES_ON_FAILURE).catch(() => undefined);
  const shown = lines?.map((line) => oneLine(line).slice(0, 300)).filter(Boolean);
  const suffix =
    shown === undefined ? '' : shown.length ? `; last log lines: ${shown.join(' | ')}` : `; ${name} wrote no log lines`;
  return new RelError(error.code, `${error.message}${suffix}`, {
    cause: error.cause ?? error,
    details: { ...error.details, container: name, id: shortId(id), logs: lines ?? [] },
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

/** Resolves when a connection to 127.0.0.1:port reaches a listener (see PROXY_GRACE_MS); rejects otherwise. */
function tcpListening(port: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const onAbort = () => done(new Error('stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(1000, () => done(new Error(`connecting to 127.0.0.1:${port} timed out`)));
    socket.once('connect', () => {
      timer = setTimeout(() => done(), PROXY_GRACE_MS);
    });
    socket.once('data', () => done());
    socket.once('close', () =>
      done(new Error(`127.0.0.1:${port} closed the connection: nothing listens behind it yet`)),
    );
    socket.once('error', (error) => done(error));
  });
}

function positive(ms: number, what: string): number {
  if (!(Number.isFinite(ms) && ms > 0))
    throw new RelError('BAD_INPUT', `invalid wait ${what} ${ms}: expected milliseconds > 0`);
  return ms;
}

/**
 * The exit code of the container's last `die` event since `sinceSec` (Unix seconds), from the engine's
 * event log; undefined when there is none or the engine does not answer within a second.
 */
async function lastDieExitCode(client: DockerClient, id: string, sinceSec: number): Promise<number | undefined> {
  try {
    // `until` now, to the millisecond (the engine takes fractional seconds): the answer ends at once.
    const options = {
      since: sinceSec,
      until: (Date.now() / 1000).toFixed(3),
      filters: { container: [id], event: ['die'] },
      abortSignal: AbortSignal.timeout(2000),
    };
    const stream = await client.docker.getEvents(options as unknown as Dockerode.GetEventsOptions);
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    let code: number | undefined;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const event = JSON.parse(line) as { Actor?: { Attributes?: { exitCode?: string } } };
      const value = Number(event.Actor?.Attributes?.exitCode);
      if (Number.isInteger(value)) code = value;
    }
    return code;
  } catch {
    return undefined;
  }
}
