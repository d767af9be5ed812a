// The report's tables: the summary, one row per probe, the breach and action, and the failed checks.
import { formatDuration } from '@rel/core';
import { describeFailure, formatBytes } from './policy.js';
import { esc, latencyText, num, truncate } from './report-format.js';
import type {
  MonitorActionLine,
  MonitorBreachLine,
  MonitorCheckLine,
  MonitorStartLine,
  MonitorSummary,
} from './types.js';

const MAX_FAILED_ROWS = 200;

/** The run's summary as a two-column table; `complete` false: the outcome says there was no summary line. */
export function summaryTable(summary: MonitorSummary, complete: boolean): string {
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

/** One row per probe: its target, checks, failures, latency, memory and CPU. */
export function probeTable(summary: MonitorSummary, start: MonitorStartLine | undefined): string {
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

/** What breached, when and why, and what the action did (its result as JSON, cut at 4000 characters). */
export function breachSection(
  breach: MonitorBreachLine,
  action: MonitorActionLine | undefined,
  actionLabel: string,
): string {
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

/** The failed checks, the first 200 of them, with what failed in each. */
export function failedTable(checks: readonly MonitorCheckLine[]): string {
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
