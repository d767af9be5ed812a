import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  docker,
  relBin,
  startAndWaitHealthy,
  startReceiver,
  startTestNginx,
  type TestNginx,
  testProject,
  throughNginx,
} from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// rel switch / rollback through a real nginx in front of the sample app's real containers.
describe.each(['socket', 'reload'] as const)('rel switch and rollback (%s method)', (method) => {
  const t = testProject(`sw${method[0]}`);
  let nginx: TestNginx;

  beforeAll(async () => {
    nginx = await startTestNginx(t, method);
    appendFileSync(t.configFile, nginx.yaml);
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
    const first = await t.rel(['switch', 'blue']);
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(async () => {
    await nginx?.stop();
    await t.cleanup();
  });

  it('blue -> green -> blue, verified by the environment header through nginx', async () => {
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ status: 200, env: 'blue', version: 'v1' });
    const toGreen = await t.rel(['switch', 'green']);
    expect(toGreen.code, toGreen.stderr).toBe(0);
    expect(toGreen.stdout).toMatch(new RegExp(`green is live \\(was blue; ${method} method`));
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ status: 200, env: 'green', version: 'v2' });
    expect((await throughNginx(nginx.publicUrl, '/')).env).toBe('green');
    const status = await t.rel(['status']);
    expect(status.stdout).toMatch(/^live: green since \d{4}-\d\d-\d\dT/);
    const again = await t.rel(['switch', 'green']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/green is live already; nothing changed/);
    const back = await t.rel(['switch', 'blue']);
    expect(back.code, back.stderr).toBe(0);
    expect(await throughNginx(nginx.publicUrl)).toMatchObject({ env: 'blue', version: 'v1' });
    const state = JSON.parse(readFileSync(join(t.dir, 'state', 'live.json'), 'utf8'));
    expect(state).toMatchObject({ live: 'blue', previous: 'green', versions: { blue: 'v1', green: 'v2' } });
    const audit = readFileSync(join(t.dir, 'state', 'switch-audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(audit.at(-1)).toMatchObject({ from: 'green', to: 'blue', result: 'switched', method });
  });

  it('an environment with a stopped container is refused before nginx is touched', async () => {
    const before = readFileSync(nginx.configFile, 'utf8');
    await docker('stop', `${t.project}-green-api`);
    try {
      const r = await t.rel(['switch', 'green']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^rel: .*green has no running api container/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(readFileSync(nginx.configFile, 'utf8')).toBe(before);
      expect((await throughNginx(nginx.publicUrl)).env).toBe('blue');
      // rollback skips the health checks, but never routes to an environment with no running containers
      const rollback = await t.rel(['rollback', 'green']);
      expect(rollback.code).toBe(1);
      expect(rollback.stderr).toMatch(/^rel: refusing to roll back to green: it has no running api container/);
    } finally {
      await startAndWaitHealthy(`${t.project}-green-api`, t.ports.green.apiPort);
    }
  });

  // only the reload method runs nginx -t: defined for it alone (not skipped for the other)
  if (method === 'reload')
    it('a config broken on purpose: nginx -t fails, the old config stays, traffic untouched', async () => {
      const before = readFileSync(nginx.configFile, 'utf8');
      unlinkSync(join(nginx.prefix, 'extra.conf'));
      try {
        const r = await t.rel(['switch', 'green']);
        expect(r.code).toBe(2); // a configuration problem; nothing was changed
        expect(r.stderr).toMatch(/extra\.conf/);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(readFileSync(nginx.configFile, 'utf8')).toBe(before);
        for (let i = 0; i < 5; i++) expect((await throughNginx(nginx.publicUrl)).env).toBe('blue');
      } finally {
        writeFileSync(join(nginx.prefix, 'extra.conf'), '# restored\n');
      }
    });

  it('a second rel switch while one runs is refused, naming the holder', async () => {
    // green's health check answers after 30 s: the first switch waits on it (its check times out at 3 s)
    await fetch(`http://127.0.0.1:${t.ports.green.apiPort}/admin/fail?mode=slow`, { method: 'POST' });
    try {
      const first = t.rel(['switch', 'green']);
      await new Promise((r) => setTimeout(r, 1200));
      const second = await t.rel(['switch', 'green']);
      expect(second.code).toBe(3);
      expect(second.stderr).toMatch(/^rel: release lock held by "switch green" \(pid \d+ on \S+, user \S+, since /);
      const firstResult = await first;
      expect(firstResult.code).toBe(1);
      expect(firstResult.stderr).toMatch(/green's API answers/);
      expect((await throughNginx(nginx.publicUrl)).env).toBe('blue');
    } finally {
      await fetch(`http://127.0.0.1:${t.ports.green.apiPort}/admin/fail?mode=off`, { method: 'POST' });
    }
  });

  it('kill -9 of rel switch at any moment, then a rerun: converges, state file valid, nginx serving', async () => {
    for (const [i, delay] of [60, 120, 180, 240, 300, 360, 450].entries()) {
      const target = i % 2 === 0 ? 'green' : 'blue';
      const child = spawn(process.execPath, [relBin, 'switch', target, '--config', t.configFile], { stdio: 'ignore' });
      // listen from the start: a switch faster than the delay has exited before the kill
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      const rerun = await t.rel(['switch', target]);
      expect(rerun.code, `after kill at ${delay} ms: ${rerun.stderr}`).toBe(0);
      const state = JSON.parse(readFileSync(join(t.dir, 'state', 'live.json'), 'utf8'));
      expect(state.live).toBe(target);
      expect(state.pending).toBeUndefined();
      // reload method: a reload the killed process had already sent is still being carried out by nginx
      // (old workers finish asynchronously): the answer must become the target's within 2 s
      let seen = await throughNginx(nginx.publicUrl);
      for (let tries = 0; method === 'reload' && seen.env !== target && tries < 20; tries++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await throughNginx(nginx.publicUrl);
      }
      expect(seen).toMatchObject({ status: 200, env: target });
    }
    const back = await t.rel(['switch', 'blue']);
    expect(back.code, back.stderr).toBe(0);
  });

  if (method === 'socket')
    it('rollback and a failed switch: notifications reach a local receiver; a receiver that is down does not stop it', async () => {
      const receiver = await startReceiver();
      const { received } = receiver;
      const secretPath = `/hook/T0KEN-${Date.now()}`;
      try {
        appendFileSync(
          t.configFile,
          `notifications:\n  timeout: 1s\n  retries: 1\n  targets:\n    - { kind: webhook, name: local, url: "${receiver.url}${secretPath}" }\n    - { kind: slack, name: down, url: "http://127.0.0.1:1/services/SECRET" }\n`,
        );
        expect((await t.rel(['switch', 'green'])).code).toBe(0);
        const r = await t.rel(['rollback', 'blue', '--reason', 'error rate']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/rolled back to blue \(was green\); notifications: 1 of 2 sent/);
        expect(r.stdout).toMatch(/notification to down \(127\.0\.0\.1:1\) failed after 2 attempts/);
        expect(r.stdout + r.stderr).not.toContain('T0KEN');
        expect(r.stdout + r.stderr).not.toContain('SECRET');
        expect((await throughNginx(nginx.publicUrl)).env).toBe('blue');
        expect(received).toHaveLength(1);
        expect(received[0]!.path).toBe(secretPath);
        expect(received[0]!.body).toMatchObject({ severity: 'critical', event: 'rollback', from: 'green', to: 'blue' });
        const events = readFileSync(join(t.dir, 'state', 'release-events.jsonl'), 'utf8')
          .trim()
          .split('\n');
        expect(JSON.parse(events.at(-1)!)).toMatchObject({ event: 'rollback', to: 'blue', reason: 'error rate' });

        // a switch that fails is announced too (as a warning: traffic stayed where it was)
        await docker('stop', `${t.project}-green-api`);
        try {
          const failed = await t.rel(['switch', 'green']);
          expect(failed.code).toBe(1);
          expect((await throughNginx(nginx.publicUrl)).env).toBe('blue');
          expect(received).toHaveLength(2);
          expect(received[1]!.body).toMatchObject({ severity: 'warning', event: 'switch-failed', to: 'green' });
        } finally {
          await startAndWaitHealthy(`${t.project}-green-api`, t.ports.green.apiPort);
        }
      } finally {
        await receiver.close();
      }
    });

  if (method === 'socket')
    it('bad input: one line, non-zero, nothing changed', async () => {
      const original = readFileSync(t.configFile, 'utf8');
      const cases: [string, (yaml: string) => string, RegExp][] = [
        [
          'missing nginx config',
          (y) => y.replace(/config: .*nginx\.conf/, 'config: /nonexistent/nginx.conf'),
          /\/nonexistent\/nginx\.conf/,
        ],
        [
          'upstream not in the config',
          (y) => y.replace(/api: (\S+)_api,/, 'api: no_such_upstream,'),
          /no_such_upstream/,
        ],
        [
          'unwritable state directory',
          (y) => y.replace(/^stateDir: .*$/m, `stateDir: ${t.configFile}/state`),
          /state directory|not a directory/i,
        ],
      ];
      try {
        for (const [what, edit, pattern] of cases) {
          writeFileSync(t.configFile, edit(original));
          const r = await t.rel(['switch', 'green']);
          expect(r.code, what).not.toBe(0);
          expect(r.stderr, what).toMatch(pattern);
          expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
        }
        writeFileSync(t.configFile, original);
        await nginx.stop();
        await new Promise((r) => setTimeout(r, 300));
        const down = await t.rel(['switch', 'green']);
        expect(down.code).not.toBe(0);
        expect(down.stderr).toMatch(/nginx/i);
        expect(down.stderr.trim().split('\n')).toHaveLength(1);
      } finally {
        writeFileSync(t.configFile, original);
        rmSync(join(nginx.prefix, 'nginx.pid'), { force: true });
      }
      const { execFile } = await import('node:child_process');
      await new Promise((r) => execFile('nginx', ['-p', `${nginx.prefix}/`, '-c', 'nginx.conf'], r));
      expect((await throughNginx(nginx.publicUrl)).env).toBe('blue');
    });
});
