import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  docker,
  type Receiver,
  relBin,
  startAndWaitHealthy,
  startReceiver,
  startTestNginx,
  type TestNginx,
  testProject,
  throughNginx,
} from '@rel/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// rel monitor against the sample app's real containers behind a real nginx: the monitor watches green and,
// on a breach, rolls back to blue through nginx and notifies a local receiver.
describe('rel monitor', () => {
  const t = testProject('mon');
  let nginx: TestNginx;
  let receiver: Receiver;
  const received = () => receiver.received.map((r) => r.body);
  const greenApi = () => `http://127.0.0.1:${t.ports.green.apiPort}`;
  const fail = (mode: 'error' | 'slow' | 'off') =>
    fetch(`${greenApi()}/admin/fail?mode=${mode}`, { method: 'POST' }).then((r) => r.arrayBuffer());
  const monitorDir = join(t.dir, 'state', 'monitor');

  /** The lines of the newest monitor log. */
  function newestLog(): Array<Record<string, unknown> & { type: string }> {
    const logs = readdirSync(monitorDir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort();
    return readFileSync(join(monitorDir, logs.at(-1)!), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    nginx = await startTestNginx(t, 'socket');
    appendFileSync(
      t.configFile,
      `${nginx.yaml}\nnotifications:\n  timeout: 2s\n  targets:\n    - { kind: webhook, name: local, url: "${receiver.url}/hook" }\n`,
    );
    for (const [env, version] of [
      ['blue', 'v1'],
      ['green', 'v2'],
    ]) {
      for (const role of ['backend', 'frontend']) {
        // fixtures: blue is what nginx routes to from the start, and serves once its API runs
        const r = await t.rel(['deploy', role!, env!, version!, '--force']);
        expect(r.code, r.stderr).toBe(0);
      }
    }
  });
  afterAll(async () => {
    await nginx?.stop();
    await receiver?.close();
    await t.cleanup();
  });

  // every test starts with green live (blue before it) and healthy
  beforeEach(async () => {
    await fail('off').catch(() => undefined);
    await startAndWaitHealthy(`${t.project}-green-api`, t.ports.green.apiPort);
    await fail('off');
    for (const env of ['blue', 'green']) {
      const r = await t.rel(['switch', env]);
      expect(r.code, r.stderr).toBe(0);
    }
    receiver.received.length = 0;
  });

  it('a healthy green passes the whole run: every check logged, a summary, a report and a Prometheus file', async () => {
    const r = await t.rel(['monitor', '2s', '--interval', '500ms']);
    expect(r.code, r.stderr).toBe(0);
    // the time watched ends with the last check (at 2 s), so it is 2 s and how long that check took
    const counted = r.stdout.match(/green passed (\d+\.\d)s of monitoring: (\d) checks?, 0 failed/);
    expect(counted, r.stdout).not.toBeNull();
    expect(Number(counted![1])).toBeGreaterThanOrEqual(2);
    const lines = newestLog();
    expect(lines[0]).toMatchObject({ type: 'start', intervalMs: 500 });
    const checks = lines.filter((l) => l.type === 'check');
    // Five slots (0, 0.5, ... 2 s): each ran a check, or was skipped because the check before overran it (a
    // busy machine), and the log says which
    const skipped = checks.reduce((sum, c) => sum + (c.skippedSlots as number), 0);
    expect(checks.length + skipped).toBe(5);
    expect(checks.length).toBeGreaterThanOrEqual(3);
    expect(Number(counted![2])).toBe(checks.length);
    expect(checks.every((c) => c.verdict === 'pass')).toBe(true);
    expect((checks[0]!.probes as Array<{ probe: string }>).map((p) => p.probe)).toEqual([
      'public',
      'api',
      'client',
      'green-containers',
    ]);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'passed', checks: checks.length, failures: 0 });
    const report = r.stdout.match(/report (\S+\.html)/)![1]!;
    expect(readFileSync(report, 'utf8')).toMatch(/<svg/);
    const prom = readFileSync(join(monitorDir, 'rel_monitor.prom'), 'utf8');
    expect(prom).toMatch(
      new RegExp(`^rel_monitor_checks_total\\{[^}]*environment="green"[^}]*\\} ${checks.length}$`, 'm'),
    );
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ env: 'green' });
  });

  it("loads none of Node's TLS, crypto, zlib or child-process modules while it watches (start-up CPU)", async () => {
    // Node's list of the built-in modules a process loaded, written when it exits
    const hook = join(t.dir, 'module-list.mjs');
    const list = join(t.dir, 'modules.txt');
    writeFileSync(
      hook,
      `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`,
    );
    const r = await t.rel(['monitor', '1s', '--interval', '500ms'], { NODE_OPTIONS: `--import ${hook}` });
    expect(r.code, r.stderr).toBe(0);
    const loaded = readFileSync(list, 'utf8').split('\n');
    expect(loaded).toContain('NativeModule http');
    expect(loaded.filter((m) => /^NativeModule (tls|https|crypto|child_process|dgram|zlib)$/.test(m))).toEqual([]);
  });

  it('the API made to fail: after exactly 3 failed checks traffic is back on blue and the receiver was told', async () => {
    await fail('error');
    const r = await t.rel(['monitor', '30s', '--interval', '500ms', '--threshold', '3']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/rolled back to blue \(was green\): 3 consecutive failed checks/);
    const lines = newestLog();
    const checks = lines.filter((l) => l.type === 'check');
    expect(checks).toHaveLength(3);
    expect(checks.map((c) => c.verdict)).toEqual(['fail', 'fail', 'fail']);
    expect(lines.find((l) => l.type === 'breach')).toMatchObject({ rule: 'consecutive-failures' });
    expect(lines.find((l) => l.type === 'action')).toMatchObject({ ok: true });
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ status: 200, env: 'blue', version: 'v1' });
    expect(received()).toHaveLength(1);
    expect(received()[0]).toMatchObject({ event: 'rollback', to: 'blue', from: 'green' });
    const events = readFileSync(join(t.dir, 'state', 'release-events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ event: 'rollback', to: 'blue' });
  });

  it("green's API container stopped: rolled back after 3 checks", async () => {
    await docker('stop', '-t', '1', `${t.project}-green-api`);
    const r = await t.rel(['monitor', '30s', '--interval', '500ms']);
    expect(r.code, r.stderr).toBe(4);
    expect(newestLog().filter((l) => l.type === 'check')).toHaveLength(3);
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ env: 'blue' });
  });

  it('responses slower than the timeout count as failures', async () => {
    await fail('slow');
    const r = await t.rel(['monitor', '30s', '--interval', '500ms', '--timeout', '300ms']);
    expect(r.code, r.stderr).toBe(4);
    const checks = newestLog().filter((l) => l.type === 'check');
    expect(checks).toHaveLength(3);
    const api = (checks[0]!.probes as Array<{ probe: string; verdict: string; error?: string }>).find(
      (p) => p.probe === 'api',
    );
    expect(api).toMatchObject({ verdict: 'fail', error: expect.stringMatching(/timeout|timed out/i) });
  });

  it('memory over the limit fires the memory rule', async () => {
    const r = await t.rel(['monitor', '30s', '--interval', '500ms', '--memory-limit', '1MiB']);
    expect(r.code, r.stderr).toBe(4);
    expect(newestLog().find((l) => l.type === 'breach')).toMatchObject({ rule: 'memory-limit' });
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ env: 'blue' });
  });

  it('--no-rollback reports the breach, leaves traffic where it is, and says so to the receiver', async () => {
    await fail('error');
    const r = await t.rel(['monitor', '30s', '--interval', '500ms', '--no-rollback']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/breached the monitor's policy: 3 consecutive failed checks/);
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ env: 'green' });
    expect(received()).toHaveLength(1);
    expect(received()[0]).toMatchObject({ event: 'breach', severity: 'warning', environment: 'green' });
  });

  it('a rollback that fails (blue has no running API) is announced as critical; exit 1', async () => {
    await docker('stop', `${t.project}-blue-api`);
    try {
      await fail('error');
      const r = await t.rel(['monitor', '30s', '--interval', '500ms']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /breached the monitor's policy .* and the rollback to blue failed: refusing to roll back to blue/,
      );
      expect(await throughNginx(nginx.publicUrl)).toMatchObject({ env: 'green' });
      expect(received()).toHaveLength(1);
      expect(received()[0]).toMatchObject({
        event: 'rollback-failed',
        severity: 'critical',
        from: 'green',
        to: 'blue',
      });
    } finally {
      await startAndWaitHealthy(`${t.project}-blue-api`, t.ports.blue.apiPort);
    }
  });

  it('SIGINT mid-run leaves a complete log and summary, exit 130, no rollback', async () => {
    const child = spawn(process.execPath, [
      relBin,
      'monitor',
      '30s',
      '--interval',
      '300ms',
      '--json',
      '--config',
      t.configFile,
    ]);
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    // SIGINT once a few checks are logged
    for (let i = 0; i < 100 && (stdout.match(/"check \d+/g) ?? []).length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stdout).toBe(130);
    const lines = newestLog();
    expect(lines.filter((l) => l.type === 'check').length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', outcome: 'stopped' });
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ env: 'green' });
  });

  it('rel monitor report renders the HTML report of a log', async () => {
    const logs = readdirSync(monitorDir).filter((f) => f.endsWith('.jsonl'));
    const log = join(monitorDir, logs[0]!);
    const output = join(t.dir, 'report.html');
    const r = await t.rel(['monitor', 'report', log, '--output', output]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(output)).toBe(true);
    expect(readFileSync(output, 'utf8')).toMatch(/^<!doctype html>/i);
    const missing = await t.rel(['monitor', 'report', join(t.dir, 'nope.jsonl')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [['0'], /duration/],
    [['10x'], /invalid duration "10x"/],
    [['1m', '--interval', '0'], /invalid --interval "0": must be greater than zero/],
    [['1m', '--interval=-5s'], /invalid --interval "-5s"/],
    [['1m', '--threshold', '0'], /invalid --threshold "0"/],
    [['1m', '--failures', '5/3'], /invalid --failures "5\/3"/],
    [['1m', '--memory-limit', 'lots'], /--memory-limit: "lots" is not a size/],
    [['1m', '--url', 'ftp://127.0.0.1/x'], /invalid --url: ftp: is not http or https/],
  ])('bad input %j: one line, exit 2', async (args, message) => {
    const r = await t.rel(['monitor', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
