import { formatDuration } from '@rel/core';
import { clock, describeFailure, formatBytes } from './policy.js';
import { checkLogLines } from './report-input.js';
import { SummaryTracker } from './stats.js';
import type {
  LatencyFigures,
  MonitorActionLine,
  MonitorBreachLine,
  MonitorCheckLine,
  MonitorStartLine,
  MonitorSummary,
  MonitorSummaryLine,
} from './types.js';

export interface HtmlReportOptions {
  /** Default `rel monitor report`. */
  title?: string;
  /** What the action is called on the chart and in the tables, e.g. `rollback`. Default `action`. */
  actionLabel?: string;
  /**
   * Lines already skipped while reading the log (`parseLogForReport`'s `skipped`: not JSON, or of a wrong shape);
   * the report adds the lines of `lines` it skips itself and says how many in all.
   */
  skipped?: number;
}

/** Colours of the chart; the first latency colour is the first HTTP probe's. */
export const REPORT_COLORS = {
  latency: ['#1f6feb', '#8250df', '#0a3069', '#bf8700'],
  memory: ['#bc4c00', '#6e7781', '#953800'],
  failure: '#d1242f',
  action: '#6639ba',
} as const;

const WIDTH = 1100;
const LEFT = 80;
const RIGHT = 24;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;
const LATENCY_TOP = 64;
const LATENCY_HEIGHT = 260;
const MEMORY_TOP = LATENCY_TOP + LATENCY_HEIGHT + 60;
const MEMORY_HEIGHT = 150;
const HEIGHT = MEMORY_TOP + MEMORY_HEIGHT + 44;
const MAX_FAILED_ROWS = 200;

/**
 * A self-contained HTML page (inline CSS and SVG, no script, nothing fetched) of a monitor log: latency and
 * memory over time, failed checks as red dots and bands, the breach and action as a labelled vertical line,
 * the summary and per-probe tables and the failed checks. Uses the last run in `lines` (from its last `start`
 * line); a log without a summary line (the run was killed) is summarised from its checks.
 *
 * The log is input, not trusted: each line is checked field by field (`checkLogLine`) and one of an unknown or
 * wrong shape is skipped, the page saying how many were; every value that reaches the page is escaped.
 */
export function renderHtmlReport(input: readonly unknown[], options: HtmlReportOptions = {}): string {
  const title = options.title ?? 'rel monitor report';
  const actionLabel = options.actionLabel ?? 'action';
  const { lines, skipped: skippedHere } = checkLogLines(input);
  const skipped = skippedHere + wholeCount(options.skipped);
  const lastStart = lines.map((line) => line.type).lastIndexOf('start');
  const run = lastStart === -1 ? lines : lines.slice(lastStart);
  const start = run.find((line): line is MonitorStartLine => line.type === 'start');
  const checks = run.filter((line): line is MonitorCheckLine => line.type === 'check');
  const breach = run.find((line): line is MonitorBreachLine => line.type === 'breach');
  const action = run.find((line): line is MonitorActionLine => line.type === 'action');
  const summaryLine = run.find((line): line is MonitorSummaryLine => line.type === 'summary');
  const summary = summaryLine ?? summarizeChecks(start, checks);

  const body = [
    `<h1>${esc(title)}</h1>`,
    outcomeBanner(summaryLine, summary, breach, action, actionLabel),
    start ? `<p class="meta">${esc(describeStart(start))}</p>` : '',
    skipped > 0 ? `<p class="skipped">${esc(describeSkipped(skipped))}</p>` : '',
    renderChart(start, checks, breach, action, summary, actionLabel),
    '<h2>Summary</h2>',
    summaryTable(summary, summaryLine !== undefined),
    '<h2>Probes</h2>',
    probeTable(summary, start),
    breach ? `<h2>Breach and ${esc(actionLabel)}</h2>${breachSection(breach, action, actionLabel)}` : '',
    '<h2>Failed checks</h2>',
    failedTable(checks),
  ].join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 16px 24px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px; } h2 { font-size: 16px; margin: 22px 0 6px; }
