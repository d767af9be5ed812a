// runMonitor against real HTTP: node:http servers on 127.0.0.1 that are healthy, fail on demand, flap, answer
// too slowly, or are not there at all; a real process whose memory grows; the sandbox's nginx.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelEvent } from '@rel/core';
import { closedPort, startTestServer, type TestServer } from '@rel/test-utils';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  httpProbe,
  type MonitorCheckLine,
  type MonitorLogLine,
  readMonitorLog,
  renderHtmlReport,
  resourceProbe,
  runMonitor,
} from './index.js';

let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  server.status = 200;
  server.pattern = undefined;
  server.delayMs = 0;
  server.body = 'ok\n';
  server.drop = undefined;
  server.requests = 0;
  server.connections = 0;
  dir = await mkdtemp(join(tmpdir(), 'rel-monitor-int-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Reads the log strictly: it ends with a newline and every line parses. */
async function completeLog(path: string): Promise<MonitorLogLine[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const lines = await readMonitorLog(path);
  expect(lines.length).toBe(text.trimEnd().split('\n').length);
  return lines;
}

const checksOf = (lines: MonitorLogLine[]) => lines.filter((l): l is MonitorCheckLine => l.type === 'check');

describe('runMonitor over real HTTP', () => {
  it('a healthy server passes for the whole duration; the Prometheus file follows every check (minIntervalMs 0)', async () => {
    const log = join(dir, 'monitor.jsonl');
    const prom = join(dir, 'rel_monitor.prom');
    const seen: number[] = [];
    const started = Date.now();
    const result = await runMonitor({
      probes: [httpProbe({ name: 'api', url: server.url(), timeoutMs: 500, expectBody: 'ok' })],
      intervalMs: 100,
      durationMs: 1500,
      log: { path: log },
      prometheus: { path: prom, minIntervalMs: 0 },
      labels: { environment: 'green' },
      onEvent: (event) => {
        if (event.type !== 'step:progress') return;
        // Written before the check is reported: the file already counts it.
        const text = readFileSync(prom, 'utf8');
        seen.push(Number(/rel_monitor_checks_total\{environment="green"\} (\d+)/.exec(text)?.[1]));
      },
    });
    const elapsed = Date.now() - started;
    expect(result.outcome).toBe('passed');
    expect(result.summary.failures).toBe(0);
    expect(result.summary.checks + result.summary.skippedSlots).toBe(16);
    expect(result.summary.checks).toBeGreaterThanOrEqual(14);
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(2500);
    expect(server.requests).toBe(result.summary.checks);
    expect(result.summary.latencyMs?.p50).toBeGreaterThan(0);
    expect(seen).toEqual(Array.from({ length: result.summary.checks }, (_, i) => i + 1));
    const lines = await completeLog(log);
    expect(lines[0]).toMatchObject({
      type: 'start',
      intervalMs: 100,
      durationMs: 1500,
      labels: { environment: 'green' },
    });
    expect(checksOf(lines).every((c) => c.verdict === 'pass' && c.probes[0]?.status === 200)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'passed', checks: result.summary.checks });
    const prometheus = await readFile(prom, 'utf8');
    expect(prometheus).toContain(`rel_monitor_checks_total{environment="green"} ${result.summary.checks}\n`);
    expect(prometheus).toContain('rel_monitor_up{environment="green"} 1\n');
    expect(prometheus).toMatch(/rel_monitor_latency_seconds\{environment="green",probe="api",quantile="0.95"\} 0\.\d+/);
  });

  it('a server made to fail triggers the action after exactly K consecutive failed checks, once', async () => {
    const log = join(dir, 'monitor.jsonl');
    const action = vi.fn(async () => ({ rolledBack: true, to: 'blue' }));
    const result = await runMonitor({
      probes: [httpProbe({ name: 'api', url: server.url(), timeoutMs: 500 })],
      intervalMs: 100,
      durationMs: 10_000,
      policy: { consecutiveFailures: 3 },
      action,
      log: { path: log },
      onEvent: (event) => {
        if (event.type === 'step:progress' && event.current === 3) server.status = 503;
      },
    });
    expect(result.outcome).toBe('breached');
    expect(action).toHaveBeenCalledTimes(1);
    expect(result.action).toMatchObject({ ok: true, result: { rolledBack: true, to: 'blue' } });
    expect(result.breach?.rule).toBe('consecutive-failures');
    expect(result.breach?.message).toMatch(
      /^3 consecutive failed checks: api 503 at \d\d:\d\d:\d\dZ, api 503 at .*, api 503 at .*$/,
    );
    const lines = await completeLog(log);
    const checks = checksOf(lines);
    expect(checks.map((c) => c.verdict)).toEqual(['pass', 'pass', 'pass', 'fail', 'fail', 'fail']);
    expect(checks.map((c) => c.consecutiveFailures)).toEqual([0, 0, 0, 1, 2, 3]);
    expect(lines.slice(-3).map((l) => l.type)).toEqual(['breach', 'action', 'summary']);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'breached', checks: 6, failures: 3 });
    // Stopped for good: no request after the sixth.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(server.requests).toBe(6);
  });

  it('flapping fail/pass/fail does not make K in a row, but fires N of M when configured', async () => {
    server.pattern = [503, 200];
    const probe = () => httpProbe({ name: 'api', url: server.url(), timeoutMs: 500 });
    const flapping = await runMonitor({
      probes: [probe()],
      intervalMs: 100,
      durationMs: 1200,
      policy: { consecutiveFailures: 3 },
    });
    expect(flapping.outcome).toBe('passed');
    expect(flapping.summary.failures).toBeGreaterThanOrEqual(5);
    expect(flapping.summary.maxConsecutiveFailures).toBe(1);

    server.requests = 0;
    const log = join(dir, 'n-of-m.jsonl');
    const windowed = await runMonitor({
      probes: [probe()],
      intervalMs: 100,
      durationMs: 5000,
      policy: { consecutiveFailures: 3, failuresInWindow: { failures: 3, window: 5 } },
      log: { path: log },
    });
    expect(windowed.outcome).toBe('breached');
    expect(windowed.breach?.rule).toBe('failures-in-window');
    expect(windowed.breach?.seq).toBe(5);
    expect(windowed.breach?.message).toMatch(/^3 of the last 5 checks failed \(limit 3 of 5\): api 503 at /);
    expect(checksOf(await completeLog(log)).map((c) => c.verdict)).toEqual(['fail', 'pass', 'fail', 'pass', 'fail']);
  });

  it('a response slower than the timeout is a failure', async () => {
    server.delayMs = 400;
    const log = join(dir, 'slow.jsonl');
    const result = await runMonitor({
      probes: [httpProbe({ name: 'api', url: server.url(), timeoutMs: 150 })],
      intervalMs: 250,
      durationMs: 10_000,
      policy: { consecutiveFailures: 2 },
      log: { path: log },
    });
    expect(result.outcome).toBe('breached');
    const checks = checksOf(await completeLog(log));
    expect(checks).toHaveLength(2);
    for (const c of checks) {
      expect(c.probes[0]).toEqual({ probe: 'api', verdict: 'fail', error: 'timeout after 150ms' });
      expect(c.durationMs).toBeGreaterThanOrEqual(145);
      expect(c.durationMs).toBeLessThan(300);
    }
    expect(result.breach?.message).toMatch(
      /^2 consecutive failed checks: api timeout after 150ms at .*, api timeout after 150ms at /,
    );
  });

  it('a closed port is a failure; one failing probe fails the check', async () => {
    const port = await closedPort();
    const result = await runMonitor({
      probes: [
        httpProbe({ name: 'api', url: server.url(), timeoutMs: 500 }),
        httpProbe({ name: 'client', url: `http://127.0.0.1:${port}/`, timeoutMs: 500 }),
      ],
      intervalMs: 100,
      durationMs: 10_000,
      policy: { consecutiveFailures: 2 },
    });
    expect(result.outcome).toBe('breached');
    expect(result.breach?.message).toMatch(
      /^2 consecutive failed checks: client ECONNREFUSED at .*, client ECONNREFUSED at /,
    );
    expect(result.summary.probes).toEqual([
      expect.objectContaining({ probe: 'api', checks: 2, failures: 0 }),
      expect.objectContaining({ probe: 'client', checks: 2, failures: 2, latencyMs: null }),
    ]);
  });

  it('a resource probe reporting memory over the limit fires (a real process that grows)', async () => {
    // A child node process that allocates and touches 200 MiB after 500 ms; its RSS comes from /proc.
    const child = spawn(
      process.execPath,
      [
        '-e',
        'setTimeout(() => { globalThis.keep = Buffer.alloc(200 * 1024 * 1024, 1); }, 500); setInterval(() => {}, 1000);',
      ],
      { stdio: 'ignore' },
    );
    try {
      const rss = async () => {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
      };
      const limitBytes = 150 * 1024 * 1024;
      const log = join(dir, 'memory.jsonl');
      const action = vi.fn(async () => 'rolled back');
      const result = await runMonitor({
        probes: [
          httpProbe({ name: 'api', url: server.url(), timeoutMs: 500 }),
          resourceProbe({ name: 'app-process', sample: async () => ({ memoryBytes: await rss() }) }),
        ],
        intervalMs: 100,
        durationMs: 10_000,
        policy: { memory: { limitBytes } },
        action,
        log: { path: log },
      });
      expect(result.outcome).toBe('breached');
      expect(result.breach?.rule).toBe('memory-limit');
      expect(result.breach?.message).toMatch(/^memory of app-process above 150\.0 MiB: \d+\.\d MiB at /);
      expect(action).toHaveBeenCalledTimes(1);
      const checks = checksOf(await completeLog(log));
      const memory = checks.map((c) => c.probes[1]?.memoryBytes ?? 0);
      expect(memory[0]).toBeLessThan(limitBytes);
      expect(memory.at(-1)).toBeGreaterThan(limitBytes);
      expect(result.summary.peakMemoryBytes).toBe(memory.at(-1));
      expect(checks.every((c) => c.verdict === 'pass')).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('an abort mid-run stops at once and leaves a complete log with a summary', async () => {
    server.delayMs = 60;
    const log = join(dir, 'abort.jsonl');
    const controller = new AbortController();
    setTimeout(() => controller.abort('SIGTERM'), 630);
    const started = Date.now();
    const result = await runMonitor({
      probes: [httpProbe({ name: 'api', url: server.url(), timeoutMs: 500 })],
      intervalMs: 100,
      durationMs: 60_000,
      log: { path: log },
      signal: controller.signal,
    });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.outcome).toBe('stopped');
    expect(result.reason).toMatch(/^stopped \(SIGTERM\) after [\d.]+m?s: \d+ checks, 0 failed$/);
    const lines = await completeLog(log);
    expect(lines[0]?.type).toBe('start');
    expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'stopped', checks: result.summary.checks });
    expect(checksOf(lines)).toHaveLength(result.summary.checks);
    expect(result.summary.checks).toBeGreaterThanOrEqual(5);
  });

  it('never shows a URL credentials or query in events, the log or the report', async () => {
    server.status = 503;
    const port = await closedPort();
    const log = join(dir, 'secrets.jsonl');
    const events: RelEvent[] = [];
    const result = await runMonitor({
      probes: [
        httpProbe({ name: 'api', url: `http://admin:pw-Secret-1@127.0.0.1:${server.port}/health?token=tok-Secret-2` }),
        httpProbe({ name: 'down', url: `http://127.0.0.1:${port}/x?api_key=key-Secret-3` }),
      ],
      intervalMs: 100,
      durationMs: 10_000,
      log: { path: log },
      onEvent: (event) => events.push(event),
    });
    expect(result.outcome).toBe('breached');
    const everything = [
      JSON.stringify(events),
      await readFile(log, 'utf8'),
      renderHtmlReport(await readMonitorLog(log)),
      JSON.stringify(result),
    ].join('\n');
    for (const secret of ['pw-Secret-1', 'tok-Secret-2', 'key-Secret-3', 'admin'])
      expect(everything).not.toContain(secret);
    expect(everything).toContain(`GET http://***@127.0.0.1:${server.port}/health?***`);
  });

  it('probes the sandbox nginx through its public URL', async () => {
    const probe = httpProbe({ name: 'public', url: 'http://127.0.0.1:8088/', timeoutMs: 2000 });
    try {
      const sample = await probe.check(new AbortController().signal);
      expect(typeof sample.status).toBe('number');
      expect(sample.latencyMs).toBeGreaterThan(0);
    } finally {
      await probe.close?.();
    }
  });
});

