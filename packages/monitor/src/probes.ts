import { errorMessage } from '@rel/core';
import { Agent, type Dispatcher, request } from 'undici';
import { parseHttpUrl, redactUrl, scrubUrlSecrets } from './redact.js';
import type { Probe, ProbeOutcome, ProbeSample } from './types.js';
import { badInput, integerAtLeast, nonEmptyName, positiveNumber } from './validate.js';

/** Enough of a body to look for a health marker; the rest is not read. */
const MAX_BODY_BYTES = 1024 * 1024;

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
   * undici dispatcher. Default: a private Agent without keep-alive, so every check opens a new connection
   * and a dead backend is noticed at once; it is closed when the run ends.
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
  let privateAgent: Agent | undefined;
  const target = `${method} ${redactUrl(url)}`;

  return {
    name,
    kind: 'http',
    target,
    timeoutMs,
    async check(signal: AbortSignal): Promise<ProbeSample> {
      // pipelining 0: no keep-alive, a fresh connection per check.
      if (!options.dispatcher && !privateAgent) privateAgent = new Agent({ pipelining: 0, connections: 4 });
      const dispatcher = options.dispatcher ?? privateAgent!;
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const onAbort = () => controller.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const started = performance.now();
      try {
        const response = await request(url, {
          method,
          dispatcher,
          headers: options.headers ?? {},
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: controller.signal,
        });
        let bodyError: string | undefined;
        if (expectBody === undefined) {
          await response.body.dump();
        } else {
          const body = await readBodyPrefix(response.body);
          const found = typeof expectBody === 'string' ? body.includes(expectBody) : expectBody.test(body);
          if (!found)
            bodyError = `body does not match ${typeof expectBody === 'string' ? JSON.stringify(expectBody) : String(expectBody)}`;
        }
        const latencyMs = round(performance.now() - started);
        const status = response.statusCode;
        if (!statusOk.test(status))
          return { ok: false, status, latencyMs, error: `status ${status}, expected ${statusOk.shown}` };
        if (bodyError) return { ok: false, status, latencyMs, error: bodyError };
        return { ok: true, status, latencyMs };
      } catch (error) {
        if (timedOut || isTimeoutError(error)) return { ok: false, error: `timeout after ${timeoutMs}ms` };
        if (signal.aborted) return { ok: false, error: 'aborted' };
        return { ok: false, error: scrubUrlSecrets(describeRequestError(error), url) };
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      }
    },
    async close() {
      const agent = privateAgent;
      privateAgent = undefined;
      await agent?.close().catch(() => undefined);
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
 * Runs one probe under its deadline: a throw, a rejection, a malformed sample or a probe that ignores its
 * signal past `timeoutMs` all give a failed outcome, never a pass.
 */
export async function runProbe(probe: Probe, runSignal: AbortSignal): Promise<ProbeOutcome> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  runSignal.addEventListener('abort', onAbort, { once: true });
  if (runSignal.aborted) controller.abort();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ProbeSample>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ ok: false, error: `timeout after ${probe.timeoutMs}ms` });
    }, probe.timeoutMs);
  });
  try {
    const measured = Promise.resolve()
      .then(() => probe.check(controller.signal))
      .then(normalizeSample, (error: unknown) => ({ ok: false, error: oneLine(errorMessage(error)) }));
    return outcomeOf(probe.name, await Promise.race([measured, deadline]));
  } finally {
    clearTimeout(timer);
    runSignal.removeEventListener('abort', onAbort);
  }
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

async function readBodyPrefix(body: AsyncIterable<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    text += decoder.decode(chunk, { stream: true });
    if (bytes >= MAX_BODY_BYTES) break;
  }
  return text + decoder.decode();
}

function isTimeoutError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
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

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
