// A monitor log as the HTML report reads it: the log is input, maybe crafted, so every line is checked field
// by field and rebuilt from the fields the report knows. A line of any other shape is skipped and counted,
// never trusted: a "number" that holds a string, a `probes` that is not a list, a line that is not JSON.
import { readFile } from 'node:fs/promises';
import { errorMessage, RelError } from '@rel/core';
import type {
  LatencyFigures,
  MonitorActionLine,
  MonitorBreachLine,
  MonitorCheckLine,
  MonitorLogLine,
  MonitorStartLine,
  MonitorSummaryLine,
  ProbeOutcome,
  ProbeSummary,
} from './types.js';

/** The lines of a log the report can show, and how many lines it skipped. */
export interface MonitorReportLog {
  lines: MonitorLogLine[];
  /** Lines that are not monitor log lines of a known shape (not JSON, unknown type, a field of the wrong type). */
  skipped: number;
}

/**
 * Longest duration a line may state, ms (about 31 years): with times limited to years 1970-9999, a time plus a
 * duration stays a valid Date, so the report never meets an Invalid Date.
 */
const MAX_MS = 1e12;
/** `2025-11-08T12:00:00Z`, `2025-11-08T12:00:00.123Z`, as the monitor writes them (toISOString). */
const ISO_TIME = /^(19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** Thrown by the field readers below; caught per line, which is then skipped. */
class Malformed extends Error {}

type Fields = Record<string, unknown>;

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown): Fields {
  if (!isRecord(value)) throw new Malformed();
  return value;
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new Malformed();
  return value;
}

function finite(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Malformed();
  return value;
}

/** A non-negative finite number: a size, a percentage, a latency. */
function amount(value: unknown): number {
  const n = finite(value);
  if (n < 0) throw new Malformed();
  return n;
}

/** A duration in ms, 0 to MAX_MS. */
function ms(value: unknown): number {
  const n = amount(value);
  if (n > MAX_MS) throw new Malformed();
  return n;
}

/** A whole number >= 0: a sequence number, a count. */
function count(value: unknown): number {
  const n = amount(value);
  if (!Number.isSafeInteger(n)) throw new Malformed();
  return n;
}

function time(value: unknown): string {
  const s = text(value);
  if (!ISO_TIME.test(s) || !Number.isFinite(Date.parse(s))) throw new Malformed();
  return s;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new Malformed();
  return value as T;
}

function list<T>(value: unknown, item: (value: unknown) => T): T[] {
  if (!Array.isArray(value)) throw new Malformed();
  return value.map(item);
}

function orNull<T>(value: unknown, read: (value: unknown) => T): T | null {
  return value === null ? null : read(value);
}

/** `{ [key]: read(value) }` when the field is present, `{}` when absent; present with the wrong type is malformed. */
function optional<K extends string, T>(fields: Fields, key: K, read: (value: unknown) => T): { [P in K]?: T } {
  return fields[key] === undefined ? {} : ({ [key]: read(fields[key]) } as { [P in K]?: T });
}

const VERDICTS = ['pass', 'fail'] as const;
const OUTCOMES = ['passed', 'breached', 'stopped'] as const;

function startLine(f: Fields): MonitorStartLine {
  return {
    type: 'start',
    time: time(f.time),
    intervalMs: ms(f.intervalMs),
    durationMs: orNull(f.durationMs, ms),
    policy: text(f.policy),
    probes: list(f.probes, (value) => {
      const p = record(value);
      return { name: text(p.name), kind: text(p.kind), ...optional(p, 'target', text), timeoutMs: ms(p.timeoutMs) };
    }),
    ...optional(f, 'labels', (value) => {
      const labels: Record<string, string> = {};
      for (const [key, label] of Object.entries(record(value))) labels[key] = text(label);
      return labels;
    }),
  };
}

function probeOutcome(value: unknown): ProbeOutcome {
  const p = record(value);
  return {
    probe: text(p.probe),
    verdict: oneOf(p.verdict, VERDICTS),
    ...optional(p, 'status', finite),
    ...optional(p, 'latencyMs', amount),
    ...optional(p, 'memoryBytes', amount),
    ...optional(p, 'cpuPercent', amount),
    ...optional(p, 'error', text),
  };
}

function checkLine(f: Fields): MonitorCheckLine {
  return {
    type: 'check',
    seq: count(f.seq),
    time: time(f.time),
    verdict: oneOf(f.verdict, VERDICTS),
    durationMs: ms(f.durationMs),
    skippedSlots: count(f.skippedSlots),
    probes: list(f.probes, probeOutcome),
    consecutiveFailures: count(f.consecutiveFailures),
  };
}