describe('httpProbe over real HTTP', () => {
  const signal = () => new AbortController().signal;

  it('opens a new connection per check; with keepAlive one serves every check', async () => {
    const fresh = httpProbe({ name: 'api', url: server.url(), timeoutMs: 1000 });
    for (let i = 0; i < 3; i++) expect(await fresh.check(signal())).toMatchObject({ ok: true, status: 200 });
    await fresh.close?.();
    expect(server.connections).toBe(3);

    server.connections = 0;
    const kept = httpProbe({ name: 'api', url: server.url(), timeoutMs: 1000, keepAlive: true });
    for (let i = 0; i < 3; i++) expect(await kept.check(signal())).toMatchObject({ ok: true, status: 200 });
    await kept.close?.();
    expect(server.connections).toBe(1);
    expect(server.requests).toBe(6);
  });

  it('with keepAlive, a kept connection closed under the request is asked once more on a new one', async () => {
    const kept = httpProbe({ name: 'api', url: server.url(), timeoutMs: 1000, keepAlive: true });
    expect(await kept.check(signal())).toMatchObject({ ok: true, status: 200 });
    server.drop = 'reused';
    // the 2nd request goes out on the kept connection, which the server closes: the answer comes on a new one
    expect(await kept.check(signal())).toMatchObject({ ok: true, status: 200 });
    expect(server.connections).toBe(2);
    expect(server.requests).toBe(3);
    // once only: a server that closes every connection under the request fails the check
    server.drop = 'all';
    const failed = await kept.check(signal());
    expect(failed.ok).toBe(false);
    expect(failed.error).toMatch(/other side closed|ECONNRESET|EPIPE/);
    expect(server.requests).toBe(5);
    await kept.close?.();
    // without keepAlive nothing is asked twice
    const fresh = httpProbe({ name: 'api', url: server.url(), timeoutMs: 1000 });
    expect((await fresh.check(signal())).ok).toBe(false);
    expect(server.requests).toBe(6);
    await fresh.close?.();
  });

  it('a request past the timeout fails at the timeout, and the next check gets an answer again', async () => {
    for (const keepAlive of [false, true]) {
      const probe = httpProbe({ name: 'api', url: server.url(), timeoutMs: 150, keepAlive });
      server.delayMs = 1000;
      const started = Date.now();
      expect(await probe.check(signal())).toEqual({ ok: false, error: 'timeout after 150ms' });
      expect(Date.now() - started).toBeLessThan(600);
      server.delayMs = 0;
      expect(await probe.check(signal())).toMatchObject({ ok: true, status: 200 });
      await probe.close?.();
    }
  });

  it('an aborted signal ends the request at once', async () => {
    server.delayMs = 1000;
    const probe = httpProbe({ name: 'api', url: server.url(), timeoutMs: 5000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    expect(await probe.check(controller.signal)).toEqual({ ok: false, error: 'aborted' });
    expect(Date.now() - started).toBeLessThan(600);
    await probe.close?.();
  });

  it('reads a large body only as far as it needs to', async () => {
    server.body = `${'x'.repeat(2 * 1024 * 1024)}ok\n`;
    const drained = httpProbe({ name: 'api', url: server.url(), timeoutMs: 2000 });
    expect(await drained.check(signal())).toMatchObject({ ok: true, status: 200 });
    // the marker lies past the first MiB: not found
    const marker = httpProbe({ name: 'api', url: server.url(), timeoutMs: 2000, expectBody: 'ok' });
    expect(await marker.check(signal())).toMatchObject({ ok: false, status: 200, error: 'body does not match "ok"' });
    server.body = `ok\n${'x'.repeat(2 * 1024 * 1024)}`;
    expect(await marker.check(signal())).toMatchObject({ ok: true, status: 200 });
    await drained.close?.();
    await marker.close?.();
  });
});
