import { readFile } from 'node:fs/promises';
import { errorMessage, JsonLinesWriter, RelError } from '@rel/core';
import type { MonitorLogLine } from './types.js';

const LINE_TYPES = new Set(['start', 'check', 'breach', 'action', 'summary']);

/**
 * The monitor's log: @rel/core's `JsonLinesWriter` (one `write(2)` and one `fdatasync` per line: a crash loses at
 * most the line being written). Opened (and its directory created) up front so a bad path fails before the run.
 */
export class MonitorLogWriter {
  readonly path: string;
  private writer: JsonLinesWriter<MonitorLogLine> | undefined;

  constructor(path: string) {
    this.path = path;
    try {
      // A check line holds only strings and numbers (runMonitor builds it from the probes' outcomes): plain JSON,
      // without safeJson's per-value replacer. The other lines may carry an action's result: safeJson.
      this.writer = new JsonLinesWriter<MonitorLogLine>(path, {
        stringify: (line) => (line.type === 'check' ? JSON.stringify(line) : (safeJson(line) ?? '{}')),
      });
    } catch (error) {
      throw new RelError('CONFIG', `monitor log ${path} cannot be opened for appending: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  append(line: MonitorLogLine): void {
    if (this.writer === undefined) throw new Error(`monitor log ${this.path} is closed`);
    this.writer.append(line);
  }

  close(): void {
    this.writer?.close();
    this.writer = undefined;
  }
}

/** JSON of a log line; a value JSON cannot hold (a BigInt, a cycle in an action's result) becomes text. */
export function safeJson(value: unknown): string | undefined {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner === 'bigint') return inner.toString();
    if (inner instanceof Error) return { name: inner.name, message: inner.message };
    if (typeof inner === 'object' && inner !== null) {
      if (seen.has(inner)) return '[circular]';
      seen.add(inner);
    }
    return inner;
  });
}

/**
 * Parses the text of a monitor log. A last line cut short (a crash mid-write) is dropped; any other line
 * that is not a monitor log line is BAD_INPUT naming its number.
 */
export function parseMonitorLog(text: string, source = 'monitor log'): MonitorLogLine[] {
  const rows = text.split('\n');
  const complete = text.endsWith('\n') || text === '';
  const lines: MonitorLogLine[] = [];
  rows.forEach((row, index) => {
    if (row.trim() === '') return;
    const last = index === rows.length - 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row);
    } catch {
      if (last && !complete) return;
      throw new RelError('BAD_INPUT', `line ${index + 1} of ${source} is not JSON`);
    }
    const type = (parsed as { type?: unknown })?.type;
    if (typeof type !== 'string' || !LINE_TYPES.has(type)) {
      throw new RelError(
        'BAD_INPUT',
        `line ${index + 1} of ${source} is not a monitor log line (type ${String(type)})`,
      );
    }
    lines.push(parsed as MonitorLogLine);
  });
  return lines;
}

/** Reads a monitor log (JSON Lines), tolerating a truncated last line. */
export async function readMonitorLog(path: string): Promise<MonitorLogLine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT';
    throw new RelError(code, `monitor log ${path} cannot be read: ${errorMessage(error)}`, { cause: error });
  }
  return parseMonitorLog(text, path);
}
