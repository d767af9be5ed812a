import { formatDuration } from '@rel/core';
import { type ReleaseRecord, versionText } from '@rel/release';

/**
 * A short Markdown summary of the release for the build's description: what went where, how it ended, and one
 * line per step that ran, failed or waits. Text from the record is escaped, so an error message cannot inject
 * markup into the build page.
 */
export function summaryMarkdown(record: ReleaseRecord): string {
  const took = record.durationMs === undefined ? '' : ` in ${formatDuration(record.durationMs)}`;
  const lines = [
    `**rel release ${inert(versionText(record))}** to ${record.target} (live before: ${record.from ?? 'nothing'}): **${
      STATUS_TEXT[record.status]
    }**${took}`,
    '',
    `release \`${record.id}\`${record.outcome ? `: ${inert(record.outcome)}` : ''}`,
    '',
    '| step | result | took |',
    '| --- | --- | --- |',
  ];
  for (const step of record.steps) {
    if (step.status === 'skipped') continue;
    const result =
      step.status === 'failed'
        ? `**failed**: ${inert(step.error?.message ?? '')}${step.left ? ` (left: ${inert(step.left)})` : ''}`
        : step.status === 'done'
          ? 'done'
          : step.status;
    const time = step.durationMs === undefined ? '' : formatDuration(step.durationMs);
    lines.push(`| ${inert(step.title)} | ${result} | ${time} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** A one-line summary when there is no release to describe (the build stopped before one started). */
export function summaryOfError(command: string, message: string): string {
  return `**rel-jenkins ${inert(command)}**: ${inert(message)}\n`;
}

const STATUS_TEXT: Record<ReleaseRecord['status'], string> = {
  running: 'running',
  paused: 'awaiting approval',
  held: 'in progress',
  interrupted: 'interrupted',
  succeeded: 'succeeded',
  failed: 'failed',
  'rolled-back': 'rolled back',
  aborted: 'aborted',
};

/** Markdown- and HTML-inert text on one line (a table cell). */
function inert(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|#])/g, '\\$1');
}
