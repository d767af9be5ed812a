import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LatencyFigures, MonitorSummary } from './types.js';
import { badInput } from './validate.js';

/** The figures of a monitor for node_exporter's textfile collector. */
export interface PrometheusFigures {
  /** Labels on every series, e.g. `{ environment: 'green' }`. `probe` and `quantile` are taken. */
  labels?: Record<string, string>;
  checks: number;
  failures: number;
  consecutiveFailures: number;
  /** True when the last check passed. */
  up: boolean;
  /** Time of the last check, ms since the epoch; `null` before the first. */
  lastCheckAt: number | null;
  probes?: {
    probe: string;
    /** The probe passed in the last check. */
    up?: boolean;
    latencyMs?: LatencyFigures | null;
    /** Last sample. */
    memoryBytes?: number | null;
  }[];
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = new Set(['probe', 'quantile']);

/** The figures of a run so far (or its end): what `runMonitor` writes after every check. */
export function figuresOfSummary(
  summary: Pick<MonitorSummary, 'checks' | 'failures' | 'consecutiveFailures' | 'probes'>,
  last: { time: string; verdict: string; probes: { probe: string; verdict: string }[] } | undefined,
  labels?: Record<string, string>,
): PrometheusFigures {
  const lastVerdict = new Map(last?.probes.map((p) => [p.probe, p.verdict === 'pass']) ?? []);
  return {
    ...(labels ? { labels } : {}),
    checks: summary.checks,
    failures: summary.failures,
    consecutiveFailures: summary.consecutiveFailures,
    up: last?.verdict === 'pass',
    lastCheckAt: last ? Date.parse(last.time) : null,
    probes: summary.probes.map((probe) => ({
      probe: probe.probe,
      ...(lastVerdict.has(probe.probe) ? { up: lastVerdict.get(probe.probe)! } : {}),
      latencyMs: probe.latencyMs,
      memoryBytes: probe.lastMemoryBytes,
    })),
  };
}

/** The figures in Prometheus text exposition format (0.0.4), HELP and TYPE lines included. */
export function renderPrometheusText(figures: PrometheusFigures): string {
  const base = figures.labels ?? {};
  for (const [name, value] of Object.entries(base)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || RESERVED_LABELS.has(name)) {
      badInput('Prometheus label name', name, 'expected [a-zA-Z_][a-zA-Z0-9_]*, not __*, probe or quantile');
    }
    if (typeof value !== 'string') badInput(`Prometheus label ${name}`, value, 'expected a string');
  }
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    if (samples.length === 0) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${renderLabels({ ...base, ...labels })} ${number(value)}`);
  };
  const probes = figures.probes ?? [];
  metric('rel_monitor_checks_total', 'counter', 'Checks run (one check runs every probe once).', [
    [{}, figures.checks],
  ]);
  metric('rel_monitor_failures_total', 'counter', 'Checks that failed (any probe failed).', [[{}, figures.failures]]);
  metric('rel_monitor_consecutive_failures', 'gauge', 'Failed checks in a row, up to the last one.', [
    [{}, figures.consecutiveFailures],
  ]);
  metric('rel_monitor_up', 'gauge', '1 when the last check passed.', [[{}, figures.up ? 1 : 0]]);
  metric(
    'rel_monitor_last_check_timestamp_seconds',
    'gauge',
    'When the last check ran, seconds since the epoch.',
    figures.lastCheckAt === null ? [] : [[{}, figures.lastCheckAt / 1000]],
  );
  metric(
    'rel_monitor_probe_up',
    'gauge',
    '1 when the probe passed in the last check.',
    probes.filter((p) => p.up !== undefined).map((p) => [{ probe: p.probe }, p.up ? 1 : 0]),
  );
  const latency: [Record<string, string>, number][] = [];
  const latencySum: [Record<string, string>, number][] = [];
  const latencyCount: [Record<string, string>, number][] = [];
  for (const p of probes) {
    if (!p.latencyMs) continue;
    const figuresMs = p.latencyMs;
    for (const [quantile, value] of [
      ['0.5', figuresMs.p50],
      ['0.95', figuresMs.p95],
      ['0.99', figuresMs.p99],
    ] as const) {
      latency.push([{ probe: p.probe, quantile }, value / 1000]);
    }
    latencySum.push([{ probe: p.probe }, figuresMs.sumMs / 1000]);
    latencyCount.push([{ probe: p.probe }, figuresMs.count]);
  }
  if (latency.length > 0) {
    out.push(
      '# HELP rel_monitor_latency_seconds Response time of a probe over the run (nearest-rank quantiles).',
      '# TYPE rel_monitor_latency_seconds summary',
    );
    for (const [labels, value] of latency) {
      out.push(`rel_monitor_latency_seconds${renderLabels({ ...base, ...labels })} ${number(value)}`);
    }
    for (const [labels, value] of latencySum) {
      out.push(`rel_monitor_latency_seconds_sum${renderLabels({ ...base, ...labels })} ${number(value)}`);
    }
    for (const [labels, value] of latencyCount) {
      out.push(`rel_monitor_latency_seconds_count${renderLabels({ ...base, ...labels })} ${number(value)}`);
    }
  }
  metric(
    'rel_monitor_memory_bytes',
    'gauge',
    'Memory reported by a resource probe in its last sample.',
    probes.filter((p) => typeof p.memoryBytes === 'number').map((p) => [{ probe: p.probe }, p.memoryBytes!]),
  );
  return `${out.join('\n')}\n`;
}

/**
 * Writes the figures atomically (temp file in the same directory, then rename), so node_exporter's textfile
 * collector never reads half a file. The temp name does not end in `.prom`, so it is never collected. No fsync:
 * the file is rewritten after every check. Synchronous calls inside: a few KiB to the page cache take
 * microseconds, while four thread-pool round trips per check cost a millisecond of CPU.
 */
export async function writePrometheusTextfile(path: string, figures: PrometheusFigures): Promise<void> {
  const text = renderPrometheusText(figures);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, text, { flag: 'wx', mode: 0o644 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

function renderLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',')}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
