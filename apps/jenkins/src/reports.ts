import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '@rel/core';
import type { ReleaseRecord } from '@rel/release';
import { redact } from '@rel/release/config';
import { junitReport } from './junit.js';
import type { BuildLog } from './log.js';
import { summaryMarkdown, summaryOfError } from './summary.js';

/** The files a build archives, in its report directory. */
export const REPORT_FILES = {
  junit: 'junit.xml',
  summary: 'summary.md',
  record: 'release.json',
  monitorLog: 'monitor.jsonl',
  monitorReport: 'monitor.html',
} as const;

export interface ReportSecrets {
  /** Values never to write (as the build log never prints them). */
  secrets?: readonly string[];
}

/**
 * Writes the build's reports of `record` into `dir`: the JUnit report, the Markdown summary, the release record,
 * and the watch's data log and HTML report when the monitor step ran. Everything written is redacted first.
 */
export async function writeBuildReports(
  dir: string,
  record: ReleaseRecord,
  log?: Pick<BuildLog, 'line'> & ReportSecrets,
): Promise<void> {
  const clean = redactRecord(record, log?.secrets ?? []);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, REPORT_FILES.junit), junitReport(clean, { hostname: hostname() }));
  await writeFile(join(dir, REPORT_FILES.summary), summaryMarkdown(clean));
  await writeFile(join(dir, REPORT_FILES.record), `${JSON.stringify(clean, null, 2)}\n`);
  const files = record.steps.find((s) => s.id === 'monitor')?.changed as { log?: string; report?: string } | undefined;
  for (const [from, to] of [
    [files?.log, REPORT_FILES.monitorLog],
    [files?.report, REPORT_FILES.monitorReport],
  ] as const) {
    if (!from) continue;
    await copyFile(from, join(dir, to)).catch((error: unknown) =>
      log?.line(`warning: ${from} could not be copied to ${dir}: ${errorMessage(error)}`),
    );
  }
}

/** The summary when the build stopped before a release existed (bad parameters, another release open). */
export async function writeErrorSummary(
  dir: string,
  command: string,
  message: string,
  log?: Pick<BuildLog, 'line'> & ReportSecrets,
): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, REPORT_FILES.summary), redact(summaryOfError(command, message), log?.secrets ?? []));
  } catch (error) {
    log?.line(`warning: ${dir}/${REPORT_FILES.summary} could not be written: ${errorMessage(error)}`);
  }
}

/** The record with every secret replaced (redact also finds a secret where JSON escapes it). */
function redactRecord(record: ReleaseRecord, secrets: readonly string[]): ReleaseRecord {
  return JSON.parse(redact(JSON.stringify(record), secrets)) as ReleaseRecord;
}
