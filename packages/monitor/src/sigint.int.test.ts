// A real SIGINT to a child process running the built package (dist) through fixtures/sigint-monitor.mjs,
// which wires SIGINT to an AbortController as a CLI does: the log it leaves is complete and ends in a summary.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '@rel/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readMonitorLog } from './index.js';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = join(PACKAGE_DIR, 'fixtures', 'sigint-monitor.mjs');

let server: TestServer;
let dir: string;

beforeAll(async () => {
  // `npm test` builds first; build here when run on its own.
  if (!existsSync(join(PACKAGE_DIR, 'dist', 'index.js'))) {
    await new Promise<void>((resolve, reject) =>
      execFile('npx', ['tsup'], { cwd: PACKAGE_DIR, timeout: 120_000 }, (error) => (error ? reject(error) : resolve())),
    );
  }
  server = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), 'rel-monitor-sigint-'));
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

it('SIGINT stops a running monitor cleanly: exit 130, outcome stopped, every log line parses, a summary last', async () => {
  const log = join(dir, 'monitor.jsonl');
  const child = spawn(process.execPath, [FIXTURE, server.url(), log], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('CHECK 5\n')) resolve();
    });
    child.once('exit', () => reject(new Error(`the monitor ended before 5 checks: ${stdout}${stderr}`)));
  });
  const signalled = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  expect(Date.now() - signalled).toBeLessThan(1000);
  expect(stderr).toBe('');
  expect(code).toBe(130);
  const result = JSON.parse(/^RESULT (.*)$/m.exec(stdout)?.[1] ?? 'null') as {
    outcome: string;
    reason: string;
    checks: number;
  };
  expect(result.outcome).toBe('stopped');
  expect(result.reason).toMatch(/^stopped \(SIGINT\) after /);

  const text = await readFile(log, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const rows = text.trimEnd().split('\n');
  for (const row of rows) expect(() => JSON.parse(row)).not.toThrow();
  const lines = await readMonitorLog(log);
  expect(lines).toHaveLength(rows.length);
  expect(lines[0]?.type).toBe('start');
  expect(lines.filter((l) => l.type === 'check')).toHaveLength(result.checks);
  expect(result.checks).toBeGreaterThanOrEqual(5);
  expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'stopped', checks: result.checks, failures: 0 });
});
