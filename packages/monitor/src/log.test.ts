import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMonitorLog, readMonitorLog } from './index.js';
import { MonitorLogWriter, safeJson } from './log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-monitor-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const start = {
  type: 'start',
  time: '2025-11-08T12:00:00.000Z',
  intervalMs: 1000,
  durationMs: 5000,
  policy: 'x',
  probes: [],
};
const checkLine = {
  type: 'check',
  seq: 1,
  time: '2025-11-08T12:00:00.000Z',
  verdict: 'pass',
  durationMs: 3,
  skippedSlots: 0,
  probes: [],
  consecutiveFailures: 0,
};

describe('MonitorLogWriter', () => {
  it('appends one JSON line per call, creating the directory, and keeps earlier content', async () => {
    const path = join(dir, 'nested', 'monitor.jsonl');
    const first = new MonitorLogWriter(path);
    first.append(start as never);
    first.close();
    const second = new MonitorLogWriter(path);
    second.append(checkLine as never);
    second.close();
    const text = await readFile(path, 'utf8');
    expect(text.split('\n')).toEqual([JSON.stringify(start), JSON.stringify(checkLine), '']);
  });

  it('writes values JSON cannot hold as text', () => {
    const cyclic: Record<string, unknown> = { n: 10n };
    cyclic.self = cyclic;
    expect(JSON.parse(safeJson({ cyclic, error: new Error('boom') })!)).toEqual({
      cyclic: { n: '10', self: '[circular]' },
      error: { name: 'Error', message: 'boom' },
    });
  });
});

describe('readMonitorLog', () => {
  it('parses every line', async () => {
    const path = join(dir, 'log.jsonl');
    await writeFile(path, `${JSON.stringify(start)}\n${JSON.stringify(checkLine)}\n`);
    expect(await readMonitorLog(path)).toEqual([start, checkLine]);
  });

  it('drops a last line cut short by a crash', async () => {
    const path = join(dir, 'log.jsonl');
    await writeFile(path, `${JSON.stringify(start)}\n${JSON.stringify(checkLine).slice(0, 40)}`);
    expect(await readMonitorLog(path)).toEqual([start]);
  });

  it('refuses a broken line in the middle, naming its number', () => {
    const text = `${JSON.stringify(start)}\n{"type":"check",\n${JSON.stringify(checkLine)}\n`;
    expect(() => parseMonitorLog(text, 'x.jsonl')).toThrow('line 2 of x.jsonl is not JSON');
    expect(() => parseMonitorLog('{"type":"other"}\n')).toThrow(/line 1 of monitor log is not a monitor log line/);
  });

  it('an empty file is an empty log; a missing one is NOT_FOUND', async () => {
    expect(parseMonitorLog('')).toEqual([]);
    const error = await readMonitorLog(join(dir, 'missing.jsonl')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('NOT_FOUND');
  });
});
