import { formatDuration } from '@rel/core';
import { clock } from './policy.js';
import { renderChart } from './report-chart.js';
import { esc } from './report-format.js';
import { checkLogLines } from './report-input.js';
import { breachSection, failedTable, probeTable, summaryTable } from './report-tables.js';
import { SummaryTracker } from './stats.js';
import type {
  MonitorActionLine,
  MonitorBreachLine,
  MonitorCheckLine,
  MonitorStartLine,
  MonitorSummary,
  MonitorSummaryLine,
} from './types.js';

export { REPORT_COLORS } from './report-chart.js';

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

/** A count given by a caller (`options.skipped`): a whole number >= 0, anything else 0. */
function wholeCount(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}
