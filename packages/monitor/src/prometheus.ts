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
/** Part of the textfile's temporary names (with the pid and a counter): random per module instance. */
const TEMP_TOKEN = Math.random().toString(16).slice(2, 10);
let temporaries = 0;
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
  // Rendered once: the base labels come first in every label set (`probe` and `quantile` are never among them).
  const baseText = labelPairs(base);
  const withProbe = new Map<string, string>();
  const labelled = (probe?: string, quantile?: string): string => {
    let text = baseText;
    if (probe !== undefined) {
      let pair = withProbe.get(probe);
      if (pair === undefined) {
        pair = `probe="${escapeLabel(probe)}"`;
        withProbe.set(probe, pair);
      }
      text += `${text ? ',' : ''}${pair}`;
    }
    if (quantile !== undefined) text += `${text ? ',' : ''}quantile="${quantile}"`;
    return text ? `{${text}}` : '';
  };
  let out = '';
  const header = (name: string, type: string, help: string) => {
    out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  };
  const sample = (name: string, labels: string, value: number) => {
    out += `${name}${labels} ${number(value)}\n`;
  };
  const probes = figures.probes ?? [];
  header('rel_monitor_checks_total', 'counter', 'Checks run (one check runs every probe once).');
  sample('rel_monitor_checks_total', labelled(), figures.checks);
  header('rel_monitor_failures_total', 'counter', 'Checks that failed (any probe failed).');
  sample('rel_monitor_failures_total', labelled(), figures.failures);
  header('rel_monitor_consecutive_failures', 'gauge', 'Failed checks in a row, up to the last one.');
  sample('rel_monitor_consecutive_failures', labelled(), figures.consecutiveFailures);
  header('rel_monitor_up', 'gauge', '1 when the last check passed.');
  sample('rel_monitor_up', labelled(), figures.up ? 1 : 0);
  if (figures.lastCheckAt !== null) {
    header('rel_monitor_last_check_timestamp_seconds', 'gauge', 'When the last check ran, seconds since the epoch.');
    sample('rel_monitor_last_check_timestamp_seconds', labelled(), figures.lastCheckAt / 1000);
  }
  const up = probes.filter((p) => p.up !== undefined);
  if (up.length > 0) {
    header('rel_monitor_probe_up', 'gauge', '1 when the probe passed in the last check.');
    for (const p of up) sample('rel_monitor_probe_up', labelled(p.probe), p.up ? 1 : 0);
  }
  const timed = probes.filter((p) => p.latencyMs);
  if (timed.length > 0) {
    header('rel_monitor_latency_seconds', 'summary', 'Response time of a probe over the run (nearest-rank quantiles).');
    for (const p of timed) {
      const figuresMs = p.latencyMs!;
      sample('rel_monitor_latency_seconds', labelled(p.probe, '0.5'), figuresMs.p50 / 1000);
      sample('rel_monitor_latency_seconds', labelled(p.probe, '0.95'), figuresMs.p95 / 1000);
      sample('rel_monitor_latency_seconds', labelled(p.probe, '0.99'), figuresMs.p99 / 1000);
    }
    for (const p of timed) sample('rel_monitor_latency_seconds_sum', labelled(p.probe), p.latencyMs!.sumMs / 1000);
    for (const p of timed) sample('rel_monitor_latency_seconds_count', labelled(p.probe), p.latencyMs!.count);
  }
  const memory = probes.filter((p) => typeof p.memoryBytes === 'number');
  if (memory.length > 0) {
    header('rel_monitor_memory_bytes', 'gauge', 'Memory reported by a resource probe in its last sample.');
    for (const p of memory) sample('rel_monitor_memory_bytes', labelled(p.probe), p.memoryBytes!);
  }
  return out;
}

/**
 * Writes the figures atomically (temp file in the same directory, then rename), so node_exporter's textfile
 * collector never reads half a file. The temp name does not end in `.prom`, so it is never collected. No fsync:
 * runMonitor rewrites the file every few seconds. Synchronous calls inside: a few KiB to the page cache take
 * microseconds, while four thread-pool round trips per check cost a millisecond of CPU.
 */
export async function writePrometheusTextfile(path: string, figures: PrometheusFigures): Promise<void> {
  const text = renderPrometheusText(figures);
  // Never used twice: the process, a random token of this module instance (one per thread) and a counter.
  // Created exclusively (`wx`), so a file or link already there under that name is never written through.
  temporaries += 1;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${TEMP_TOKEN}-${temporaries}.tmp`);
  try {
    writeFileSync(temp, text, { flag: 'wx', mode: 0o644 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** `name="value",...` of a label set, without the braces; '' for none. */
function labelPairs(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
    .join(',');
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
