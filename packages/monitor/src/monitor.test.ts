import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError, type RelEvent } from '@rel/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { httpProbe, type MonitorResult, type Probe, type ProbeSample, parseMonitorLog, runMonitor } from './index.js';
import { nextSlot } from './monitor.js';

/** A probe whose answers come from `answer(n)`, taking `durationMs(n)` of (fake) time. */
function fakeProbe(
  name: string,
  answer: (n: number) => ProbeSample | Error = () => ({ ok: true, status: 200, latencyMs: 3 }),
  durationMs: (n: number) => number = () => 3,
  timeoutMs = 1000,
): Probe & { calls: number[]; active: number; maxActive: number } {
  const probe = {
    name,
    kind: 'fake',
    timeoutMs,
    calls: [] as number[],
    active: 0,
    maxActive: 0,
    check: (signal: AbortSignal) => {
      const n = probe.calls.length;
      probe.calls.push(Date.now());
      probe.active += 1;
      probe.maxActive = Math.max(probe.maxActive, probe.active);
      return new Promise<ProbeSample>((resolve, reject) => {
        const timer = setTimeout(() => {
          probe.active -= 1;
          const result = answer(n);
          if (result instanceof Error) reject(result);
          else resolve(result);
        }, durationMs(n));
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          probe.active -= 1;
          resolve({ ok: false, error: 'aborted' });
        });
      });
    },
  };
  return probe;
}

const T0 = Date.UTC(2025, 10, 8, 12, 0, 0);
let dir: string;

beforeEach(async () => {
  vi.useFakeTimers({ now: T0 });
  dir = await mkdtemp(join(tmpdir(), 'rel-monitor-unit-'));
});

afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the monitor under fake timers until it settles. */
async function settle<T>(promise: Promise<MonitorResult<T>>, maxMs = 3_600_000): Promise<MonitorResult<T>> {
  let done: MonitorResult<T> | undefined;
  let failed: unknown;
  promise.then(
    (value) => {
      done = value;
    },
    (error: unknown) => {
      failed = error;
    },
  );
  for (let elapsed = 0; elapsed < maxMs && done === undefined && failed === undefined; elapsed += 100) {
    await vi.advanceTimersByTimeAsync(100);
  }
  if (failed) throw failed;
  if (!done) throw new Error('the monitor did not finish');
  return done;
}

describe('nextSlot', () => {
  it('is the next slot when the check ended within its slot', () => {
    expect(nextSlot(0, 1000, 0, 20)).toEqual({ slot: 1, skipped: 0 });
    expect(nextSlot(0, 1000, 4, 4999)).toEqual({ slot: 5, skipped: 0 });
    expect(nextSlot(0, 1000, 4, 5000)).toEqual({ slot: 5, skipped: 0 });
  });
  it('skips the slots an overrunning check missed', () => {
    expect(nextSlot(0, 1000, 0, 1001)).toEqual({ slot: 2, skipped: 1 });
    expect(nextSlot(0, 1000, 3, 7500)).toEqual({ slot: 8, skipped: 4 });
    expect(nextSlot(500, 1000, 0, 2600)).toEqual({ slot: 3, skipped: 2 });
  });
});

