// A crafted JSONL log read from a real file for the report: lines that are not JSON, not objects, of unknown types
// or of wrong shapes are skipped and counted; the report renders and says how many.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkLogLine, parseLogForReport, readLogForReport, renderHtmlReport } from './index.js';

const XSS = '<script>alert(1)</script>';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-monitor-report-input-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const start = {
  type: 'start',
  time: '2025-11-08T12:00:00.000Z',
  intervalMs: 1000,
  durationMs: 5000,
  policy: XSS,
  probes: [{ name: 'api', kind: 'http', target: XSS, timeoutMs: 500 }],
};
const check = {
  type: 'check',
  seq: 1,
  time: '2025-11-08T12:00:01.000Z',
  verdict: 'fail',
  durationMs: 3,
  skippedSlots: 0,
  probes: [{ probe: 'api', verdict: 'fail', status: 503, latencyMs: 2, error: XSS }],
  consecutiveFailures: 1,
};

describe('parseLogForReport / readLogForReport', () => {
  it('skips and counts every line it cannot trust, a last line cut short too, and the report says so', async () => {
    const bad = [
      '{"type":"check","probes":5}',
      `not json ${XSS}`,
      '[1,2,3]',
      'null',
      '42',
      JSON.stringify(XSS),
      '{"type":"other"}',
      JSON.stringify({ ...check, seq: XSS }),
      JSON.stringify({ type: 'summary', outcome: XSS, checks: XSS, reason: XSS }),
    ];
    const text = [JSON.stringify(start), ...bad, JSON.stringify(check), '', '   ', '{"type":"check","se'].join('\n');
    const path = join(dir, 'monitor.jsonl');
    await writeFile(path, text);

    const log = await readLogForReport(path);
    expect(log.lines.map((l) => l.type)).toEqual(['start', 'check']);
    expect(log.skipped).toBe(bad.length + 1);

    const html = renderHtmlReport(log.lines, { skipped: log.skipped });
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(`${bad.length + 1} log lines skipped`);
    expect(html).toContain('<td>api 503 &lt;script&gt;alert(1)&lt;/script&gt;</td>');
  });

  it('rebuilds a line from the fields it knows, dropping the others', () => {
    expect(checkLogLine({ ...check, extra: XSS, probes: [{ ...check.probes[0], extra: XSS }] })).toEqual(check);
    expect(checkLogLine({ ...start, probes: [] })).toEqual({ ...start, probes: [] });
    expect(checkLogLine({ ...check, time: 'yesterday' })).toBeUndefined();
    expect(checkLogLine({ ...check, durationMs: Number.POSITIVE_INFINITY })).toBeUndefined();
  });

  it('a log of nothing but good lines skips none; a missing file is NOT_FOUND', async () => {
    expect(parseLogForReport(`${JSON.stringify(start)}\n${JSON.stringify(check)}\n`).skipped).toBe(0);
    const error = await readLogForReport(join(dir, 'missing.jsonl')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('NOT_FOUND');
  });
});