function breachLine(f: Fields): MonitorBreachLine {
  return {
    type: 'breach',
    rule: text(f.rule),
    message: text(f.message),
    seq: count(f.seq),
    time: time(f.time),
    // The report does not show the data behind a breach: kept only when it is an object.
    data: isRecord(f.data) ? f.data : {},
  };
}

function actionLine(f: Fields): MonitorActionLine {
  if (typeof f.ok !== 'boolean') throw new Malformed();
  return {
    type: 'action',
    time: time(f.time),
    startedAt: time(f.startedAt),
    durationMs: ms(f.durationMs),
    ok: f.ok,
    // Any JSON: the report prints it as JSON text, escaped.
    ...(f.result === undefined ? {} : { result: f.result }),
    ...optional(f, 'error', (value) => {
      const e = record(value);
      return { code: text(e.code), message: text(e.message) };
    }),
  };
}

function latency(value: unknown): LatencyFigures {
  const l = record(value);
  return {
    count: count(l.count),
    sumMs: amount(l.sumMs),
    p50: amount(l.p50),
    p95: amount(l.p95),
    p99: amount(l.p99),
    max: amount(l.max),
  };
}

function probeSummary(value: unknown): ProbeSummary {
  const p = record(value);
  return {
    probe: text(p.probe),
    checks: count(p.checks),
    failures: count(p.failures),
    latencyMs: orNull(p.latencyMs, latency),
    peakMemoryBytes: orNull(p.peakMemoryBytes, amount),
    lastMemoryBytes: orNull(p.lastMemoryBytes, amount),
    peakCpuPercent: orNull(p.peakCpuPercent, amount),
  };
}

function summaryLine(f: Fields): MonitorSummaryLine {
  return {
    type: 'summary',
    time: time(f.time),
    outcome: oneOf(f.outcome, OUTCOMES),
    reason: text(f.reason),
    startedAt: time(f.startedAt),
    endedAt: time(f.endedAt),
    durationMs: ms(f.durationMs),
    checks: count(f.checks),
    failures: count(f.failures),
    skippedSlots: count(f.skippedSlots),
    consecutiveFailures: count(f.consecutiveFailures),
    maxConsecutiveFailures: count(f.maxConsecutiveFailures),
    latencyMs: orNull(f.latencyMs, latency),
    peakMemoryBytes: orNull(f.peakMemoryBytes, amount),
    probes: list(f.probes, probeSummary),
  };
}

const READERS: Record<MonitorLogLine['type'], (fields: Fields) => MonitorLogLine> = {
  start: startLine,
  check: checkLine,
  breach: breachLine,
  action: actionLine,
  summary: summaryLine,
};

/** The line rebuilt from its known fields (others dropped), or `undefined` when it is not of a known shape. */
export function checkLogLine(value: unknown): MonitorLogLine | undefined {
  if (!isRecord(value) || typeof value.type !== 'string' || !Object.hasOwn(READERS, value.type)) return undefined;
  try {
    return READERS[value.type as MonitorLogLine['type']](value);
  } catch (error) {
    if (error instanceof Malformed) return undefined;
    throw error;
  }
}

/** Each value checked with `checkLogLine`: the good lines, and how many were skipped. */
export function checkLogLines(values: readonly unknown[]): MonitorReportLog {
  const lines: MonitorLogLine[] = [];
  for (const value of values) {
    const line = checkLogLine(value);
    if (line) lines.push(line);
  }
  return { lines, skipped: values.length - lines.length };
}

/**
 * The text of a monitor log, for the report: unlike `parseMonitorLog`, which refuses a log with a bad line, every
 * line that is not JSON or not of a known shape is skipped and counted (a last line cut short by a crash too).
 */
export function parseLogForReport(text: string): MonitorReportLog {
  const values: unknown[] = [];
  let unparsable = 0;
  for (const row of text.split('\n')) {
    if (row.trim() === '') continue;
    try {
      values.push(JSON.parse(row));
    } catch {
      unparsable += 1;
    }
  }
  const checked = checkLogLines(values);
  return { lines: checked.lines, skipped: checked.skipped + unparsable };
}

/** Reads a monitor log for the report (`parseLogForReport`); a missing file is NOT_FOUND. */
export async function readLogForReport(path: string): Promise<MonitorReportLog> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT';
    throw new RelError(code, `monitor log ${path} cannot be read: ${errorMessage(error)}`, { cause: error });
  }
  return parseLogForReport(content);
}