describe('runMonitor scheduling', () => {
  it('runs on a fixed grid from the start, the last check at the duration, without drift', async () => {
    // Each check takes 370 ms; a sleep-after-check loop would drift by that much per check.
    const probe = fakeProbe('api', undefined, () => 370);
    const result = await settle(runMonitor({ probes: [probe], intervalMs: 1000, durationMs: 10_000 }));
    expect(result.outcome).toBe('passed');
    expect(probe.calls.map((t) => t - T0)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
    expect(result.summary).toMatchObject({ checks: 11, failures: 0, skippedSlots: 0 });
  });

  it('the seed: every 30 s for 600 s is 21 checks', async () => {
    const probe = fakeProbe('api');
    const result = await settle(runMonitor({ probes: [probe], durationMs: 600_000 }));
    expect(result.summary.checks).toBe(21);
    expect(probe.calls.at(-1)! - T0).toBe(600_000);
  });

  it('skips the slots a slow check overran instead of running checks back to back, never two at once', async () => {
    // Check 2 (slot 1) takes 2.5 intervals: slots 2 and 3 are skipped, the next check runs at slot 4.
    const api = fakeProbe('api', undefined, (n) => (n === 1 ? 2500 : 10), 5000);
    const client = fakeProbe('client', undefined, () => 10, 5000);
    const path = join(dir, 'monitor.jsonl');
    const result = await settle(
      runMonitor({ probes: [api, client], intervalMs: 1000, durationMs: 6000, log: { path } }),
    );
    expect(api.calls.map((t) => t - T0)).toEqual([0, 1000, 4000, 5000, 6000]);
    expect(api.maxActive).toBe(1);
    expect(client.maxActive).toBe(1);
    expect(result.summary.skippedSlots).toBe(2);
    const lines = parseMonitorLog(await readFile(path, 'utf8'));
    const checks = lines.filter((l) => l.type === 'check');
    expect(checks.map((c) => c.skippedSlots)).toEqual([0, 0, 2, 0, 0]);
  });

  it('runs every probe of a check concurrently and fails the check when any probe fails', async () => {
    const api = fakeProbe('api', undefined, () => 300);
    const client = fakeProbe(
      'client',
      (n) => (n === 1 ? { ok: false, status: 503, error: 'status 503, expected 2xx' } : { ok: true, status: 200 }),
      () => 300,
    );
    const result = await settle(runMonitor({ probes: [api, client], intervalMs: 1000, durationMs: 2000 }));
    expect(api.calls).toEqual(client.calls);
    expect(result.summary).toMatchObject({ checks: 3, failures: 1, maxConsecutiveFailures: 1 });
    expect(result.summary.probes.find((p) => p.probe === 'client')).toMatchObject({ checks: 3, failures: 1 });
    expect(result.summary.probes.find((p) => p.probe === 'api')).toMatchObject({ checks: 3, failures: 0 });
  });
});

describe('runMonitor verdicts', () => {
  it('a reporter that throws does not stop the run', async () => {
    const api = fakeProbe('api');
    const result = await settle(
      runMonitor({
        probes: [api],
        intervalMs: 1000,
        durationMs: 3000,
        onEvent: () => {
          throw new Error('broken reporter');
        },
      }),
    );
    expect(result).toMatchObject({ outcome: 'passed', summary: { checks: 4 } });
  });

  it('a probe that hangs past its timeout, throws, or returns no verdict fails; never passes', async () => {
    const hangs = { name: 'hangs', kind: 'fake', timeoutMs: 200, check: () => new Promise<ProbeSample>(() => {}) };
    const throws = fakeProbe('throws', () => new RelError('UNREACHABLE', 'docker is down'));
    const malformed = {
      name: 'malformed',
      kind: 'fake',
      timeoutMs: 200,
      check: async () => ({ ok: 'yes' }) as unknown as ProbeSample,
    };
    const nan = { name: 'nan', kind: 'fake', timeoutMs: 200, check: async () => ({ ok: true, latencyMs: Number.NaN }) };
    const path = join(dir, 'log.jsonl');
    const result = await settle(
      runMonitor({
        probes: [hangs, throws, malformed, nan],
        intervalMs: 1000,
        durationMs: 60_000,
        policy: { consecutiveFailures: 1 },
        log: { path },
      }),
    );
    expect(result.outcome).toBe('breached');
    const lines = parseMonitorLog(await readFile(path, 'utf8'));
    const first = lines.find((l) => l.type === 'check');
    expect(first?.type === 'check' && first.probes).toEqual([
      { probe: 'hangs', verdict: 'fail', error: 'timeout after 200ms' },
      { probe: 'throws', verdict: 'fail', error: 'docker is down' },
      { probe: 'malformed', verdict: 'fail', error: 'the probe returned no verdict' },
      { probe: 'nan', verdict: 'fail', error: 'latencyMs could not be measured (got NaN)' },
    ]);
    expect(first?.type === 'check' && first.durationMs).toBe(200);
  });

  it('each probe fails at its own timeout; a probe that answered in time is not aborted by a slower one with another timeout', async () => {
    const hang = (name: string, timeoutMs: number) => ({
      name,
      kind: 'fake',
      timeoutMs,
      aborted: [] as number[],
      check(signal: AbortSignal) {
        signal.addEventListener('abort', () => this.aborted.push(Date.now() - T0));
        return new Promise<ProbeSample>(() => {});
      },
    });
    const short = hang('short', 100);
    const long = hang('long', 300);
    const fast = fakeProbe('fast', undefined, () => 5, 200);
    let fastSignal: AbortSignal | undefined;
    const spied = {
      ...fast,
      check: (signal: AbortSignal) => {
        fastSignal = signal;
        return fast.check(signal);
      },
    };
    const path = join(dir, 'log.jsonl');
    const result = await settle(
      runMonitor({
        probes: [short, long, spied],
        intervalMs: 1000,
        durationMs: 500,
        log: { path },
      }),
    );
    expect(result.summary.checks).toBe(1);
    const check = parseMonitorLog(await readFile(path, 'utf8')).find((l) => l.type === 'check');
    expect(check?.type === 'check' && check.probes).toEqual([
      { probe: 'short', verdict: 'fail', error: 'timeout after 100ms' },
      { probe: 'long', verdict: 'fail', error: 'timeout after 300ms' },
      { probe: 'fast', verdict: 'pass', status: 200, latencyMs: 3 },
    ]);
    expect(check?.type === 'check' && check.durationMs).toBe(300);
    expect(short.aborted).toEqual([100]);
    expect(long.aborted).toEqual([300]);
    expect(fastSignal?.aborted).toBe(false);
  });
});

describe('runMonitor breach and action', () => {
  it('calls the action once on the K-th consecutive failure and stops; the result says what, why and when', async () => {
    const api = fakeProbe('api', (n) =>
      n < 2
        ? { ok: true, status: 200, latencyMs: 3 }
        : { ok: false, status: 503, latencyMs: 2, error: 'status 503, expected 2xx' },
    );
    const action = vi.fn(async () => ({ rolledBackTo: 'blue' }));
    const events: RelEvent[] = [];
    const path = join(dir, 'log.jsonl');
    const result = await settle(
      runMonitor({
        probes: [api],
        intervalMs: 1000,
        durationMs: 60_000,
        action,
        onEvent: (e) => events.push(e),
        log: { path },
      }),
    );
    expect(action).toHaveBeenCalledTimes(1);
    expect(api.calls.length).toBe(5);
    expect(result.outcome).toBe('breached');
    expect(result.breach).toMatchObject({ rule: 'consecutive-failures', seq: 5, time: '2025-11-08T12:00:04.000Z' });
    expect(result.breach?.message).toBe(
      '3 consecutive failed checks: api 503 at 12:00:02Z, api 503 at 12:00:03Z, api 503 at 12:00:04Z',
    );
    expect(result.action).toMatchObject({
      ok: true,
      result: { rolledBackTo: 'blue' },
      startedAt: '2025-11-08T12:00:04.003Z',
    });
    expect(result.reason).toBe(result.breach?.message);
    const [breach, context] = action.mock.calls[0] as unknown as [unknown, { summary: { checks: number } }];
    expect(breach).toEqual(result.breach);
    expect(context.summary.checks).toBe(5);
    const lines = parseMonitorLog(await readFile(path, 'utf8'));
    expect(lines.map((l) => l.type)).toEqual([
      'start',
      'check',
      'check',
      'check',
      'check',
      'check',
      'breach',
      'action',
      'summary',
    ]);
    expect(lines.at(-2)).toMatchObject({ type: 'action', ok: true, result: { rolledBackTo: 'blue' } });
    expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'breached', checks: 5, failures: 3 });
    const types = events.map((e) => `${e.type}:${'step' in e ? e.step : ''}`);
    expect(types).toContain('step:start:monitor:action');
    expect(types).toContain('step:finish:monitor:action');
    expect(types.at(-1)).toBe('step:finish:monitor');
  });

  it('reports an action that throws, and still stops', async () => {
    const api = fakeProbe('api', () => ({ ok: false, error: 'ECONNREFUSED' }));
    const path = join(dir, 'log.jsonl');
    const action = vi.fn(async () => {
      throw new RelError('STEP_FAILED', 'nginx -t failed');
    });
    const result = await settle(
      runMonitor({
        probes: [api],
        intervalMs: 1000,
        durationMs: 60_000,
        policy: { consecutiveFailures: 2 },
        action,
        log: { path },
      }),
    );
    expect(action).toHaveBeenCalledTimes(1);
    expect(api.calls.length).toBe(2);
    expect(result.outcome).toBe('breached');
    expect(result.action).toMatchObject({ ok: false, error: { code: 'STEP_FAILED', message: 'nginx -t failed' } });
    const lines = parseMonitorLog(await readFile(path, 'utf8'));
    expect(lines.at(-2)).toMatchObject({ type: 'action', ok: false, error: { code: 'STEP_FAILED' } });
  });

  it('without an action, a breach still ends the run', async () => {
    const api = fakeProbe('api', () => ({ ok: false, error: 'ECONNREFUSED' }));
    const result = await settle(runMonitor({ probes: [api], intervalMs: 1000, durationMs: 60_000 }));
    expect(result).toMatchObject({ outcome: 'breached' });
    expect(result.action).toBeUndefined();
  });

  it('accepts a custom policy object', async () => {
    const api = fakeProbe('api');
    const result = await settle(
      runMonitor({
        probes: [api],
        intervalMs: 1000,
        durationMs: 60_000,
        policy: {
          description: 'the 4th check',
          start: () => (c) =>
            c.seq === 4 ? { rule: 'fourth', message: 'fourth check', seq: c.seq, time: c.time, data: {} } : undefined,
        },
      }),
    );
    expect(result.breach?.rule).toBe('fourth');
    expect(api.calls.length).toBe(4);
  });
});

