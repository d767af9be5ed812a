import { formatDuration } from '@rel/core';
import { nearestRank } from './stats.js';
import type { Breach, MonitorCheck, MonitorPolicy, PolicyEvaluator, ProbeOutcome } from './types.js';
import { badInput, integerAtLeast, positiveNumber } from './validate.js';

/** The seed's rule: 3 failed checks in a row. */
export const DEFAULT_CONSECUTIVE_FAILURES = 3;

/** Options of `definePolicy`. Only `consecutiveFailures` is on by default. */
export interface PolicyOptions {
  /** K: fires after this many failed checks in a row. Default 3. */
  consecutiveFailures?: number;
  /** N of M: fires when at least `failures` of the last `window` checks failed. Default: off. */
  failuresInWindow?: { failures: number; window: number };
  /**
   * Fires when, for a probe, the `quantile` of its last `window` response times is above `thresholdMs`.
   * Needs `window` responses first; failed requests without a response are left to the failure rules.
   * Default: off.
   */
  latency?: {
    thresholdMs: number;
    /** W, last responses per probe. Default 10. */
    window?: number;
    /** Default 0.95. */
    quantile?: number;
  };
  /** Memory of each probe that reports memory (resource probes). Default: off. */
  memory?: {
    /** Fires when a probe's memory is above this many bytes ... */
    limitBytes?: number;
    /** ... in this many checks in a row. Default 1. */
    consecutive?: number;
    /** Fires when a probe's peak memory exceeds its first sample by more than this share (0.5 = 50%). */
    maxGrowth?: number;
  };
}

interface ResolvedPolicy {
  consecutiveFailures: number;
  failuresInWindow?: { failures: number; window: number };
  latency?: { thresholdMs: number; window: number; quantile: number };
  memory?: { limitBytes?: number; consecutive: number; maxGrowth?: number };
}

/**
 * Builds a policy from options; each bad option is a BAD_INPUT naming it and its value. Rules are checked
 * in this order after every check and the first that fires is the breach: consecutive failures, failures
 * in window, latency, memory limit, memory growth.
 */
export function definePolicy(options: PolicyOptions = {}): MonitorPolicy {
  const policy = resolvePolicy(options);
  return { description: describePolicy(policy), start: () => startEvaluator(policy) };
}

function resolvePolicy(options: PolicyOptions): ResolvedPolicy {
  if (typeof options !== 'object' || options === null) badInput('policy', options, 'expected an object');
  const resolved: ResolvedPolicy = {
    consecutiveFailures: integerAtLeast(
      'policy.consecutiveFailures',
      options.consecutiveFailures ?? DEFAULT_CONSECUTIVE_FAILURES,
      1,
    ),
  };
  if (options.failuresInWindow !== undefined) {
    const { failures, window } = options.failuresInWindow;
    integerAtLeast('policy.failuresInWindow.failures', failures, 1);
    integerAtLeast('policy.failuresInWindow.window', window, 1);
    if (failures > window) {
      badInput(
        'policy.failuresInWindow.failures',
        failures,
        `must not exceed policy.failuresInWindow.window (${window})`,
      );
    }
    resolved.failuresInWindow = { failures, window };
  }
  if (options.latency !== undefined) {
    const thresholdMs = positiveNumber('policy.latency.thresholdMs', options.latency.thresholdMs);
    const window = integerAtLeast('policy.latency.window', options.latency.window ?? 10, 1);
    const quantile = options.latency.quantile ?? 0.95;
    if (typeof quantile !== 'number' || !(quantile > 0 && quantile <= 1)) {
      badInput('policy.latency.quantile', quantile, 'expected a number in (0, 1], e.g. 0.95');
    }
    resolved.latency = { thresholdMs, window, quantile };
  }
  if (options.memory !== undefined) {
    const { limitBytes, maxGrowth } = options.memory;
    if (limitBytes === undefined && maxGrowth === undefined) {
      badInput('policy.memory', options.memory, 'expected limitBytes, maxGrowth or both');
    }
    resolved.memory = { consecutive: integerAtLeast('policy.memory.consecutive', options.memory.consecutive ?? 1, 1) };
    if (limitBytes !== undefined) resolved.memory.limitBytes = positiveNumber('policy.memory.limitBytes', limitBytes);
    if (maxGrowth !== undefined) resolved.memory.maxGrowth = positiveNumber('policy.memory.maxGrowth', maxGrowth);
  }
  return resolved;
}

