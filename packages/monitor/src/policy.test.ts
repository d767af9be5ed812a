import { RelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import { check } from '../test/check.js';
import { definePolicy, type PolicyOptions } from './index.js';
import type { Breach, MonitorCheck } from './types.js';

/** Feeds checks in order; returns the first breach and the index of the check that fired it. */
function run(options: PolicyOptions, checks: MonitorCheck[]): { breach: Breach | undefined; at: number } {
  const evaluate = definePolicy(options).start();
  for (const [index, c] of checks.entries()) {
    const breach = evaluate(c);
    if (breach) return { breach, at: index + 1 };
  }
  return { breach: undefined, at: -1 };
}

/** `'PPFFF'` -> checks 1..5 with api 200 or 503. */
function verdicts(pattern: string): MonitorCheck[] {
  return [...pattern].map((v, i) =>
    v === 'F'
      ? check(i + 1, 'fail', { api: { status: 503, latencyMs: 4 } })
      : check(i + 1, 'pass', { api: { status: 200, latencyMs: 4 } }),
  );
}

function badInput(fn: () => unknown): RelError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('BAD_INPUT');
    expect((error as RelError).message).not.toContain('\n');
    return error as RelError;
  }
  throw new Error('expected BAD_INPUT');
}

describe('consecutive failures (K)', () => {
  it('defaults to the seed: fires on the 3rd failed check in a row, naming each', () => {
    const { breach, at } = run({}, verdicts('PPFFF'));
    expect(at).toBe(5);
    expect(breach).toMatchObject({ rule: 'consecutive-failures', seq: 5, time: '2025-11-08T12:02:00.000Z' });
    expect(breach?.message).toBe(
      '3 consecutive failed checks: api 503 at 12:01:00Z, api 503 at 12:01:30Z, api 503 at 12:02:00Z',
    );
    expect(breach?.data).toMatchObject({ consecutive: 3 });
    expect(breach?.data.checks).toHaveLength(3);
  });

  it('a pass resets the count', () => {
    expect(run({}, verdicts('FFPFFPFFP')).breach).toBeUndefined();
    expect(run({}, verdicts('FFPFFPFFF')).at).toBe(9);
  });

  it('K = 1 fires on the first failure; K = 5 needs five', () => {
    expect(run({ consecutiveFailures: 1 }, verdicts('PPF')).at).toBe(3);
    expect(run({ consecutiveFailures: 1 }, verdicts('PPF')).breach?.message).toMatch(/^1 consecutive failed check: /);
    expect(run({ consecutiveFailures: 5 }, verdicts('FFFFPFFFFF')).at).toBe(10);
  });

  it('describes timeouts, refused connections and several failed probes of one check', () => {
    const checks = [
      check(1, 'fail', { api: { error: 'timeout after 2000ms' }, client: { verdict: 'pass', status: 200 } }),
      check(2, 'fail', { api: { error: 'ECONNREFUSED' }, client: { error: 'ECONNREFUSED' } }),
      check(3, 'fail', { api: { status: 200, error: 'body does not match "ok"' } }),
    ];
    expect(run({}, checks).breach?.message).toBe(
      '3 consecutive failed checks: api timeout after 2000ms at 12:00:00Z, api ECONNREFUSED and client ECONNREFUSED at 12:00:30Z, api 200 body does not match "ok" at 12:01:00Z',
    );
  });
});

describe('failures in window (N of M)', () => {
  it('flapping does not make 3 in a row but makes 3 of the last 5', () => {
    expect(run({}, verdicts('FPFPFPFPFP')).breach).toBeUndefined();
    const { breach, at } = run({ failuresInWindow: { failures: 3, window: 5 } }, verdicts('FPFPFPFP'));
    expect(at).toBe(5);
    expect(breach?.rule).toBe('failures-in-window');
    expect(breach?.message).toMatch(/^3 of the last 5 checks failed \(limit 3 of 5\): api 503 at 12:00:00Z, /);
  });

  it('old failures leave the window', () => {
    // F P P P F P P P F: never more than 2 failures within any 5 checks.
    expect(run({ failuresInWindow: { failures: 3, window: 5 } }, verdicts('FPPPFPPPFPPP')).breach).toBeUndefined();
    expect(run({ failuresInWindow: { failures: 2, window: 5 } }, verdicts('FPPPFPPP')).at).toBe(5);
    expect(run({ failuresInWindow: { failures: 2, window: 4 } }, verdicts('FPPPFPPP')).breach).toBeUndefined();
  });

  it('consecutive failures still fire first when both would', () => {
    expect(run({ failuresInWindow: { failures: 3, window: 3 } }, verdicts('FFF')).breach?.rule).toBe(
      'consecutive-failures',
    );
  });
});