describe('runMonitor stop', () => {
  it('an abort while waiting stops at once: outcome stopped, complete log with a summary', async () => {
    const api = fakeProbe('api');
    const controller = new AbortController();
    const path = join(dir, 'log.jsonl');
    const promise = runMonitor({
      probes: [api],
      intervalMs: 1000,
      durationMs: 60_000,
      signal: controller.signal,
      log: { path },
    });
    await vi.advanceTimersByTimeAsync(3500);
    controller.abort('SIGINT');
    const result = await settle(promise, 10);
    expect(result.outcome).toBe('stopped');
    expect(result.reason).toBe('stopped (SIGINT) after 3.5s: 4 checks, 0 failed');
    const lines = parseMonitorLog(await readFile(path, 'utf8'));
    expect(lines.map((l) => l.type)).toEqual(['start', 'check', 'check', 'check', 'check', 'summary']);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'stopped', checks: 4 });
  });

  it('an abort during a check abandons that check and does not record it', async () => {
    const api = fakeProbe('api', undefined, () => 800);
    const controller = new AbortController();
    const promise = runMonitor({ probes: [api], intervalMs: 1000, durationMs: 60_000, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(2400);
    controller.abort();
    const result = await settle(promise, 10);
    expect(result.outcome).toBe('stopped');
    expect(result.summary.checks).toBe(2);
    expect(api.active).toBe(0);
  });

  it('an aborted signal before the start gives an empty stopped run', async () => {
    const api = fakeProbe('api');
    const result = await settle(runMonitor({ probes: [api], signal: AbortSignal.abort() }), 10);
    expect(result).toMatchObject({ outcome: 'stopped', summary: { checks: 0 } });
    expect(api.calls).toEqual([]);
  });
});

