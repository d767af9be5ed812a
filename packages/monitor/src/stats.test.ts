import { describe, expect, it } from 'vitest';
import { check } from '../test/check.js';
import { latencyFigures, nearestRank, SummaryTracker } from './stats.js';

describe('nearestRank', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  it.each([
    [0.5, 50],
    [0.95, 95],
    [0.99, 99],
    [1, 100],
    [0.001, 1],
  ])('q=%d of 1..100 is %d', (q, value) => expect(nearestRank(hundred, q)).toBe(value));

  it('small lists: the smallest value with at least q of the list at or below it', () => {
    expect(nearestRank([10], 0.95)).toBe(10);
    expect(nearestRank([10, 20], 0.5)).toBe(10);
    expect(nearestRank([10, 20], 0.51)).toBe(20);
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 0.95)).toBe(1000);
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 0.9)).toBe(9);
    expect(nearestRank([], 0.5)).toBeNaN();
  });
});

describe('latencyFigures', () => {
  it('sorts, sums and picks p50/p95/p99/max', () => {
    expect(latencyFigures([5, 1, 4, 2, 3])).toEqual({ count: 5, sumMs: 15, p50: 3, p95: 5, p99: 5, max: 5 });
    expect(latencyFigures([])).toBeNull();
  });
});

describe('SummaryTracker', () => {
  it('counts checks, failures, runs of failures, skipped slots, per-probe figures and peak memory', () => {
    const tracker = new SummaryTracker(['api', 'mem']);
    const mib = 1024 * 1024;
    tracker.record(
      check(1, 'pass', { api: { status: 200, latencyMs: 10 }, mem: { memoryBytes: 100 * mib, cpuPercent: 5 } }),
    );
    tracker.record(
      check(2, 'fail', { api: { status: 503, latencyMs: 2 }, mem: { verdict: 'pass', memoryBytes: 150 * mib } }),
    );
    tracker.record(
      check(3, 'fail', {
        api: { error: 'ECONNREFUSED' },
        mem: { verdict: 'pass', memoryBytes: 120 * mib, cpuPercent: 40 },
      }),
    );
    tracker.record({ ...check(4, 'pass', { api: { status: 200, latencyMs: 30 } }), skippedSlots: 2 });
    const summary = tracker.summary({ outcome: 'passed', reason: 'ok', startedAt: 0, endedAt: 90_000 });
    expect(summary).toMatchObject({
      checks: 4,
      failures: 2,
      skippedSlots: 2,
      consecutiveFailures: 0,
      maxConsecutiveFailures: 2,
      latencyMs: { count: 3, p50: 10, p95: 30, max: 30 },
      peakMemoryBytes: 150 * mib,
      durationMs: 90_000,
      startedAt: '1970-01-01T00:00:00.000Z',
    });
    expect(summary.probes).toEqual([
      {
        probe: 'api',
        checks: 4,
        failures: 2,
        latencyMs: { count: 3, sumMs: 42, p50: 10, p95: 30, p99: 30, max: 30 },
        peakMemoryBytes: null,
        lastMemoryBytes: null,
        peakCpuPercent: null,
      },
      {
        probe: 'mem',
        checks: 3,
        failures: 0,
        latencyMs: null,
        peakMemoryBytes: 150 * mib,
        lastMemoryBytes: 120 * mib,
        peakCpuPercent: 40,
      },
    ]);
  });

  it('gives the same latency figures as sorting every response time, check after check', () => {
    const tracker = new SummaryTracker(['api']);
    const seen: number[] = [];
    let seed = 7;
    for (let i = 1; i <= 300; i++) {
      seed = (seed * 16807) % 2147483647;
      const latencyMs = Math.round((seed % 5000) / 10) / 10;
      seen.push(latencyMs);
      tracker.record(check(i, 'pass', { api: { status: 200, latencyMs } }));
      expect(tracker.probeSummaries()[0]!.latencyMs).toEqual(latencyFigures(seen));
    }
    const summary = tracker.summary({ outcome: 'passed', reason: 'ok', startedAt: 0, endedAt: 1 });
    expect(summary.latencyMs).toEqual(latencyFigures(seen));
  });

  it('adds up the memory of several probes within one check for the peak', () => {
    const tracker = new SummaryTracker();
    tracker.record(check(1, 'pass', { a: { memoryBytes: 100 }, b: { memoryBytes: 50 } }));
    tracker.record(check(2, 'pass', { a: { memoryBytes: 120 }, b: { memoryBytes: 10 } }));
    expect(tracker.peakMemoryBytes).toBe(150);
  });
});
