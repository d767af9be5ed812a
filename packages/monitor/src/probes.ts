import { errorMessage } from '@rel/core';
import { Client, type Dispatcher } from 'undici';
import { parseHttpUrl, redactUrl, scrubUrlSecrets } from './redact.js';
import type { Probe, ProbeOutcome, ProbeSample } from './types.js';
import { badInput, integerAtLeast, nonEmptyName, positiveNumber } from './validate.js';

/** Enough of a body to look for a health marker; the rest is not read. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Without a marker to look for, a body is read (and dropped) up to this much, as undici's `body.dump()`. */
const DRAIN_BYTES = 128 * 1024;

export interface HttpProbeOptions {
  /** Unique within a run: `public`, `api`, `client`. */
  name: string;
  /** http: or https: URL. Its credentials and query string never appear in events, logs or reports. */
  url: string | URL;
  /** Deadline of one request, headers and body. Default 5000 ms. */
  timeoutMs?: number;
  /** Accepted status code(s). Default any 2xx. */
  expectStatus?: number | readonly number[];
  /** Text the body must contain, or a pattern it must match (the first 1 MiB is read). Default: not checked. */
  expectBody?: string | RegExp;
  /** Default `GET`. */
  method?: 'GET' | 'HEAD';
  /** Request headers, e.g. `{ host: 'app.example.com' }`. Never logged. */
  headers?: Record<string, string>;
  /**
   * Keep the connection open between checks (when the server allows it). Default false: every check opens a
   * new connection, as a new visitor would. A kept connection still fails the next check when the server goes
   * away (its connection closes with it) and is opened again. A request whose kept connection the server
   * closes before answering (nginx closes idle ones at a reload) is sent once more on a new connection within
   * the same deadline. Ignored with `dispatcher`.
   */
  keepAlive?: boolean;
  /**
   * undici dispatcher. Default: a private undici Client of the URL's origin (one connection at a time, kept
   * alive only with `keepAlive`), closed when the run ends.
   */
  dispatcher?: Dispatcher;
}