function describePolicy(policy: ResolvedPolicy): string {
  const rules = [`${policy.consecutiveFailures} consecutive failed checks`];
  if (policy.failuresInWindow) {
    rules.push(`${policy.failuresInWindow.failures} failed of the last ${policy.failuresInWindow.window} checks`);
  }
  if (policy.latency) {
    const { quantile, window, thresholdMs } = policy.latency;
    rules.push(`${quantileName(quantile)} latency of the last ${window} responses above ${formatMs(thresholdMs)}`);
  }
  if (policy.memory?.limitBytes !== undefined) {
    const times = policy.memory.consecutive === 1 ? '' : ` in ${policy.memory.consecutive} checks in a row`;
    rules.push(`memory above ${formatBytes(policy.memory.limitBytes)}${times}`);
  }
  if (policy.memory?.maxGrowth !== undefined) {
    rules.push(`memory growth above ${formatPercent(policy.memory.maxGrowth)} of the first sample`);
  }
  return rules.join(', or ');
}

interface MemoryTrack {
  first: { bytes: number; seq: number; time: string };
  peak: { bytes: number; seq: number; time: string };
  overLimit: { bytes: number; seq: number; time: string }[];
}

function startEvaluator(policy: ResolvedPolicy): PolicyEvaluator {
  // Bounded state: the failed run, the last M verdicts, the last W latencies and first/peak memory per probe.
  let failedRun: MonitorCheck[] = [];
  const recent: MonitorCheck[] = [];
  const latencies = new Map<string, { ms: number; seq: number; time: string }[]>();
  const memory = new Map<string, MemoryTrack>();

  return (check) => {
    if (check.verdict === 'fail') {
      failedRun.push(check);
      if (failedRun.length > policy.consecutiveFailures) failedRun.shift();
    } else {
      failedRun = [];
    }
    if (policy.failuresInWindow) {
      recent.push(check);
      if (recent.length > policy.failuresInWindow.window) recent.shift();
    }
    for (const outcome of check.probes) {
      if (policy.latency && outcome.latencyMs !== undefined) {
        const list = latencies.get(outcome.probe) ?? [];
        list.push({ ms: outcome.latencyMs, seq: check.seq, time: check.time });
        if (list.length > policy.latency.window) list.shift();
        latencies.set(outcome.probe, list);
      }
      if (policy.memory && outcome.memoryBytes !== undefined) trackMemory(memory, outcome, check, policy);
    }
    const breach = (rule: Breach['rule'], message: string, data: Record<string, unknown>): Breach => ({
      rule,
      message,
      seq: check.seq,
      time: check.time,
      data,
    });

    // K in a row: the run holds only the last K failed checks, so a full run means K in a row.
    if (check.verdict === 'fail' && failedRun.length >= policy.consecutiveFailures) {
      const k = policy.consecutiveFailures;
      return breach(
        'consecutive-failures',
        `${k} consecutive failed check${k === 1 ? '' : 's'}: ${listFailures(failedRun)}`,
        { consecutive: k, checks: failedRun.map(failureData) },
      );
    }
    if (policy.failuresInWindow && check.verdict === 'fail') {
      const { failures, window } = policy.failuresInWindow;
      const failed = recent.filter((c) => c.verdict === 'fail');
      if (failed.length >= failures) {
        return breach(
          'failures-in-window',
          `${failed.length} of the last ${recent.length} checks failed (limit ${failures} of ${window}): ${listFailures(failed)}`,
          { failures: failed.length, window, limit: failures, checks: failed.map(failureData) },
        );
      }
    }
    if (policy.latency) {
      const { window, quantile, thresholdMs } = policy.latency;
      for (const outcome of check.probes) {
        const list = latencies.get(outcome.probe);
        if (outcome.latencyMs === undefined || !list || list.length < window) continue;
        const value = nearestRank(
          list.map((entry) => entry.ms).sort((a, b) => a - b),
          quantile,
        );
        if (value > thresholdMs) {
          return breach(
            'latency',
            `${quantileName(quantile)} latency of ${outcome.probe} over the last ${window} responses is ${formatMs(value)}, above ${formatMs(thresholdMs)} (${clock(list[0]!.time)} to ${clock(check.time)})`,
            { probe: outcome.probe, quantile, valueMs: value, thresholdMs, window, latenciesMs: list.map((e) => e.ms) },
          );
        }
      }
    }
    if (policy.memory) {
      const { limitBytes, consecutive, maxGrowth } = policy.memory;
      for (const outcome of check.probes) {
        const track = outcome.memoryBytes === undefined ? undefined : memory.get(outcome.probe);
        if (!track) continue;
        if (limitBytes !== undefined && track.overLimit.length >= consecutive) {
          const samples = track.overLimit;
          const where = samples.map((s) => `${formatBytes(s.bytes)} at ${clock(s.time)}`).join(', ');
          return breach(
            'memory-limit',
            `memory of ${outcome.probe} above ${formatBytes(limitBytes)}${consecutive === 1 ? '' : ` in ${consecutive} checks in a row`}: ${where}`,
            { probe: outcome.probe, limitBytes, samples: [...samples] },
          );
        }
      }
      for (const outcome of check.probes) {
        const track = outcome.memoryBytes === undefined ? undefined : memory.get(outcome.probe);
        if (!track || maxGrowth === undefined || track.first.bytes <= 0) continue;
        const growth = track.peak.bytes / track.first.bytes - 1;
        if (growth > maxGrowth) {
          return breach(
            'memory-growth',
            `memory of ${outcome.probe} grew ${formatPercent(growth)} over the run, above ${formatPercent(maxGrowth)}: ${formatBytes(track.first.bytes)} at ${clock(track.first.time)}, ${formatBytes(track.peak.bytes)} at ${clock(track.peak.time)}`,
            { probe: outcome.probe, maxGrowth, growth, first: track.first, peak: track.peak },
          );
        }
      }
    }
    return undefined;
  };
}

