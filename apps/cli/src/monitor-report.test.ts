// rel monitor report of a crafted log (security review, issue 15): the page carries no markup from the log, lines
// it cannot trust are skipped, and both the page and the command's output say how many.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from './cli.js';

const XSS = '"><script>alert(1)</script>';
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-cli-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rel(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(args, { stdout, stderr, env: { CI: '1' } });
  return { code, out, err };
}

it('rel monitor report renders a crafted log, escaped, and says how many lines it skipped', async () => {
  const time = '2025-11-08T12:00:00.000Z';
  const lines = [
    JSON.stringify({ type: 'start', time, intervalMs: 1000, durationMs: 5000, policy: XSS, probes: [] }),
    '{"type":"check","probes":5}',
    XSS,
    '[]',
    'null',
    JSON.stringify({ type: 'summary', time, outcome: XSS, reason: XSS, checks: XSS }),
  ];
  const log = join(dir, 'monitor.jsonl');
  const output = join(dir, 'report.html');
  await writeFile(log, `${lines.join('\n')}\n`);
  const r = await rel(['monitor', 'report', log, '--output', output]);
  expect(r.code, r.err).toBe(0);
  expect(r.out).toContain('report of 1 log lines (5 skipped: not monitor log lines of a known shape');
  const html = await readFile(output, 'utf8');
  expect(html).not.toMatch(/<script/i);
  expect(html).toContain('5 log lines skipped');
});
