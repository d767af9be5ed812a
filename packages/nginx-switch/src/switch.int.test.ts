// The same switch contract against a real nginx for both methods: reload (rewrite + nginx -s reload) and
// socket (flip the live symlink, no reload). Each suite starts its own nginx and two Node backends.
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Environment, RelError, type RelEvent } from '@rel/core';
import { type Backend, type NginxInstance, UPSTREAMS, whoAnswers } from '@rel/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SwitchFixture, startSwitchFixture } from '../test/switch-fixture.js';
import { listBackups } from './backup.js';
import {
  type AuditEvent,
  lintReloadSafety,
  readLiveEnvironment,
  readLiveLink,
  type SwitchTrafficOptions,
  switchTraffic,
  testNginxConfig,
} from './index.js';
import { writeState } from './state.js';
import type { SwitchMethod } from './types.js';

async function caught(promise: Promise<unknown>): Promise<RelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RelError);
  return error as RelError;
}

async function readAudit(file: string): Promise<AuditEvent[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent);
}

describe.each(['reload', 'socket'] as const)('switchTraffic, %s method, real nginx', (method: SwitchMethod) => {
  let fixture: SwitchFixture;
  let blue: Backend;
  let green: Backend;
  let nginx: NginxInstance;
  let originalConfig: string;
  let stateDir: string;
  let events: RelEvent[];

  const stateFile = () => join(stateDir, 'state.json');
  const auditFile = () => join(stateDir, 'switch-audit.jsonl');
  const options = (target: Environment | string, extra: Partial<SwitchTrafficOptions> = {}): SwitchTrafficOptions =>
    fixture.options(target, stateDir, { onEvent: (event) => events.push(event), ...extra });
  const serving = () => fixture.serving();
  const snapshot = async () => ({
    config: await readFile(nginx.confPath, 'utf8'),
    link: method === 'socket' ? (await readLiveLink(nginx.socketDir)).target : null,
  });

  beforeAll(async () => {
    fixture = await startSwitchFixture(method);
    ({ blue, green, nginx, originalConfig } = fixture);
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  beforeEach(async () => {
    events = [];
    stateDir = await mkdtemp(join(tmpdir(), 'rel-ns-state-'));
    await fixture.reset();
    return () => rm(stateDir, { recursive: true, force: true });
  });

  it('moves blue -> green -> blue, verified by the header through nginx, and records state and audit', async () => {
    expect(await serving()).toBe('blue');

    const toGreen = await switchTraffic(options('green'));
    expect(toGreen).toMatchObject({ changed: true, from: 'blue', to: 'green', method, resumed: false });
    expect(toGreen.verification?.ok).toBe(true);
    expect(await serving()).toBe('green');
    const state = JSON.parse(await readFile(stateFile(), 'utf8'));
    expect(state).toMatchObject({ live: 'green', previous: 'blue', method, versions: { blue: 'v1', green: 'v2' } });
    expect(state.pending).toBeUndefined();
    expect(Date.parse(state.since)).toBeGreaterThan(Date.now() - 60_000);

    const again = await switchTraffic(options('green'));
    expect(again).toMatchObject({ changed: false, from: 'green', to: 'green', stateRepaired: false });

    const toBlue = await switchTraffic(options('blue'));
    expect(toBlue).toMatchObject({ changed: true, from: 'green', to: 'blue' });
    expect(await serving()).toBe('blue');
    expect(JSON.parse(await readFile(stateFile(), 'utf8'))).toMatchObject({ live: 'blue', previous: 'green' });

    const audit = await readAudit(auditFile());
    expect(audit.map((event) => [event.from, event.to, event.result])).toEqual([
      ['blue', 'green', 'switched'],
      ['green', 'green', 'unchanged'],
      ['green', 'blue', 'switched'],
    ]);
    expect(audit[0]).toMatchObject({
      method,
      versions: { blue: 'v1', green: 'v2' },
      configFile: nginx.confPath,
      host: expect.any(String),
      user: expect.any(String),
    });
    expect(Object.keys(audit[0]!.durations)).toEqual(
      expect.arrayContaining([
        'check',
        'backup',
        'verify',
        'record',
        ...(method === 'socket' ? ['flip'] : ['write', 'test', 'reload']),
      ]),
    );
    expect(await listBackups(join(stateDir, 'nginx-backups'), nginx.confPath)).toHaveLength(2);

    const config = await readFile(nginx.confPath, 'utf8');
    if (method === 'socket') {
      expect(config).toBe(originalConfig);
    } else {
      expect(config).toContain(`server 127.0.0.1:${blue.port};`);
      expect(config).toContain('add_header X-Rel-Environment blue always;');
      expect(config).toContain('# the API');
    }
    const status = await readLiveEnvironment({ ...options('blue'), stateFile: stateFile() });
    expect(status).toMatchObject({ live: 'blue', method, since: expect.any(String), previous: 'green' });
    expect(status.mismatch).toBeUndefined();
  });

  it('once it returns, every new connection reaches the target, switch after switch', async () => {
    // nginx's old workers keep accepting connections for a while after a reload has started new ones
    // (the master sleeps 100 ms before telling them to quit): a switch must not return inside that window.
    for (const [round, target] of (['green', 'blue', 'green', 'blue', 'green', 'blue'] as const).entries()) {
      await switchTraffic(options(target));
      const seen: (string | null)[] = [];
      for (let i = 0; i < 15; i++) seen.push((await whoAnswers(nginx.url('/api/health'))).env);
      expect(seen, `new connections after switch ${round + 1}, to ${target}`).toEqual(Array(15).fill(target));
    }
  });

  it('refuses an unhealthy target before touching anything', async () => {
    const before = await snapshot();
    const error = await caught(
      switchTraffic(
        options('green', { checkTarget: async () => ({ ok: false, reason: 'green api container is not running' }) }),
      ),
    );
    expect(error.code).toBe('UNHEALTHY');
    expect(error.message).toBe('green is not healthy: green api container is not running');
    expect(await snapshot()).toEqual(before);
    expect(await serving()).toBe('blue');
    await expect(readFile(stateFile())).rejects.toThrow(/ENOENT/);
    expect(await readdir(join(stateDir, 'nginx-backups'))).toEqual([]);
    expect((await readAudit(auditFile())).map((event) => event.result)).toEqual(['refused']);
  });

  it('switches back when the target fails verification, and says what it saw', async () => {
    green.status = 500;
    const before = await snapshot();
    const error = await caught(switchTraffic(options('green')));
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(/green failed verification/);
    // 5 bad answers in a row from green; the tally may also hold answers of the old workers (reload method)
    expect(error.message).toMatch(
      /green answered \S+ with X-Rel-Environment: green \(500\) 5 times in a row; got X-Rel-Environment: green \(500\) \d+ times/,
    );
    expect(error.message).toMatch(/switched back to blue, which answers/);
    expect(error.message).not.toContain('\n');
    expect(await serving()).toBe('blue');
    expect(await snapshot()).toEqual(before);
    expect(JSON.parse(await readFile(stateFile(), 'utf8'))).toMatchObject({ live: 'blue' });
    expect(JSON.parse(await readFile(stateFile(), 'utf8')).pending).toBeUndefined();
    const [audit] = await readAudit(auditFile());
    expect(audit).toMatchObject({ from: 'blue', to: 'green', result: 'switched-back', error: { code: 'STEP_FAILED' } });
  });

  it('refuses an upstream name that is not in the config, naming the ones that are', async () => {
    const before = await snapshot();
    const error = await caught(switchTraffic(options('green', { upstreams: ['app_api', 'shop_api'] })));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toBe(
      `upstream "shop_api" not found in ${nginx.confPath} (upstreams there: ${method === 'socket' ? 'app_api, app_web, rel_blue_app_api, rel_blue_app_web, rel_green_app_api, rel_green_app_web' : 'app_api, app_web'})`,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a missing config file, naming it', async () => {
    const missing = join(stateDir, 'nope.conf');
    const error = await caught(switchTraffic(options('green', { configFile: missing })));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toBe(`nginx config ${missing} not found`);
  });

  it('refuses an unknown environment', async () => {
    const error = await caught(switchTraffic(options('purple')));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toBe('unknown environment "purple": expected "blue" or "green"');
  });

  it('refuses when nginx is not running: missing or stale pid file, or a refused public URL', async () => {
    const before = await snapshot();
    const noPid = await caught(switchTraffic(options('green', { pidFile: join(stateDir, 'nginx.pid') })));
    expect(noPid.code).toBe('UNREACHABLE');
    expect(noPid.message).toBe(`nginx is not running: no pid file ${join(stateDir, 'nginx.pid')}`);

    const gone = spawnSync('true');
    const stalePid = join(stateDir, 'stale.pid');
    await writeFile(stalePid, `${gone.pid}\n`);
    const stale = await caught(switchTraffic(options('green', { pidFile: stalePid })));
    expect(stale.code).toBe('UNREACHABLE');
    expect(stale.message).toMatch(/stale pid file/);

    const closed = `http://127.0.0.1:${nginx.port === 49_999 ? 49_998 : nginx.port + 1}/health`;
    const refused = await caught(switchTraffic(options('green', { pidFile: undefined, verifyUrl: closed })));
    expect(refused.code).toBe('UNREACHABLE');
    expect(refused.message).toBe(`nginx is not running: ${closed} refuses connections`);
    expect(await snapshot()).toEqual(before);
    expect(await serving()).toBe('blue');
  });

  it('refuses an unwritable state directory before touching nginx', async () => {
    const before = await snapshot();
    const file = join(stateDir, 'a-file');
    await writeFile(file, '');
    const error = await caught(switchTraffic(options('green', { stateFile: join(file, 'state.json') })));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(new RegExp(`^state directory ${file} is not writable: `));
    expect(await snapshot()).toEqual(before);
    expect(await serving()).toBe('blue');
  });

  it('reports a state file that disagrees with the config and goes by the config', async () => {
    await writeState(stateFile(), { live: 'green', since: '2025-01-01T00:00:00.000Z', previous: 'blue', method });
    const result = await switchTraffic(options('green'));
    expect(result).toMatchObject({ changed: true, from: 'blue', mismatch: { state: 'green', config: 'blue' } });
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'log',
        level: 'warn',
        message: expect.stringMatching(/state file says green is live, the nginx config says blue/),
      }),
    );
    await writeState(stateFile(), { live: 'blue', since: '2025-01-01T00:00:00.000Z', previous: null, method });
    const repaired = await switchTraffic(options('green'));
    expect(repaired).toMatchObject({
      changed: false,
      stateRepaired: true,
      mismatch: { state: 'blue', config: 'green' },
    });
    expect(JSON.parse(await readFile(stateFile(), 'utf8'))).toMatchObject({ live: 'green', previous: 'blue' });
  });

  it('warns about reload-safety problems of the real config', async () => {
    const result = await switchTraffic(options('green'));
    expect(result.warnings.map((warning) => warning.rule)).toContain('worker-shutdown-timeout');
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'log',
        level: 'warn',
        message: expect.stringMatching(/worker_shutdown_timeout/),
      }),
    );
  });

  if (method === 'reload') {
    it('fails on a config nginx -t rejects: nginx message, old config byte-identical, no reload', async () => {
      const broken = originalConfig.replace(
        'proxy_set_header Host $host;',
        'proxy_set_header Host $host;\n        bogus_directive on;',
      );
      await writeFile(nginx.confPath, broken);
      const error = await caught(switchTraffic(options('green')));
      expect(error.code).toBe('CONFIG');
      expect(error.message).toMatch(
        new RegExp(
          `^nginx config test failed: nginx: \\[emerg\\] unknown directive "bogus_directive" in ${nginx.confPath}:\\d+ \\(${nginx.confPath} restored, nginx not reloaded; blue still serving\\)$`,
        ),
      );
      expect(await readFile(nginx.confPath, 'utf8')).toBe(broken);
      expect(await serving()).toBe('blue');
      expect(JSON.parse(await readFile(stateFile(), 'utf8'))).toMatchObject({ live: 'blue' });
      expect((await readAudit(auditFile()))[0]).toMatchObject({ result: 'failed', error: { code: 'CONFIG' } });
    });

    it('reloads by SIGHUP to the pid file and by `docker kill -s HUP` (a stand-in docker binary)', async () => {
      const bySignal = await switchTraffic(options('green', { reload: { kind: 'signal', pidFile: nginx.pidFile } }));
      expect(bySignal.changed).toBe(true);
      expect(await serving()).toBe('green');

      const dockerBin = join(stateDir, 'docker');
      const argsFile = join(stateDir, 'docker-args');
      await writeFile(
        dockerBin,
        `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\nkill -HUP "$(cat '${nginx.pidFile}')"\n`,
      );
      await chmod(dockerBin, 0o755);
      const byDocker = await switchTraffic(
        options('blue', { reload: { kind: 'docker', container: 'edge-nginx', dockerBin } }),
      );
      expect(byDocker.changed).toBe(true);
      expect(await serving()).toBe('blue');
      expect((await readFile(argsFile, 'utf8')).split('\n').filter(Boolean)).toEqual([
        'kill',
        '-s',
        'HUP',
        'edge-nginx',
      ]);
    });
  }

  if (method === 'socket') {
    it('refuses when nginx does not listen on the target socket, before touching anything', async () => {
      const before = await snapshot();
      const apiSocket = join(nginx.socketDir, 'green', 'app_api.sock');
      await rename(apiSocket, `${apiSocket}.away`);
      try {
        const error = await caught(switchTraffic(options('green')));
        expect(error.code).toBe('UNREACHABLE');
        expect(error.message).toBe(
          `green's internal nginx server is not up: nothing listens on ${apiSocket} (ENOENT); add it (renderSocketRoutingConfig) and reload nginx once`,
        );
      } finally {
        await rename(`${apiSocket}.away`, apiSocket);
      }
      expect(await snapshot()).toEqual(before);
      expect(await serving()).toBe('blue');
    });

    it('lints a real socket config that keeps keepalive in a front upstream', async () => {
      const withKeepalive = originalConfig.replace(
        /(upstream app_api \{\n\s+server unix:[^;]+;)/,
        '$1\n        keepalive 4;',
      );
      const file = join(stateDir, 'keepalive.conf');
      await writeFile(file, withKeepalive);
      await testNginxConfig(['/usr/sbin/nginx', '-t', '-q', '-p', `${nginx.prefix}/`, '-c', file]);
      const rules = lintReloadSafety(withKeepalive, { upstreams: [...UPSTREAMS] }).map((warning) => warning.rule);
      expect(rules).toEqual(['worker-shutdown-timeout', 'socket-front-keepalive']);
    });
  }
});