describe('latency (p95 of the last W responses)', () => {
  const latencies = (values: number[], probe = 'api') =>
    values.map((ms, i) => check(i + 1, 'pass', { [probe]: { status: 200, latencyMs: ms } }));

  it('waits for a full window, then fires when the quantile is above the threshold', () => {
    const options = { latency: { thresholdMs: 100, window: 5 } };
    expect(run(options, latencies([900, 900, 900, 900])).breach).toBeUndefined();
    const { breach, at } = run(options, latencies([900, 900, 900, 900, 900]));
    expect(at).toBe(5);
    expect(breach?.rule).toBe('latency');
    expect(breach?.message).toBe(
      'p95 latency of api over the last 5 responses is 900ms, above 100ms (12:00:00Z to 12:02:00Z)',
    );
    expect(breach?.data).toMatchObject({ probe: 'api', valueMs: 900, thresholdMs: 100, window: 5 });
  });

  it('one slow response in 20 is not the p95; two are', () => {
    const options = { latency: { thresholdMs: 100, window: 20 } };
    const fast = Array.from({ length: 19 }, () => 10);
    expect(run(options, latencies([...fast, 500])).breach).toBeUndefined();
    expect(run(options, latencies([...fast.slice(1), 500, 500])).breach?.rule).toBe('latency');
  });

  it('slides: old slow responses leave the window', () => {
    const options = { latency: { thresholdMs: 100, window: 3, quantile: 0.5 } };
    expect(run(options, latencies([500, 10, 500, 10, 10, 10])).at).toBe(3);
    expect(run(options, latencies([500, 10, 10, 500, 10, 10])).breach).toBeUndefined();
  });

  it('keeps a window per probe and ignores failures without a response', () => {
    const options = { latency: { thresholdMs: 100, window: 3 } };
    const checks = [
      check(1, 'pass', { api: { status: 200, latencyMs: 500 }, client: { status: 200, latencyMs: 5 } }),
      check(2, 'fail', {
        api: { error: 'timeout after 2000ms' },
        client: { verdict: 'pass', status: 200, latencyMs: 5 },
      }),
      check(3, 'pass', { api: { status: 200, latencyMs: 500 }, client: { status: 200, latencyMs: 5 } }),
      check(4, 'pass', { api: { status: 200, latencyMs: 500 }, client: { status: 200, latencyMs: 5 } }),
    ];
    const { breach, at } = run(options, checks);
    expect(at).toBe(4);
    expect(breach?.data).toMatchObject({ probe: 'api', latenciesMs: [500, 500, 500] });
  });
});

