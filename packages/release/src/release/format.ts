import { formatDuration } from '@rel/core';
import type { ReleaseRecord } from './journal.js';
import { versionText } from './open.js';

/** `rel history`: one line per release, newest first: id, version, environment, who, started, duration, outcome. */
export function formatReleaseList(records: readonly ReleaseRecord[]): string {
  if (records.length === 0) return 'no releases yet';
  const rows = records.map((r) => [
    r.id,
    versionText(r),
    r.target,
    r.startedBy.user,
    r.startedAt.replace(/\.\d+Z$/, 'Z'),
    r.durationMs === undefined ? '-' : formatDuration(r.durationMs),
    r.status,
  ]);
  const header = ['id', 'version', 'env', 'who', 'started', 'took', 'outcome'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `rel history <id>`: the record, step by step. */
export function formatRelease(r: ReleaseRecord): string {
  const lines = [
    `release ${r.id}: ${versionText(r)} to ${r.target} (live before: ${r.from ?? 'nothing'}): ${r.status}`,
    `started ${r.startedAt} by ${r.startedBy.user} on ${r.startedBy.host}${
      r.durationMs === undefined ? '' : `, took ${formatDuration(r.durationMs)}`
    }`,
    ...(r.ci?.buildUrl ? [`build ${r.ci.buildUrl}${r.ci.startedBy ? ` (started by ${r.ci.startedBy})` : ''}`] : []),
    ...(r.approval ? [`approved by ${r.approval.by} on ${r.approval.host} at ${r.approval.at}`] : []),
    ...(r.outcome ? [r.outcome] : []),
    'steps:',
  ];
  for (const s of r.steps) {
    const took = s.durationMs === undefined ? '' : ` (${formatDuration(s.durationMs)})`;
    const tries = s.attempts > 1 ? ` [${s.attempts} attempts]` : '';
    lines.push(`  ${s.status.padEnd(7)} ${s.id.padEnd(15)} ${s.title}${took}${tries}`);
    if (s.summary && s.status !== 'pending') lines.push(`          ${''.padEnd(15)} ${s.summary}`);
    if (s.error) lines.push(`          ${''.padEnd(15)} error: ${s.error.message}`);
    if (s.left) lines.push(`          ${''.padEnd(15)} left: ${s.left}`);
  }
  return lines.join('\n');
}
