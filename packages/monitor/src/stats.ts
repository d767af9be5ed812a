import type { LatencyFigures, MonitorCheck, MonitorOutcome, MonitorSummary, ProbeSummary } from './types.js';

/** Nearest-rank quantile of an ascending list: the smallest value with at least `q` of the list at or below it. */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** p50/p95/p99/max (nearest rank) of response times; `null` for none. */
export function latencyFigures(values: readonly number[]): LatencyFigures | null {
  if (values.length === 0) return null;
  return figuresOfSorted([...values].sort((a, b) => a - b));
}

/** `latencyFigures` of a list already in ascending order (not copied). */
function figuresOfSorted(sorted: readonly number[]): LatencyFigures | null {
  if (sorted.length === 0) return null;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    sumMs: Math.round(sum * 10) / 10,
    p50: nearestRank(sorted, 0.5),
    p95: nearestRank(sorted, 0.95),
    p99: nearestRank(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
  };
}

/** Puts `value` into the ascending list `sorted` (binary search, then one insert). */
function insertSorted(sorted: number[], value: number): void {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  if (low === sorted.length) sorted.push(value);
  else sorted.splice(low, 0, value);
}

interface ProbeTotals {
  checks: number;
  failures: number;
  /** Response times in ascending order, kept sorted as they come: the figures after every check sort nothing. */
  latencies: number[];
  peakMemoryBytes: number | null;
  lastMemoryBytes: number | null;
  peakCpuPercent: number | null;
}

/** Running totals of a run; `summary()` at any point. Keeps response times only (8 bytes each). */
export class SummaryTracker {
  checks = 0;
  failures = 0;
  skippedSlots = 0;
  consecutiveFailures = 0;
  maxConsecutiveFailures = 0;
  peakMemoryBytes: number | null = null;
  lastCheck: MonitorCheck | undefined;
  readonly probes = new Map<string, ProbeTotals>();

  constructor(probeNames: readonly string[] = []) {
    for (const name of probeNames) this.probe(name);
  }

  record(check: MonitorCheck): void {
    this.checks += 1;
    this.skippedSlots += check.skippedSlots;
    this.lastCheck = check;
    if (check.verdict === 'fail') {
      this.failures += 1;
      this.consecutiveFailures += 1;
      this.maxConsecutiveFailures = Math.max(this.maxConsecutiveFailures, this.consecutiveFailures);
    } else {
      this.consecutiveFailures = 0;
    }
    let memory: number | null = null;
    for (const outcome of check.probes) {
      const totals = this.probe(outcome.probe);
      totals.checks += 1;
      if (outcome.verdict === 'fail') totals.failures += 1;
      if (outcome.latencyMs !== undefined) insertSorted(totals.latencies, outcome.latencyMs);
      if (outcome.memoryBytes !== undefined) {
        totals.lastMemoryBytes = outcome.memoryBytes;
        totals.peakMemoryBytes = Math.max(totals.peakMemoryBytes ?? 0, outcome.memoryBytes);
        memory = (memory ?? 0) + outcome.memoryBytes;
      }
      if (outcome.cpuPercent !== undefined) {
        totals.peakCpuPercent = Math.max(totals.peakCpuPercent ?? 0, outcome.cpuPercent);
      }
    }
    if (memory !== null) this.peakMemoryBytes = Math.max(this.peakMemoryBytes ?? 0, memory);
  }

  probeSummaries(): ProbeSummary[] {
    return [...this.probes.entries()].map(([probe, totals]) => ({
      probe,
      checks: totals.checks,
      failures: totals.failures,
      latencyMs: figuresOfSorted(totals.latencies),
      peakMemoryBytes: totals.peakMemoryBytes,
      lastMemoryBytes: totals.lastMemoryBytes,
      peakCpuPercent: totals.peakCpuPercent,
    }));
  }

  summary(fields: { outcome: MonitorOutcome; reason: string; startedAt: number; endedAt: number }): MonitorSummary {
    const all: number[] = [];
    for (const totals of this.probes.values()) {
      for (const value of totals.latencies) all.push(value);
    }
    return {
      outcome: fields.outcome,
      reason: fields.reason,
      startedAt: new Date(fields.startedAt).toISOString(),
      endedAt: new Date(fields.endedAt).toISOString(),
      durationMs: fields.endedAt - fields.startedAt,
      checks: this.checks,
      failures: this.failures,
      skippedSlots: this.skippedSlots,
      consecutiveFailures: this.consecutiveFailures,
      maxConsecutiveFailures: this.maxConsecutiveFailures,
      latencyMs: latencyFigures(all),
      peakMemoryBytes: this.peakMemoryBytes,
      probes: this.probeSummaries(),
    };
  }

  private probe(name: string): ProbeTotals {
    let totals = this.probes.get(name);
    if (!totals) {
      totals = {
        checks: 0,
        failures: 0,
        latencies: [],
        peakMemoryBytes: null,
        lastMemoryBytes: null,
        peakCpuPercent: null,
      };
      this.probes.set(name, totals);
    }
    return totals;
  }
}