.outcome { display: inline-block; padding: 3px 10px; border-radius: 4px; font-weight: 600; margin: 0 0 4px; }
.passed { background: #dafbe1; color: #116329; } .breached { background: #ffebe9; color: #a40e26; }
.stopped, .incomplete { background: #fff8c5; color: #7d4e00; }
.skipped { background: #fff8c5; color: #7d4e00; padding: 3px 10px; display: inline-block; border-radius: 4px; margin: 2px 0 8px; }
.meta { color: #59636e; margin: 2px 0 8px; }
table { border-collapse: collapse; margin: 4px 0; } th, td { border: 1px solid #d1d9e0; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; max-width: 1060px; }
svg { display: block; max-width: 100%; height: auto; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** `3 log lines skipped: ...`, shown under the title. */
function describeSkipped(skipped: number): string {
  const lines = skipped === 1 ? '1 log line' : `${skipped} log lines`;
  return `${lines} skipped: not monitor log lines of a known shape (not JSON, an unknown type, or a field of the wrong type)`;
}

function summarizeChecks(start: MonitorStartLine | undefined, checks: readonly MonitorCheckLine[]): MonitorSummary {
  const tracker = new SummaryTracker(start?.probes.map((p) => p.name) ?? []);
  for (const check of checks) tracker.record(check);
  const startedAt = Date.parse(start?.time ?? checks[0]?.time ?? new Date(0).toISOString());
  const last = checks.at(-1);
  const endedAt = last ? Date.parse(last.time) + last.durationMs : startedAt;
  return tracker.summary({
    outcome: 'stopped',
    reason: `the log ends without a summary (the run was interrupted) after ${checks.length} checks`,
    startedAt,
    endedAt,
  });
}

function outcomeBanner(
  summaryLine: MonitorSummaryLine | undefined,
  summary: MonitorSummary,
  breach: MonitorBreachLine | undefined,
  action: MonitorActionLine | undefined,
  actionLabel: string,
): string {
  const outcome = summaryLine ? summary.outcome : 'incomplete';
  let text = summary.reason;
  if (breach && action) text += ` — ${actionLabel} ${action.ok ? 'done' : 'FAILED'} at ${clock(action.time)}`;
  return `<p><span class="outcome ${esc(outcome)}">${esc(outcome.toUpperCase())}</span> ${esc(text)}</p>`;
}

function describeStart(start: MonitorStartLine): string {
  const duration = start.durationMs === null ? 'until stopped' : `for ${formatDuration(start.durationMs)}`;
  const labels = start.labels
    ? ` — ${Object.entries(start.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`
    : '';
  return `Started ${start.time}, a check every ${formatDuration(start.intervalMs)} ${duration}; breach on ${start.policy}${labels}`;
}

interface Point {
  t: number;
  v: number;
}

function renderChart(
  start: MonitorStartLine | undefined,
  checks: readonly MonitorCheckLine[],
  breach: MonitorBreachLine | undefined,
  action: MonitorActionLine | undefined,
  summary: MonitorSummary,
  actionLabel: string,
): string {
  // Loops, not Math.min(...times): a long log must not overflow the call stack.
  let t0 = Date.parse(start?.time ?? summary.startedAt);
  let t1 = Math.max(Date.parse(summary.endedAt), action ? Date.parse(action.time) : 0);
  for (const check of checks) {
    const t = Date.parse(check.time);
    if (t < t0) t0 = t;
    if (t > t1) t1 = t;
  }
  if (!(t1 > t0)) t1 = t0 + 1000;
  const x = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * PLOT_WIDTH;

  const latency = new Map<string, (Point | null)[]>();
  const memory = new Map<string, (Point | null)[]>();
  for (const check of checks) {
    const t = Date.parse(check.time);
    for (const probe of check.probes) {
      if (probe.latencyMs !== undefined || (start?.probes.find((p) => p.name === probe.probe)?.kind ?? '') === 'http') {
        const list = latency.get(probe.probe) ?? [];
        list.push(probe.latencyMs === undefined ? null : { t, v: probe.latencyMs });
        latency.set(probe.probe, list);
      }
      if (probe.memoryBytes !== undefined || memory.has(probe.probe)) {
        const list = memory.get(probe.probe) ?? [];
        list.push(probe.memoryBytes === undefined ? null : { t, v: probe.memoryBytes / (1024 * 1024) });
        memory.set(probe.probe, list);
      }
    }
  }

  const parts: string[] = [];
  parts.push(
    `<svg width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="latency and memory over time">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
  );

  // Latency panel.
  const latencyMax = niceCeiling(maxOf(latency));
  const yLatency = (v: number) => LATENCY_TOP + LATENCY_HEIGHT - (v / latencyMax) * LATENCY_HEIGHT;
  parts.push(panelFrame('response time (ms)', LATENCY_TOP, LATENCY_HEIGHT, latencyMax, (v) => fmtNumber(v)));
  // Failed checks: a light band across the panel and a red dot on the row above the plot.
  const bandWidth = Math.max(4, Math.min(40, ((start?.intervalMs ?? 1000) / (t1 - t0)) * PLOT_WIDTH * 0.8));
  for (const check of checks) {
    if (check.verdict !== 'fail') continue;
    const cx = x(Date.parse(check.time));
    const from = Math.max(LEFT, cx - bandWidth / 2);
    const to = Math.min(LEFT + PLOT_WIDTH, cx + bandWidth / 2);
    parts.push(
      `<rect x="${f(from)}" y="${LATENCY_TOP}" width="${f(Math.max(1, to - from))}" height="${LATENCY_HEIGHT}" fill="${REPORT_COLORS.failure}" fill-opacity="0.12"/>`,
      `<circle cx="${f(cx)}" cy="${LATENCY_TOP - 10}" r="5" fill="${REPORT_COLORS.failure}"><title>${esc(failureTitle(check))}</title></circle>`,
    );
  }
  parts.push(...series(latency, REPORT_COLORS.latency, x, yLatency));
  parts.push(legend(latency, REPORT_COLORS.latency, LATENCY_TOP - 32, ' ms'));
  parts.push(
    `<text x="${WIDTH - RIGHT}" y="${LATENCY_TOP - 24}" text-anchor="end" fill="${REPORT_COLORS.failure}">● failed check</text>`,
  );
  if (latency.size === 0) parts.push(emptyNote(LATENCY_TOP, LATENCY_HEIGHT, 'no response times'));

  // Memory panel.
  const memoryMax = niceCeiling(maxOf(memory));
  const yMemory = (v: number) => MEMORY_TOP + MEMORY_HEIGHT - (v / memoryMax) * MEMORY_HEIGHT;
  parts.push(panelFrame('memory (MiB)', MEMORY_TOP, MEMORY_HEIGHT, memoryMax, (v) => fmtNumber(v)));
  parts.push(...series(memory, REPORT_COLORS.memory, x, yMemory));
  parts.push(legend(memory, REPORT_COLORS.memory, MEMORY_TOP - 12, ' MiB'));
  if (memory.size === 0) parts.push(emptyNote(MEMORY_TOP, MEMORY_HEIGHT, 'no memory samples'));

  // Time axis under each panel.
  parts.push(timeAxis(t0, t1, x, LATENCY_TOP + LATENCY_HEIGHT), timeAxis(t0, t1, x, MEMORY_TOP + MEMORY_HEIGHT));

  // The breach and the action: one vertical line across both panels, labelled.
  if (breach) {
    const at = action ? Date.parse(action.startedAt) : Date.parse(breach.time);
    const lx = f(x(at));
    const label = action
      ? `${actionLabel} ${action.ok ? '' : 'FAILED '}at ${clock(action.startedAt)} (${breach.rule})`
      : `breach at ${clock(breach.time)} (${breach.rule})`;
    const anchor = x(at) > LEFT + PLOT_WIDTH * 0.6 ? 'end' : 'start';
    const dx = anchor === 'end' ? -6 : 6;
    parts.push(
      `<line x1="${lx}" y1="${LATENCY_TOP - 18}" x2="${lx}" y2="${MEMORY_TOP + MEMORY_HEIGHT}" stroke="${REPORT_COLORS.action}" stroke-width="2" stroke-dasharray="6 4"/>`,
      `<text x="${f(x(at) + dx)}" y="${LATENCY_TOP + 14}" text-anchor="${anchor}" fill="${REPORT_COLORS.action}" font-weight="600">${esc(label)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function maxOf(seriesMap: Map<string, (Point | null)[]>): number {
  let max = 0;
  for (const list of seriesMap.values()) for (const p of list) if (p && p.v > max) max = p.v;
  return max;
}

/** A round number >= value: 1, 2 or 5 times a power of ten. */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const padded = value * 1.08;
  const power = 10 ** Math.floor(Math.log10(padded));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= padded) return step * power;
  return 10 * power;
}

function panelFrame(label: string, top: number, height: number, max: number, fmt: (v: number) => string): string {
  const out = [
    `<rect x="${LEFT}" y="${top}" width="${PLOT_WIDTH}" height="${height}" fill="none" stroke="#d1d9e0"/>`,
    `<text x="${LEFT - 60}" y="${top - 12}" fill="#59636e">${esc(label)}</text>`,
  ];
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    const y = f(top + height - (height * i) / 4);
    if (i > 0 && i < 4) {
      out.push(`<line x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT_WIDTH}" y2="${y}" stroke="#eef1f4"/>`);
    }
    out.push(`<text x="${LEFT - 6}" y="${y}" dy="4" text-anchor="end" fill="#59636e">${esc(fmt(value))}</text>`);
  }
  return out.join('\n');
}

function series(
  seriesMap: Map<string, (Point | null)[]>,
  colors: readonly string[],
  x: (t: number) => number,
  y: (v: number) => number,
): string[] {
  const out: string[] = [];
  let index = 0;
  for (const points of seriesMap.values()) {
    const color = colors[index % colors.length]!;
    index += 1;
    // A gap (a failed request without a response) breaks the line.
    const runs: Point[][] = [[]];
    for (const p of points) {
      if (p) runs.at(-1)!.push(p);
      else if (runs.at(-1)!.length > 0) runs.push([]);
    }
    for (const run of runs) {
      if (run.length > 1) {
        const d = run.map((p) => `${f(x(p.t))},${f(y(p.v))}`).join(' ');
        out.push(
          `<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>`,
        );
      }
    }
    const shown = points.filter((p): p is Point => p !== null);
    if (shown.length <= 400) {
      for (const p of shown) out.push(`<circle cx="${f(x(p.t))}" cy="${f(y(p.v))}" r="3" fill="${color}"/>`);
    }
  }
  return out;
}

function legend(seriesMap: Map<string, (Point | null)[]>, colors: readonly string[], y: number, unit: string): string {
  const out: string[] = [];
  let xPos = LEFT + 110;
  let index = 0;
  for (const name of seriesMap.keys()) {
    const color = colors[index % colors.length]!;
    index += 1;
    out.push(
      `<rect x="${xPos}" y="${y - 9}" width="14" height="4" fill="${color}"/>`,
      `<text x="${xPos + 20}" y="${y - 4}" fill="#1f2328">${esc(name)}${esc(unit)}</text>`,
    );
    xPos += 40 + name.length * 7 + unit.length * 7;
  }
  return out.join('\n');
}

function emptyNote(top: number, height: number, text: string): string {
  return `<text x="${LEFT + PLOT_WIDTH / 2}" y="${top + height / 2}" text-anchor="middle" fill="#818b98">${esc(text)}</text>`;
}

function timeAxis(t0: number, t1: number, x: (t: number) => number, y: number): string {
  const span = (t1 - t0) / 1000;
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];
  // At most about 8 ticks: past the list, whole days (a log whose times are years apart gets few ticks, not millions).
  const step = (steps.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 86_400) * 86_400) * 1000;
  const out: string[] = [];
  const showMs = step < 1000;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const iso = new Date(t).toISOString();
    const label = showMs ? iso.slice(11, 23) : iso.slice(11, 19);
    out.push(
      `<line x1="${f(x(t))}" y1="${y}" x2="${f(x(t))}" y2="${y + 5}" stroke="#818b98"/>`,
      `<text x="${f(x(t))}" y="${y + 18}" text-anchor="middle" fill="#59636e">${esc(label)}</text>`,
    );
  }
  out.push(`<text x="${LEFT + PLOT_WIDTH}" y="${y + 34}" text-anchor="end" fill="#818b98">UTC</text>`);
  return out.join('\n');
}

function failureTitle(check: MonitorCheckLine): string {
  const failed = check.probes.filter((p) => p.verdict === 'fail').map(describeFailure);
  return `check ${check.seq} at ${clock(check.time)}: ${failed.join(', ')}`;
}

function summaryTable(summary: MonitorSummary, complete: boolean): string {
  const rows: [string, string][] = [
    ['outcome', complete ? summary.outcome : 'incomplete (no summary line)'],
    ['reason', summary.reason],
    ['started', summary.startedAt],
    ['ended', summary.endedAt],
    ['duration', formatDuration(summary.durationMs)],
    ['checks', String(summary.checks)],
    ['failed checks', String(summary.failures)],
    ['skipped slots', String(summary.skippedSlots)],
    ['most failures in a row', String(summary.maxConsecutiveFailures)],
    ['latency p50 / p95 / p99 / max', latencyText(summary.latencyMs)],
    ['peak memory', summary.peakMemoryBytes === null ? '—' : formatBytes(summary.peakMemoryBytes)],
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function probeTable(summary: MonitorSummary, start: MonitorStartLine | undefined): string {
  const header =
    '<tr><th>probe</th><th>target</th><th>checks</th><th>failed</th><th>latency p50 / p95 / p99 / max</th><th>peak memory</th><th>last memory</th><th>peak CPU</th></tr>';
  const rows = summary.probes.map((p) => {
    const target = start?.probes.find((s) => s.name === p.probe)?.target ?? '';
    const cells = [
      esc(p.probe),
      esc(target),
      `<td class="num">${num(p.checks)}</td>`,
      `<td class="num">${num(p.failures)}</td>`,
      esc(latencyText(p.latencyMs)),
      esc(p.peakMemoryBytes === null ? '—' : formatBytes(p.peakMemoryBytes)),
      esc(p.lastMemoryBytes === null ? '—' : formatBytes(p.lastMemoryBytes)),
      esc(p.peakCpuPercent === null ? '—' : `${p.peakCpuPercent}%`),
    ];
    return `<tr>${cells.map((c) => (c.startsWith('<td') ? c : `<td>${c}</td>`)).join('')}</tr>`;
  });
  return `<table>${header}${rows.join('')}</table>`;
}

function breachSection(breach: MonitorBreachLine, action: MonitorActionLine | undefined, actionLabel: string): string {
  const rows: [string, string][] = [
    ['rule', breach.rule],
    ['when', `${breach.time} (check ${breach.seq})`],
    ['why', breach.message],
  ];
  if (action) {
    rows.push(
      [
        actionLabel,
        `${action.ok ? 'done' : 'FAILED'} at ${action.startedAt}, took ${formatDuration(action.durationMs)}`,
      ],
      [action.ok ? 'result' : 'error', action.ok ? '' : `${action.error?.code}: ${action.error?.message}`],
    );
  } else {
    rows.push([actionLabel, 'none given']);
  }
  const table = `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
  const result =
    action?.ok && action.result !== undefined
      ? `<pre>${esc(truncate(JSON.stringify(action.result, null, 2) ?? 'null', 4000))}</pre>`
      : '';
  return table + result;
}

function failedTable(checks: readonly MonitorCheckLine[]): string {
  const failed = checks.filter((c) => c.verdict === 'fail');
  if (failed.length === 0) return '<p>None.</p>';
  const rows = failed.slice(0, MAX_FAILED_ROWS).map((c) => {
    const what = c.probes
      .filter((p) => p.verdict === 'fail')
      .map(describeFailure)
      .join(', ');
    return `<tr><td class="num">${num(c.seq)}</td><td>${esc(c.time)}</td><td class="num">${num(c.consecutiveFailures)}</td><td>${esc(what)}</td></tr>`;
  });
  const more = failed.length > MAX_FAILED_ROWS ? `<p>… and ${failed.length - MAX_FAILED_ROWS} more.</p>` : '';
  return `<table><tr><th>check</th><th>time</th><th>in a row</th><th>failed</th></tr>${rows.join('')}</table>${more}`;
}

function latencyText(figures: LatencyFigures | null): string {
  if (!figures) return '—';
  return `${fmtNumber(figures.p50)} / ${fmtNumber(figures.p95)} / ${fmtNumber(figures.p99)} / ${fmtNumber(figures.max)} ms`;
}

function fmtNumber(value: number): string {
  if (value >= 100) return String(Math.round(value));
  return String(Math.round(value * 10) / 10);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}\n…` : text;
}

/** A count given by a caller (`options.skipped`): a whole number >= 0, anything else 0. */
function wholeCount(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/** A coordinate for SVG: always a number (Math.round of anything is a number or NaN), so nothing to escape. */
function f(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** A number from the log, for the page: escaped like text, in case a crafted line got a string past the checks. */
function num(value: number): string {
  return esc(String(value));
}

function esc(text: string): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
