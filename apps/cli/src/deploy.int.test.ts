import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerIds, docker, registryPassword, testProject } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs the real `rel` binary against the sandbox's Docker engine and authenticated registry.
describe('rel deploy (real engine and registry)', () => {
  const t = testProject('deploy');
  afterAll(() => t.cleanup());

  beforeAll(async () => {
    const blue = await t.rel(['deploy', 'backend', 'blue', 'v1']);
    expect(blue.stderr).toBe('');
    expect(blue.code).toBe(0);
  });

  it('deploys backend and frontend to green while blue runs; blue is untouched', async () => {
    const blueBefore = await containerIds(t.project, 'blue');
    expect(Object.keys(blueBefore).sort()).toEqual(['api', 'db']);

    const backend = await t.rel(['deploy', 'backend', 'green', 'v2']);
    expect(backend.code, backend.stderr).toBe(0);
    expect(backend.stdout).toMatch(/green backend is at v2 and healthy/);
    const frontend = await t.rel(['deploy', 'frontend', 'green', 'v2']);
    expect(frontend.code, frontend.stderr).toBe(0);

    expect(await containerIds(t.project, 'blue')).toEqual(blueBefore);
    const version = await fetch(`http://127.0.0.1:${t.ports.green.apiPort}/version`).then((r) => r.json());
    expect(version).toEqual({ version: 'v2' });
    const page = await fetch(`http://127.0.0.1:${t.ports.green.clientPort}/`).then((r) => r.text());
    expect(page).toContain('v2');
    // published on loopback only
    const bindings = await docker('port', `${t.project}-green-api`);
    expect(bindings).toMatch(/^8080\/tcp -> 127\.0\.0\.1:\d+$/);
  });

  it('deploying the same version again converges: the database is kept, the API replaced and healthy', async () => {
    const before = await containerIds(t.project, 'green');
    const again = await t.rel(['deploy', 'backend', 'green', 'v2']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/database .* is running; keeping it/);
    const after = await containerIds(t.project, 'green');
    expect(after.db).toBe(before.db);
    expect(after.api).not.toBe(before.api);
    expect((await fetch(`http://127.0.0.1:${t.ports.green.apiPort}/health`)).status).toBe(200);
  });

  it('the database volume survives a redeploy that recreates the database', async () => {
    const db = `${t.project}-green-db`;
    await docker(
      'exec',
      db,
      'psql',
      '-U',
      'app',
      '-d',
      'app',
      '-c',
      'CREATE TABLE IF NOT EXISTS keepme(x int); INSERT INTO keepme VALUES (42);',
    );
    await docker('rm', '-f', db);
    const redeploy = await t.rel(['deploy', 'backend', 'green', 'v2']);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    expect(await docker('exec', db, 'psql', '-U', 'app', '-d', 'app', '-tAc', 'SELECT x FROM keepme')).toBe('42');
  });

  it('a tag that does not exist: NOT_FOUND before anything is stopped', async () => {
    const before = await containerIds(t.project, 'green');
    const result = await t.rel(['deploy', 'backend', 'green', 'v999-nope']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^rel: image 127\.0\.0\.1:5000\/rel-sample\/api:v999-nope not found/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await containerIds(t.project, 'green')).toEqual(before);
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const before = await containerIds(t.project, 'green');
    const result = await t.rel(['deploy', 'backend', 'green', 'v1', '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/dry run: rel deploy backend green v1 would:/);
    expect(result.stdout).toMatch(/stop and remove .*-green-api \(api v2, running\)/);
    expect(result.stdout).toMatch(/keep .*-green-db \(database, running\)/);
    expect(await containerIds(t.project, 'green')).toEqual(before);
  });

  it('rel status lists both environments with versions and health (and --json)', async () => {
    const text = await t.rel(['status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^blue: running\n {2}db .*\n {2}api +\S+-blue-api +v1 +running/m);
    expect(text.stdout).toMatch(/^green: running$/m);
    const json = await t.rel(['status', '--json']);
    const result = JSON.parse(json.stdout.trim().split('\n').pop()!);
    expect(result.type).toBe('result');
    const green = result.data.environments.find((e: { env: string }) => e.env === 'green');
    expect(green.containers.map((c: { role: string; version: string }) => `${c.role}:${c.version}`).sort()).toEqual([
      'api:v2',
      'client:v2',
      'db:15',
    ]);
  });

  it('--json prints one JSON event per line', async () => {
    const result = await t.rel(['deploy', 'frontend', 'green', 'v1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toContain('step:finish');
    expect(events.at(-1)).toMatchObject({ type: 'result' });
  });
});

describe('rel deploy: failures', () => {
  it('a wrong registry password: AUTH naming the registry; the password appears nowhere', async () => {
    const wrong = 'Wr0ng-Pa55-zzq';
    const t = testProject('auth', (y) =>
      y.replace(
        'server: 127.0.0.1:5000',
        'server: 127.0.0.1:5000\n  username: rel\n  password: ${TEST_REGISTRY_TOKEN}',
      ),
    );
    try {
      const result = await t.rel(['deploy', 'backend', 'green', 'v1', '--json'], { TEST_REGISTRY_TOKEN: wrong });
      expect(result.code).toBe(1);
      const last = JSON.parse(result.stdout.trim().split('\n').pop()!);
      expect(last).toMatchObject({ type: 'error', code: 'AUTH' });
      expect(last.message).toMatch(/registry 127\.0\.0\.1:5000/);
      expect(result.stdout + result.stderr).not.toContain(wrong);
      // the right password from the environment works
      const ok = await t.rel(['deploy', 'frontend', 'green', 'v1'], { TEST_REGISTRY_TOKEN: registryPassword() });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout + ok.stderr).not.toContain(registryPassword());
    } finally {
      await t.cleanup();
    }
  });

  it('an API that never becomes healthy: a timeout that shows its last log lines', async () => {
    const t = testProject('unhealthy', (y) =>
      y.replace(
        /backend:\n {2}port: 8080\n {2}health: \{[^}]*\}/,
        'backend:\n  port: 8080\n  health: { path: /health, timeout: 4s }\n  env: { FAIL_MODE: error }',
      ),
    );
    try {
      const result = await t.rel(['deploy', 'backend', 'green', 'v1']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^rel: timed out after \d+(\.\d)?s waiting for .*\/health.*last log lines: .*listening on :8080/,
      );
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stdout + result.stderr).not.toContain('sandbox-only-db-password');
    } finally {
      await t.cleanup();
    }
  });

  it('the Docker engine is stopped (a dead socket) or absent: UNREACHABLE naming it', async () => {
    const t = testProject('noengine');
    const dir = mkdtempSync(join(tmpdir(), 'rel-dead-engine-'));
    const dead = join(dir, 'docker.sock');
    // a socket file nobody listens on, as a stopped engine leaves behind
    await new Promise<void>((resolve, reject) => {
      const child = spawn('python3', [
        '-c',
        `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(dead)})`,
      ]);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`python3 exited ${code}`))));
    });
    try {
      for (const host of [`unix://${dead}`, `unix://${join(dir, 'absent.sock')}`]) {
        const result = await t.rel(['deploy', 'backend', 'green', 'v1'], { DOCKER_HOST: host });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(
          new RegExp(`^rel: cannot reach the Docker engine at ${host.replace(/[.]/g, '\\.')}`),
        );
        expect(result.stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