describe('memory', () => {
  const mib = 1024 * 1024;
  const samples = (values: number[]) =>
    values.map((m, i) => check(i + 1, 'pass', { 'green-containers': { memoryBytes: m * mib } }));

  it('fires when a sample is above the limit', () => {
    const { breach, at } = run({ memory: { limitBytes: 200 * mib } }, samples([100, 150, 250, 100]));
    expect(at).toBe(3);
    expect(breach?.rule).toBe('memory-limit');
    expect(breach?.message).toBe('memory of green-containers above 200.0 MiB: 250.0 MiB at 12:01:00Z');
  });

  it('with consecutive, needs that many samples above the limit in a row', () => {
    const options = { memory: { limitBytes: 200 * mib, consecutive: 2 } };
    expect(run(options, samples([250, 100, 250, 100])).breach).toBeUndefined();
    expect(run(options, samples([250, 100, 250, 260])).at).toBe(4);
  });

  it('fires when the peak grows more than the share over the first sample', () => {
    const options = { memory: { maxGrowth: 0.5 } };
    expect(run(options, samples([100, 120, 150, 140])).breach).toBeUndefined();
    const { breach, at } = run(options, samples([100, 120, 151]));
    expect(at).toBe(3);
    expect(breach?.rule).toBe('memory-growth');
    expect(breach?.message).toBe(
      'memory of green-containers grew 51% over the run, above 50%: 100.0 MiB at 12:00:00Z, 151.0 MiB at 12:01:00Z',
    );
  });

  it('a check whose memory could not be measured is a failed check, not a sample', () => {
    const checks = [
      check(1, 'pass', { m: { memoryBytes: 100 * mib } }),
      check(2, 'fail', { m: { error: 'memory could not be measured (got undefined)' } }),
      check(3, 'fail', { m: { error: 'timeout after 10000ms' } }),
      check(4, 'fail', { m: { error: 'docker: no such container' } }),
    ];
    const { breach, at } = run({ memory: { limitBytes: 50 * mib } }, checks);
    expect(at).toBe(1);
    expect(breach?.rule).toBe('memory-limit');
    expect(run({ memory: { maxGrowth: 0.1 } }, checks).breach?.rule).toBe('consecutive-failures');
  });
});

describe('definePolicy', () => {
  it('describes its rules in one line', () => {
    expect(definePolicy().description).toBe('3 consecutive failed checks');
    expect(
      definePolicy({
        consecutiveFailures: 2,
        failuresInWindow: { failures: 3, window: 10 },
        latency: { thresholdMs: 800 },
        memory: { limitBytes: 512 * 1024 * 1024, maxGrowth: 0.5 },
      }).description,
    ).toBe(
      '2 consecutive failed checks, or 3 failed of the last 10 checks, or p95 latency of the last 10 responses above 800ms, or memory above 512.0 MiB, or memory growth above 50% of the first sample',
    );
  });

  it('each run starts fresh', () => {
    const policy = definePolicy({ consecutiveFailures: 2 });
    const first = policy.start();
    expect(first(check(1, 'fail'))).toBeUndefined();
    const second = policy.start();
    expect(second(check(1, 'fail'))).toBeUndefined();
    expect(first(check(2, 'fail'))?.rule).toBe('consecutive-failures');
  });

  it.each([
    [{ consecutiveFailures: 0 }, 'invalid policy.consecutiveFailures 0: expected an integer >= 1'],
    [{ consecutiveFailures: 1.5 }, 'invalid policy.consecutiveFailures 1.5'],
    [{ consecutiveFailures: Number.NaN }, 'invalid policy.consecutiveFailures NaN'],
    [{ failuresInWindow: { failures: 0, window: 5 } }, 'invalid policy.failuresInWindow.failures 0'],
    [{ failuresInWindow: { failures: 3, window: 0 } }, 'invalid policy.failuresInWindow.window 0'],
    [
      { failuresInWindow: { failures: 6, window: 5 } },
      'invalid policy.failuresInWindow.failures 6: must not exceed policy.failuresInWindow.window (5)',
    ],
    [{ latency: { thresholdMs: 0 } }, 'invalid policy.latency.thresholdMs 0: expected a number greater than 0'],
    [{ latency: { thresholdMs: 100, window: 0 } }, 'invalid policy.latency.window 0'],
    [{ latency: { thresholdMs: 100, quantile: 1.5 } }, 'invalid policy.latency.quantile 1.5'],
    [{ latency: { thresholdMs: 100, quantile: 0 } }, 'invalid policy.latency.quantile 0'],
    [{ memory: {} }, 'invalid policy.memory {}: expected limitBytes, maxGrowth or both'],
    [{ memory: { limitBytes: -1 } }, 'invalid policy.memory.limitBytes -1'],
    [{ memory: { maxGrowth: 0 } }, 'invalid policy.memory.maxGrowth 0'],
    [{ memory: { limitBytes: 10, consecutive: 0 } }, 'invalid policy.memory.consecutive 0'],
  ] as [PolicyOptions, string][])('refuses %j', (options, message) => {
    expect(badInput(() => definePolicy(options)).message).toContain(message);
  });
});
