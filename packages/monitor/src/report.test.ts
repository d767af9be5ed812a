import { describe, expect, it } from 'vitest';
import { type MonitorLogLine, REPORT_COLORS, renderHtmlReport } from './index.js';
import { SummaryTracker } from './stats.js';
import { check } from './test-support.js';

const T0 = Date.UTC(2025, 10, 8, 12, 0, 0);
const mib = 1024 * 1024;

/** A run of 10 checks at 30 s: checks 6-8 fail, the 8th breaches, the action rolls back. */
function breachedRun(probeName = 'api'): MonitorLogLine[] {
  const lines: MonitorLogLine[] = [
    {
      type: 'start',
      time: new Date(T0).toISOString(),
      intervalMs: 30_000,
      durationMs: 600_000,
      policy: '3 consecutive failed checks',
      probes: [
        { name: probeName, kind: 'http', target: 'GET http://127.0.0.1:18082/health', timeoutMs: 2000 },
        { name: 'green', kind: 'resource', timeoutMs: 10_000 },
      ],
      labels: { environment: 'green' },
    },
  ];
  const tracker = new SummaryTracker();
  let consecutive = 0;
  for (let seq = 1; seq <= 8; seq += 1) {
    const failed = seq >= 6;
    const c = failed
      ? check(
          seq,
          'fail',
          { [probeName]: { status: 503, latencyMs: 3 }, green: { verdict: 'pass', memoryBytes: (100 + seq) * mib } },
          T0,
        )
      : check(
          seq,
          'pass',
          { [probeName]: { status: 200, latencyMs: 10 + seq }, green: { memoryBytes: (100 + seq) * mib } },
          T0,
        );
    consecutive = failed ? consecutive + 1 : 0;
    tracker.record(c);
    lines.push({ type: 'check', ...c, consecutiveFailures: consecutive });
  }
  const breachTime = new Date(T0 + 7 * 30_000).toISOString();
  lines.push(
    {
      type: 'breach',
      rule: 'consecutive-failures',
      message: '3 consecutive failed checks: ...',
      seq: 8,
      time: breachTime,
      data: {},
    },
    {
      type: 'action',
      time: new Date(T0 + 7 * 30_000 + 1500).toISOString(),
      startedAt: new Date(T0 + 7 * 30_000 + 20).toISOString(),
      durationMs: 1480,
      ok: true,
      result: { to: 'blue', note: '<b>not html</b>' },
    },
  );
  const summary = tracker.summary({
    outcome: 'breached',
    reason: '3 consecutive failed checks: ...',
    startedAt: T0,
    endedAt: T0 + 7 * 30_000 + 1500,
  });
  lines.push({ type: 'summary', time: summary.endedAt, ...summary });
  return lines;
}

describe('renderHtmlReport', () => {
  it('is one self-contained page: no script, no external resource', () => {
    const html = renderHtmlReport(breachedRun());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const forbidden of ['<script', '<link', '<img', '<iframe', 'src=', 'href=', 'url(', '@import']) {
      expect(html).not.toContain(forbidden);
    }
  });

  it('draws latency in its colour, one red dot per failed check, and the action as a labelled line', () => {
    const html = renderHtmlReport(breachedRun(), { actionLabel: 'rollback' });
    expect(html).toContain(`<polyline points="`);
    expect(html).toMatch(new RegExp(`<polyline [^>]*stroke="${REPORT_COLORS.latency[0]}"`));
    expect(html).toMatch(new RegExp(`<polyline [^>]*stroke="${REPORT_COLORS.memory[0]}"`));
    const dots = html.match(new RegExp(`<circle [^>]*r="5" fill="${REPORT_COLORS.failure}"`, 'g')) ?? [];
    expect(dots.length).toBe(3);
    expect(html).toContain(`stroke="${REPORT_COLORS.action}"`);
    expect(html).toContain('rollback at 12:03:30Z (consecutive-failures)');
    expect(html).toContain('<span class="outcome breached">BREACHED</span>');
    expect(html).toContain('rollback done at 12:03:31Z');
  });

  it('has the summary and per-probe tables and the failed checks', () => {
    const html = renderHtmlReport(breachedRun());
    expect(html).toContain('<th>checks</th><td>8</td>');
    expect(html).toContain('<th>failed checks</th><td>3</td>');
    expect(html).toContain('<th>latency p50 / p95 / p99 / max</th><td>11 / 15 / 15 / 15 ms</td>');
    expect(html).toContain('<th>peak memory</th><td>108.0 MiB</td>');
    expect(html).toContain('GET http://127.0.0.1:18082/health');
    expect(html).toContain('<td>api 503</td>');
  });

  it('escapes everything it prints', () => {
    const html = renderHtmlReport(breachedRun('<script>alert(1)</script>'));
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;b&gt;not html&lt;/b&gt;');
  });

  it('summarises a log that ends without a summary line (a killed run)', () => {
    const lines = breachedRun().filter((l) => l.type === 'start' || l.type === 'check');
    const html = renderHtmlReport(lines);
    expect(html).toContain('<span class="outcome incomplete">INCOMPLETE</span>');
    expect(html).toContain('<th>checks</th><td>8</td>');
  });

  it('shows the last run of a log that holds several', () => {
    const first = breachedRun('first-run-probe');
    const second = breachedRun('second-run-probe');
    const html = renderHtmlReport([...first, ...second]);
    expect(html).toContain('second-run-probe');
    expect(html).not.toContain('first-run-probe');
  });

  it('an empty log still renders', () => {
    const html = renderHtmlReport([]);
    expect(html).toContain('no response times');
    expect(html).toContain('no memory samples');
  });
});