/** An HTTP(S) check: status, optionally a body marker, and the response time. */
export function httpProbe(options: HttpProbeOptions): Probe {
  const name = nonEmptyName('httpProbe name', options.name);
  const url = parseHttpUrl(`url of probe ${name}`, options.url);
  const timeoutMs = positiveNumber(`timeoutMs of probe ${name}`, options.timeoutMs ?? 5000);
  const method = options.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') badInput(`method of probe ${name}`, method, 'expected GET or HEAD');
  const statusOk = statusMatcher(name, options.expectStatus);
  const expectBody = options.expectBody;
  if (expectBody !== undefined && typeof expectBody !== 'string' && !(expectBody instanceof RegExp)) {
    badInput(`expectBody of probe ${name}`, expectBody, 'expected a string or a RegExp');
  }
  if (expectBody !== undefined && method === 'HEAD') {
    badInput(`expectBody of probe ${name}`, String(expectBody), 'a HEAD response has no body');
  }
  // A Client of the one origin rather than an Agent: an Agent drops its per-origin pool whenever that pool's
  // last connection closes (after every check without keep-alive) and builds a new one for the next request,
  // which costs more CPU than the request itself. Checks never overlap, so one connection is enough.
  let privateClient: Client | undefined;
  const pipelining = options.keepAlive ? 1 : 0;
  const keptAlive = options.keepAlive === true && !options.dispatcher;
  const headers = options.headers ?? {};
  const target = `${method} ${redactUrl(url)}`;

  return {
    name,
    kind: 'http',
    target,
    timeoutMs,
    check(signal: AbortSignal): Promise<ProbeSample> {
      if (signal.aborted) return Promise.resolve({ ok: false, error: 'aborted' });
      // connectTimeout 0 here and no headers or body timeout below: the check's deadline (its own timer, or the
      // signal runMonitor aborts at the deadline) is the one deadline of the request. undici's are timers too, kept on a list it sweeps every half second while one is set:
      // a wake-up of the process between checks, each check, for nothing.
      if (!options.dispatcher && !privateClient)
        privateClient = new Client(url.origin, { pipelining, connectTimeout: 0 });
      const dispatcher = options.dispatcher ?? privateClient!;
      const started = process.hrtime.bigint();
      // undici's dispatch with a handler rather than request(): no response stream, header object, async
      // resource or promise per request (about a fifth less CPU per request). The handler sees the status and
      // the body's chunks; the request ends at its last byte, at enough of the body, at the timeout or at the
      // signal.
      return new Promise<ProbeSample>((resolve) => {
        let settled = false;
        let abortRequest: ((reason: Error) => void) | undefined;
        let stopReason: Error | undefined;
        const settle = (sample: ProbeSample) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(sample);
        };
        // Ends the request early: at once when it is on a connection, else when it gets one. A request still
        // waiting for its connection holds the private client's only connection slot: that client is dropped
        // (destroyed, with the hanging connect) and the next check opens a new one.
        const stop = (reason: Error) => {
          stopReason ??= reason;
          if (abortRequest) abortRequest(reason);
          else if (dispatcher === privateClient) {
            privateClient = undefined;
            dispatcher.destroy(reason).catch(() => undefined);
          }
        };
        // Under runMonitor the signal is aborted at the deadline: no timer of its own then.
        const timer = deadlineSignals.has(signal)
          ? undefined
          : setTimeout(() => {
              settle({ ok: false, error: `timeout after ${timeoutMs}ms` });
              stop(new Error(`timeout after ${timeoutMs}ms`));
            }, timeoutMs);
        const onAbort = () => {
          settle({ ok: false, error: 'aborted' });
          stop(new Error('aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const send = (retry: boolean) => {
          let status: number | undefined;
          let bytes = 0;
          let body = '';
          let decoder: InstanceType<typeof TextDecoder> | undefined;
          abortRequest = undefined;
          /** The response is in (or enough of it): its verdict. */
          const complete = () => {
            const latencyMs = round(Number(process.hrtime.bigint() - started) / 1e6);
            if (status === undefined) return settle({ ok: false, error: 'no response' });
            if (!statusOk.test(status)) {
              return settle({ ok: false, status, latencyMs, error: `status ${status}, expected ${statusOk.shown}` });
            }
            if (expectBody !== undefined) {
              const text = body + (decoder?.decode() ?? '');
              const found = typeof expectBody === 'string' ? text.includes(expectBody) : expectBody.test(text);
              if (!found) {
                const shown = typeof expectBody === 'string' ? JSON.stringify(expectBody) : String(expectBody);
                return settle({ ok: false, status, latencyMs, error: `body does not match ${shown}` });
              }
            }
            settle({ ok: true, status, latencyMs });
          };
          const handler: Dispatcher.DispatchHandler = {
            onConnect(abort) {
              abortRequest = abort;
              if (stopReason) abort(stopReason);
            },
            onHeaders(statusCode) {
              // 1xx are interim: the final status follows
              if (statusCode >= 200) status = statusCode;
              return true;
            },
            onData(chunk) {
              bytes += chunk.length;
              if (expectBody !== undefined) {
                decoder ??= new TextDecoder();
                body += decoder.decode(chunk, { stream: true });
              }
              // Enough read: the marker is looked for in the first MAX_BODY_BYTES; without one, the body is
              // drained up to DRAIN_BYTES (as undici's body.dump()). The rest is not read.
              if (bytes >= (expectBody === undefined ? DRAIN_BYTES : MAX_BODY_BYTES)) {
                complete();
                stop(new Error('enough of the body read'));
              }
              return true;
            },
            onComplete() {
              complete();
            },
            onError(error) {
              // A kept connection the server closed just as this request went out on it (nginx's old workers
              // close their idle ones at a reload): asked once more on a new connection, as browsers do. A
              // server that is really gone refuses that one too.
              if (keptAlive && !retry && status === undefined && !settled && !stopReason && isClosedConnection(error)) {
                queueMicrotask(() => {
                  if (!settled && !stopReason) send(true);
                });
                return;
              }
              settle(
                isTimeoutError(error)
                  ? { ok: false, error: `timeout after ${timeoutMs}ms` }
                  : { ok: false, error: scrubUrlSecrets(describeRequestError(error), url) },
              );
            },
          };
          dispatcher.dispatch(
            {
              origin: url.origin,
              path: url.search ? `${url.pathname}${url.search}` : url.pathname,
              method,
              headers,
              headersTimeout: 0,
              bodyTimeout: 0,
            },
            handler,
          );
        };
        send(false);
      });
    },
    async close() {
      const client = privateClient;
      privateClient = undefined;
      await client?.close().catch(() => undefined);
    },
  };
}

export interface ResourceSample {
  /** Memory in use, bytes (a container's, or several added up). */
  memoryBytes: number;
  /** CPU in use, percent of one core. */
  cpuPercent?: number;
}

export interface ResourceProbeOptions {
  /** Unique within a run: `green-containers`, `api-memory`. */
  name: string;
  /** Measures once, e.g. through `@rel/docker`'s container stats. A throw is a failed check. */
  sample: (signal: AbortSignal) => Promise<ResourceSample> | ResourceSample;
  /** The sample fails when it takes longer. Default 10 000 ms (Docker's stats take about 2 s). */
  timeoutMs?: number;
  /** What it measures, safe to print: `memory of sample-green-*`. */
  target?: string;
}

/** Memory and CPU of the live environment, measured by a function the caller passes in. */
export function resourceProbe(options: ResourceProbeOptions): Probe {
  const name = nonEmptyName('resourceProbe name', options.name);
  if (typeof options.sample !== 'function') badInput(`sample of probe ${name}`, options.sample, 'expected a function');
  const timeoutMs = positiveNumber(`timeoutMs of probe ${name}`, options.timeoutMs ?? 10_000);
  const sample = options.sample;
  return {
    name,
    kind: 'resource',
    ...(options.target === undefined ? {} : { target: options.target }),
    timeoutMs,
    async check(signal: AbortSignal): Promise<ProbeSample> {
      const measured = await sample(signal);
      const memoryBytes = measured?.memoryBytes;
      if (typeof memoryBytes !== 'number' || !Number.isFinite(memoryBytes) || memoryBytes < 0) {
        return { ok: false, error: `memory could not be measured (got ${String(memoryBytes)})` };
      }
      const cpu = measured.cpuPercent;
      if (cpu !== undefined && (typeof cpu !== 'number' || !Number.isFinite(cpu) || cpu < 0)) {
        return { ok: false, memoryBytes, error: `CPU could not be measured (got ${String(cpu)})` };
      }
      return { ok: true, memoryBytes, ...(cpu === undefined ? {} : { cpuPercent: round(cpu) }) };
    },
  };
}

/**
 * Signals handed out by a `ProbeRunner`: aborted at the probe's deadline, so a probe given one need not time
 * itself (an `httpProbe` called directly still does).
 */
const deadlineSignals = new WeakSet<AbortSignal>();

/** Runs the checks of one monitor run; `close` when the run is over. */
export interface ProbeRunner {
  /** One check: every probe concurrently, each under its deadline. */
  check(): Promise<ProbeOutcome[]>;
  close(): void;
}

/**
 * Runs the probes of each check concurrently, each under its deadline: a throw, a rejection, a malformed sample
 * or a probe that ignores its signal past its `timeoutMs` all give a failed outcome, never a pass. Probes with
 * the same timeout share one signal per check, aborted at that deadline or when `runSignal` aborts: one timer
 * and one abort controller per distinct timeout per check (usually one) and one listener on `runSignal` for the
 * whole run. Timers, listeners and abort signals cost more CPU than the probes' own bookkeeping.
 */
export function createProbeRunner(probes: readonly Probe[], runSignal: AbortSignal): ProbeRunner {
  const timeouts = [...new Set(probes.map((probe) => probe.timeoutMs))];
  const group = probes.map((probe) => timeouts.indexOf(probe.timeoutMs));
  let inFlight: AbortController[] = [];
  const onAbort = () => {
    for (const controller of inFlight) controller.abort();
  };
  runSignal.addEventListener('abort', onAbort, { once: true });
  return {
    async check() {
      const controllers = timeouts.map(() => new AbortController());
      for (const controller of controllers) deadlineSignals.add(controller.signal);
      inFlight = controllers;
      if (runSignal.aborted) onAbort();
      const settled = probes.map(() => false);
      const settlers: ((sample: ProbeSample) => void)[] = [];
      const samples = probes.map(
        (probe, i) =>
          new Promise<ProbeSample>((resolve) => {
            settlers[i] = (sample) => {
              if (settled[i]) return;
              settled[i] = true;
              resolve(sample);
            };
            Promise.resolve()
              .then(() => probe.check(controllers[group[i]!]!.signal))
              .then(normalizeSample, (error: unknown) => ({ ok: false, error: oneLine(errorMessage(error)) }))
              .then(settlers[i]);
          }),
      );
      const timers = timeouts.map((timeoutMs, g) =>
        setTimeout(() => {
          let late = false;
          probes.forEach((_probe, i) => {
            if (group[i] !== g || settled[i]) return;
            late = true;
            // settled first: the outcome says timeout, not the "aborted" the probe answers its signal with
            settlers[i]!({ ok: false, error: `timeout after ${timeoutMs}ms` });
          });
          if (late) controllers[g]!.abort();
        }, timeoutMs),
      );
      try {
        return (await Promise.all(samples)).map((sample, i) => outcomeOf(probes[i]!.name, sample));
      } finally {
        for (const timer of timers) clearTimeout(timer);
        inFlight = [];
      }
    },
    close() {
      runSignal.removeEventListener('abort', onAbort);
    },
  };
}

function normalizeSample(sample: unknown): ProbeSample {
  if (typeof sample !== 'object' || sample === null || typeof (sample as ProbeSample).ok !== 'boolean') {
    return { ok: false, error: 'the probe returned no verdict' };
  }
  const result = { ...(sample as ProbeSample) };
  for (const key of ['status', 'latencyMs', 'memoryBytes', 'cpuPercent'] as const) {
    const value = result[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return { ok: false, error: `${key} could not be measured (got ${String(value)})` };
    }
  }
  if (result.ok === false && !result.error) result.error = 'failed';
  return result;
}

function outcomeOf(probe: string, sample: ProbeSample): ProbeOutcome {
  const outcome: ProbeOutcome = { probe, verdict: sample.ok ? 'pass' : 'fail' };
  if (sample.status !== undefined) outcome.status = sample.status;
  if (sample.latencyMs !== undefined) outcome.latencyMs = sample.latencyMs;
  if (sample.memoryBytes !== undefined) outcome.memoryBytes = sample.memoryBytes;
  if (sample.cpuPercent !== undefined) outcome.cpuPercent = sample.cpuPercent;
  if (!sample.ok) outcome.error = oneLine(sample.error ?? 'failed');
  return outcome;
}

function statusMatcher(
  name: string,
  expected: number | readonly number[] | undefined,
): { test: (status: number) => boolean; shown: string } {
  if (expected === undefined) return { test: (status) => status >= 200 && status < 300, shown: '2xx' };
  const list = typeof expected === 'number' ? [expected] : [...expected];
  if (list.length === 0) badInput(`expectStatus of probe ${name}`, list, 'expected at least one status code');
  for (const status of list) integerStatus(name, status);
  const accepted = new Set(list);
  return { test: (status) => accepted.has(status), shown: list.join(' or ') };
}

function integerStatus(name: string, status: unknown): void {
  integerAtLeast(`expectStatus of probe ${name}`, status, 100);
  if ((status as number) > 599) badInput(`expectStatus of probe ${name}`, status, 'expected a status code 100-599');
}

function isTimeoutError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** The connection closed under the request: undici's "other side closed", a reset or a broken pipe. */
function isClosedConnection(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

function describeRequestError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  // Socket errors (ECONNREFUSED, ECONNRESET, ENOTFOUND) say enough by their code.
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  return oneLine(errorMessage(error));
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

// Response times come from process.hrtime: monotonic like performance.now(), without loading perf_hooks
// (the global performance object loads it on first use: a millisecond of CPU at start-up).
function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
