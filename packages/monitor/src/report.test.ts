import { describe, expect, it } from 'vitest';
import { check } from '../test/check.js';
import { type MonitorLogLine, REPORT_COLORS, renderHtmlReport } from './index.js';
import { SummaryTracker } from './stats.js';

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

// A crafted log (security review, issue 15): markup in every string field, markup where a number belongs, lines
// of shapes the monitor never writes. The report escapes what it shows, skips what it cannot trust, and says so.
const XSS = '"><script>alert(1)</script>';
const T = (s: number) => new Date(T0 + s * 1000).toISOString();

/** Lines of a known shape whose every string field holds markup: shown, escaped. */
function craftedGoodLines(): unknown[] {
  return [
    {
      type: 'start',
      time: T(0),
      intervalMs: 1000,
      durationMs: null,
      policy: XSS,
      probes: [{ name: XSS, kind: 'http', target: XSS, timeoutMs: 500 }],
      labels: { [XSS]: XSS },
    },
    {
      type: 'check',
      seq: 1,
      time: T(1),
      verdict: 'fail',
      durationMs: 3,
      skippedSlots: 0,
      consecutiveFailures: 1,
      probes: [{ probe: XSS, verdict: 'fail', status: 503, latencyMs: 3, memoryBytes: mib, error: XSS }],
    },
    { type: 'breach', rule: XSS, message: XSS, seq: 1, time: T(1), data: { [XSS]: XSS } },
    {
      type: 'action',
      time: T(2),
      startedAt: T(1),
      durationMs: 900,
      ok: false,
      error: { code: XSS, message: XSS },
      result: { [XSS]: XSS },
    },
    {
      type: 'summary',
      time: T(2),
      outcome: 'breached',
      reason: XSS,
      startedAt: T(0),
      endedAt: T(2),
      durationMs: 2000,
      checks: 1,
      failures: 1,
      skippedSlots: 0,
      consecutiveFailures: 1,
      maxConsecutiveFailures: 1,
      latencyMs: { count: 1, sumMs: 3, p50: 3, p95: 3, p99: 3, max: 3 },
      peakMemoryBytes: mib,
      probes: [
        {
          probe: XSS,
          checks: 1,
          failures: 1,
          latencyMs: null,
          peakMemoryBytes: null,
          lastMemoryBytes: null,
          peakCpuPercent: null,
        },
      ],
    },
  ];
}

/** Lines of wrong shapes: markup in number and enum fields, lists that are not lists, values that are not lines. */
function craftedBadLines(): unknown[] {
  const good = craftedGoodLines() as Record<string, unknown>[];
  const [start, check, breach, action, summary] = good as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];
  const probe = (check.probes as Record<string, unknown>[])[0]!;
  return [
    { type: 'check', probes: 5 },
    { ...check, seq: XSS },
    { ...check, consecutiveFailures: XSS },
    { ...check, durationMs: XSS },
    { ...check, verdict: XSS },
    { ...check, time: XSS },
    { ...check, probes: [{ ...probe, latencyMs: XSS }] },
    { ...check, probes: [{ ...probe, status: XSS }] },
    { ...check, probes: [{ ...probe, memoryBytes: XSS }] },
    { ...check, probes: [null] },
    { ...start, intervalMs: XSS },
    { ...start, probes: [{ name: XSS, kind: 'http', timeoutMs: XSS }] },
    { ...start, labels: { a: 5 } },
    { ...breach, seq: XSS },
    { ...action, ok: XSS },
    { ...action, durationMs: XSS },
    { ...summary, outcome: XSS },
    { ...summary, checks: XSS },
    { ...summary, failures: XSS },
    { ...summary, latencyMs: { count: 1, sumMs: 3, p50: XSS, p95: 3, p99: 3, max: 3 } },
    { ...summary, probes: [{ probe: 'x', checks: XSS, failures: XSS }] },
    { ...summary, probes: 'none' },
    { type: XSS },
    { type: 'other' },
    {},
    [],
    [{ type: 'check' }],
    null,
    5,
    XSS,
  ];
}

describe('renderHtmlReport of a crafted log', () => {
  it('escapes every string field it shows and skips lines of a wrong shape, saying how many', () => {
    const bad = craftedBadLines();
    const html = renderHtmlReport([...craftedGoodLines(), ...bad] as never, { actionLabel: 'rollback' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain(`${bad.length} log lines skipped`);
    // the good lines are still shown: the breached outcome, the failed check, the summary's counts
    expect(html).toContain('<span class="outcome breached">BREACHED</span>');
    expect(html).toContain('<th>checks</th><td>1</td>');
  });

  it('a summary whose outcome or counts hold markup is skipped, not printed', () => {
    const summary = (craftedGoodLines() as Record<string, unknown>[])[4]!;
    for (const crafted of [
      { ...summary, outcome: XSS },
      { ...summary, checks: XSS, failures: XSS, skippedSlots: XSS },
    ]) {
      const html = renderHtmlReport([crafted] as never);
      expect(html).not.toMatch(/<script/i);
      expect(html).toContain('1 log line skipped');
      expect(html).toContain('<span class="outcome incomplete">INCOMPLETE</span>');
    }
  });

  it('only non-lines: renders an empty report that says all were skipped', () => {
    const html = renderHtmlReport([null, [], 5, 'x', { type: 'check', probes: 5 }] as never);
    expect(html).toContain('5 log lines skipped');
    expect(html).toContain('no response times');
  });

  it('times years apart draw a short time axis, quickly', () => {
    const good = craftedGoodLines() as Record<string, unknown>[];
    const started = Date.now();
    const html = renderHtmlReport([
      { ...good[0], time: '1970-01-01T00:00:00Z' },
      { ...good[1], time: '9999-12-31T23:59:59.999Z', durationMs: 1e12 },
    ] as never);
    expect(Date.now() - started).toBeLessThan(2000);
    expect((html.match(/text-anchor="middle" fill="#59636e"/g) ?? []).length).toBeLessThan(40);
  });
});