function trackMemory(
  memory: Map<string, MemoryTrack>,
  outcome: ProbeOutcome,
  check: MonitorCheck,
  policy: ResolvedPolicy,
): void {
  const sample = { bytes: outcome.memoryBytes!, seq: check.seq, time: check.time };
  const track = memory.get(outcome.probe);
  if (!track) {
    memory.set(outcome.probe, { first: sample, peak: sample, overLimit: overLimit([], sample, policy) });
    return;
  }
  if (sample.bytes > track.peak.bytes) track.peak = sample;
  track.overLimit = overLimit(track.overLimit, sample, policy);
}

function overLimit(
  run: MemoryTrack['overLimit'],
  sample: MemoryTrack['first'],
  policy: ResolvedPolicy,
): MemoryTrack['overLimit'] {
  const limit = policy.memory?.limitBytes;
  if (limit === undefined || sample.bytes <= limit) return [];
  return [...run, sample].slice(-(policy.memory?.consecutive ?? 1));
}

function failureData(check: MonitorCheck): Record<string, unknown> {
  return {
    seq: check.seq,
    time: check.time,
    failed: check.probes
      .filter((p) => p.verdict === 'fail')
      .map((p) => ({ probe: p.probe, ...(p.status === undefined ? {} : { status: p.status }), error: p.error })),
  };
}

const MAX_LISTED = 10;

/** `api 503 at 12:00:01Z, api timeout after 2000ms at 12:00:31Z` (at most 10, then "and 4 more"). */
export function listFailures(checks: readonly MonitorCheck[]): string {
  const listed = checks.slice(0, MAX_LISTED).map((check) => {
    const failed = check.probes.filter((p) => p.verdict === 'fail').map(describeFailure);
    return `${failed.join(' and ') || 'check failed'} at ${clock(check.time)}`;
  });
  if (checks.length > MAX_LISTED) listed.push(`and ${checks.length - MAX_LISTED} more`);
  return listed.join(', ');
}

/** `api 503`, `api timeout after 2000ms`, `api 200 body does not match "ok"`. */
export function describeFailure(outcome: ProbeOutcome): string {
  if (outcome.status === undefined) return `${outcome.probe} ${outcome.error ?? 'failed'}`;
  if (outcome.error?.startsWith('status ')) return `${outcome.probe} ${outcome.status}`;
  return `${outcome.probe} ${outcome.status} ${outcome.error ?? 'failed'}`;
}

/** `12:00:01Z` from an ISO time. */
export function clock(iso: string): string {
  return iso.length >= 19 ? `${iso.slice(11, 19)}Z` : iso;
}

function quantileName(quantile: number): string {
  return `p${Math.round(quantile * 1000) / 10}`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms * 10) / 10}ms` : formatDuration(ms);
}

function formatPercent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/** `512.0 MiB` */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
