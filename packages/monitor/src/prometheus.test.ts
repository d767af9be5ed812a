import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { check } from '../test/check.js';
import { figuresOfSummary, type PrometheusFigures, renderPrometheusText, writePrometheusTextfile } from './index.js';
import { SummaryTracker } from './stats.js';

const figures: PrometheusFigures = {
  labels: { environment: 'green' },
  checks: 12,
  failures: 2,
  consecutiveFailures: 1,
  up: false,
  lastCheckAt: Date.UTC(2025, 10, 8, 12, 5, 30, 250),
  probes: [
    {
      probe: 'api',
      up: false,
      latencyMs: { count: 12, sumMs: 120, p50: 8, p95: 20, p99: 31.5, max: 31.5 },
      memoryBytes: null,
    },
    { probe: 'green-containers', up: true, latencyMs: null, memoryBytes: 123_456_789 },
  ],
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-monitor-prom-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('renderPrometheusText', () => {
  it('writes every figure with HELP and TYPE lines and the labels', () => {
    expect(
      renderPrometheusText(figures),
    ).toBe(`# HELP rel_monitor_checks_total Checks run (one check runs every probe once).
# TYPE rel_monitor_checks_total counter
rel_monitor_checks_total{environment="green"} 12
# HELP rel_monitor_failures_total Checks that failed (any probe failed).
# TYPE rel_monitor_failures_total counter
rel_monitor_failures_total{environment="green"} 2
# HELP rel_monitor_consecutive_failures Failed checks in a row, up to the last one.
# TYPE rel_monitor_consecutive_failures gauge
rel_monitor_consecutive_failures{environment="green"} 1
# HELP rel_monitor_up 1 when the last check passed.
# TYPE rel_monitor_up gauge
rel_monitor_up{environment="green"} 0
# HELP rel_monitor_last_check_timestamp_seconds When the last check ran, seconds since the epoch.
# TYPE rel_monitor_last_check_timestamp_seconds gauge
rel_monitor_last_check_timestamp_seconds{environment="green"} 1762603530.25
# HELP rel_monitor_probe_up 1 when the probe passed in the last check.
# TYPE rel_monitor_probe_up gauge
rel_monitor_probe_up{environment="green",probe="api"} 0
rel_monitor_probe_up{environment="green",probe="green-containers"} 1
# HELP rel_monitor_latency_seconds Response time of a probe over the run (nearest-rank quantiles).
# TYPE rel_monitor_latency_seconds summary
rel_monitor_latency_seconds{environment="green",probe="api",quantile="0.5"} 0.008
rel_monitor_latency_seconds{environment="green",probe="api",quantile="0.95"} 0.02
rel_monitor_latency_seconds{environment="green",probe="api",quantile="0.99"} 0.0315
rel_monitor_latency_seconds_sum{environment="green",probe="api"} 0.12
rel_monitor_latency_seconds_count{environment="green",probe="api"} 12
# HELP rel_monitor_memory_bytes Memory reported by a resource probe in its last sample.
# TYPE rel_monitor_memory_bytes gauge
rel_monitor_memory_bytes{environment="green",probe="green-containers"} 123456789
`);
  });

  it('every sample line is `name{labels} value` and every metric has HELP and TYPE before its samples', () => {
    const text = renderPrometheusText({ ...figures, labels: { environment: 'a "quoted"\\ value\nwith newline' } });
    const declared = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      const meta = /^# (HELP|TYPE) (\w+) .+$/.exec(line);
      if (meta) {
        declared.add(meta[2]!);
        continue;
      }
      const sample = /^(\w+)(\{(?:\w+="(?:[^"\\\n]|\\["\\n])*",?)*\})? (-?[\d.e+-]+|NaN|[+-]Inf)$/.exec(line);
      expect(sample, line).not.toBeNull();
      const base = sample![1]!.replace(/_(sum|count)$/, '');
      expect(declared.has(sample![1]!) || declared.has(base), line).toBe(true);
    }
    expect(text).toContain('environment="a \\"quoted\\"\\\\ value\\nwith newline"');
  });

  it('without labels or a check yet', () => {
    const text = renderPrometheusText({ checks: 0, failures: 0, consecutiveFailures: 0, up: false, lastCheckAt: null });
    expect(text).toContain('rel_monitor_checks_total 0\n');
    expect(text).not.toContain('rel_monitor_last_check_timestamp_seconds');
  });

  it.each(['0env', 'probe', 'quantile', '__name', 'a-b'])('refuses the label name %j', (name) => {
    const error = (() => {
      try {
        renderPrometheusText({ ...figures, labels: { [name]: 'x' } });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('BAD_INPUT');
  });
});

describe('figuresOfSummary', () => {
  it('takes counts from the run and up-ness from the last check', () => {
    const tracker = new SummaryTracker();
    const last = check(2, 'fail', { api: { status: 503, latencyMs: 4 }, mem: { verdict: 'pass', memoryBytes: 10 } });
    tracker.record(check(1, 'pass', { api: { status: 200, latencyMs: 8 }, mem: { memoryBytes: 12 } }));
    tracker.record(last);
    const summary = tracker.summary({ outcome: 'passed', reason: '', startedAt: 0, endedAt: 1 });
    expect(figuresOfSummary(summary, last, { environment: 'green' })).toEqual({
      labels: { environment: 'green' },
      checks: 2,
      failures: 1,
      consecutiveFailures: 1,
      up: false,
      lastCheckAt: Date.parse(last.time),
      probes: [
        {
          probe: 'api',
          up: false,
          latencyMs: { count: 2, sumMs: 12, p50: 4, p95: 8, p99: 8, max: 8 },
          memoryBytes: null,
        },
        { probe: 'mem', up: true, latencyMs: null, memoryBytes: 10 },
      ],
    });
  });
});

describe('writePrometheusTextfile', () => {
  it('replaces the file atomically and leaves no temp file', async () => {
    const path = join(dir, 'rel_monitor.prom');
    await writePrometheusTextfile(path, { ...figures, checks: 1 });
    await writePrometheusTextfile(path, figures);
    expect(await readFile(path, 'utf8')).toBe(renderPrometheusText(figures));
    expect(await readdir(dir)).toEqual(['rel_monitor.prom']);
  });
});