describe('runMonitor Prometheus textfile', () => {
  /** What the textfile said (its checks counter) each time the probe ran, i.e. after the checks before it. */
  async function textfileSeen(answers: (n: number) => ProbeSample, minIntervalMs?: number) {
    const path = join(dir, 'rel.prom');
    const seen: (number | null)[] = [];
    const counter = () => {
      const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
      const match = /^rel_monitor_checks_total (\d+)$/m.exec(text);
      return match ? Number(match[1]) : null;
    };
    const probe: Probe = {
      name: 'api',
      kind: 'fake',
      timeoutMs: 500,
      check: async () => {
        seen.push(counter());
        return answers(seen.length - 1);
      },
    };
    const prometheus = minIntervalMs === undefined ? { path } : { path, minIntervalMs };
    const result = await settle(runMonitor({ probes: [probe], intervalMs: 1000, durationMs: 10_000, prometheus }));
    return { seen, end: counter(), result };
  }

  it('is written after the first check, every failure and change of verdict, else every 5 s, and at the end', async () => {
    const { seen, end, result } = await textfileSeen((n) =>
      n === 6 || n === 7 ? { ok: false, error: 'status 500' } : { ok: true, status: 200, latencyMs: 2 },
    );
    expect(result.summary.checks).toBe(11);
    // written after checks 1 (first), 6 (5 s later), 7 and 8 (failed), 9 (passed again), not after 10 and 11
    expect(seen).toEqual([null, 1, 1, 1, 1, 1, 6, 7, 8, 9, 9]);
    expect(end).toBe(11);
  });

  it('minIntervalMs 0: after every check', async () => {
    const { seen, end } = await textfileSeen(() => ({ ok: true, status: 200, latencyMs: 2 }), 0);
    expect(seen).toEqual([null, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(end).toBe(11);
  });
});

describe('runMonitor validation', () => {
  const probe = fakeProbe('api');
  it.each([
    [{ probes: [probe], intervalMs: 0 }, 'invalid intervalMs 0: expected a number greater than 0'],
    [{ probes: [probe], intervalMs: -5 }, 'invalid intervalMs -5'],
    [{ probes: [probe], durationMs: Number.NaN }, 'invalid durationMs NaN'],
    [{ probes: [] }, 'invalid probes []: expected at least one probe'],
    [{ probes: [probe, probe] }, 'invalid probe name "api": already used by another probe'],
    [{ probes: [{ ...probe, timeoutMs: 0 }] }, 'invalid timeoutMs of probe api 0'],
    [{ probes: [probe], policy: { consecutiveFailures: 0 } }, 'invalid policy.consecutiveFailures 0'],
    [{ probes: [probe], action: 'rollback' }, 'invalid action "rollback": expected a function'],
    [{ probes: [probe], labels: { environment: 3 } }, 'invalid labels.environment 3: expected a string'],
    [
      { probes: [probe], prometheus: { path: '/tmp/x.prom', minIntervalMs: -1 } },
      'invalid prometheus.minIntervalMs -1: expected a number >= 0',
    ],
  ])('refuses %j with one BAD_INPUT line', async (options, message) => {
    const error = await runMonitor(options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('BAD_INPUT');
    expect((error as RelError).message).toContain(message);
    expect((error as RelError).message).not.toContain('\n');
  });

  it('a log path that cannot be opened is CONFIG, before any check', async () => {
    const api = fakeProbe('api');
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    const error = await runMonitor({ probes: [api], log: { path: join(file, 'log.jsonl') } }).catch((e: unknown) => e);
    expect((error as RelError).code).toBe('CONFIG');
    expect((error as RelError).message).toContain('cannot be opened for appending');
    expect(api.calls).toEqual([]);
  });

  it('httpProbe refuses bad options, never echoing secrets of the URL', () => {
    const refuse = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect((error as RelError).code).toBe('BAD_INPUT');
        return (error as RelError).message;
      }
      throw new Error('expected BAD_INPUT');
    };
    const message = refuse(() => httpProbe({ name: 'api', url: 'ftp://user:hunter2@host/x?token=s3cret' }));
    expect(message).toBe('invalid url of probe api "ftp://***@host/x?***": expected an http: or https: URL');
    expect(refuse(() => httpProbe({ name: 'api', url: 'not a url' }))).toContain('expected an http: or https: URL');
    expect(refuse(() => httpProbe({ name: '', url: 'http://x/' }))).toContain('invalid httpProbe name ""');
    expect(refuse(() => httpProbe({ name: 'api', url: 'http://x/', timeoutMs: 0 }))).toContain(
      'invalid timeoutMs of probe api 0',
    );
    expect(refuse(() => httpProbe({ name: 'api', url: 'http://x/', expectStatus: 700 }))).toContain(
      'invalid expectStatus of probe api 700',
    );
    expect(refuse(() => httpProbe({ name: 'api', url: 'http://x/', expectStatus: [] }))).toContain(
      'invalid expectStatus of probe api []',
    );
    expect(httpProbe({ name: 'api', url: 'https://u:p@example.com:8443/health?token=abc#frag' }).target).toBe(
      'GET https://***@example.com:8443/health?***',
    );
  });
});
