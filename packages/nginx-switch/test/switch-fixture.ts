// The switch fixture of this package's integration tests: nginx (own prefix and config) in front of a blue and a
// green backend, from @rel/test-utils, reset between tests with this package's internals (pointLiveLink and
// RELOAD_SETTLE_MS are not exported). Not in the tarball: `files` is dist.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  addressesOf,
  type Backend,
  type NginxInstance,
  renderTestConfig,
  startBackend,
  startNginx,
  UPSTREAMS,
  whoAnswers,
} from '@rel/test-utils';
import { reloadNginx } from '../src/nginx-process.js';
import { pointLiveLink, prepareSocketDir } from '../src/socket-route.js';
import { RELOAD_SETTLE_MS, type SwitchTrafficOptions } from '../src/switch.js';
import type { SwitchMethod } from '../src/types.js';
import { verifyEnvironment } from '../src/verify.js';

export interface SwitchFixture {
  method: SwitchMethod;
  blue: Backend;
  green: Backend;
  nginx: NginxInstance;
  /** The config nginx started with (routes to blue). */
  originalConfig: string;
  /** Back to the start: both backends healthy, original config (reloaded if it had changed), blue live. */
  reset(): Promise<void>;
  /** Switch options for this nginx; `stateDir` holds the state file, audit log and backups. */
  options(target: string, stateDir: string, extra?: Partial<SwitchTrafficOptions>): SwitchTrafficOptions;
  /** Which environment answers `/health` and `/api/health` (they must agree). */
  serving(): Promise<string | null>;
  stop(): Promise<void>;
}

/** nginx (own prefix and config for `method`) in front of a blue and a green backend; blue live. */
export async function startSwitchFixture(method: SwitchMethod): Promise<SwitchFixture> {
  const blue = await startBackend('blue');
  const green = await startBackend('green');
  const addresses = addressesOf(blue, green);
  const nginx = await startNginx(({ port, socketDir }) => renderTestConfig({ method, port, socketDir, addresses }));
  const originalConfig = await readFile(nginx.confPath, 'utf8');
  const fixture: SwitchFixture = {
    method,
    blue,
    green,
    nginx,
    originalConfig,
    reset: async () => {
      blue.status = 200;
      green.status = 200;
      if ((await readFile(nginx.confPath, 'utf8')) !== originalConfig) {
        await writeFile(nginx.confPath, originalConfig);
        await reloadNginx({ kind: 'command', command: nginx.reloadCommand });
      }
      if (method === 'socket') {
        await prepareSocketDir(nginx.socketDir);
        await pointLiveLink(nginx.socketDir, 'blue');
      }
      const ready = await verifyEnvironment({
        url: [nginx.url('/health'), nginx.url('/api/health')],
        environment: 'blue',
        // after a reload, until the old workers stop taking connections
        settleMs: method === 'reload' ? RELOAD_SETTLE_MS : 0,
      });
      if (!ready.ok) throw new Error(`test nginx does not serve blue after reset: ${ready.seen}`);
    },
    options: (target, stateDir, extra = {}) => ({
      target,
      configFile: nginx.confPath,
      upstreams: [...UPSTREAMS],
      addresses,
      stateFile: join(stateDir, 'state.json'),
      testCommand: nginx.testCommand,
      reload: { kind: 'command', command: nginx.reloadCommand },
      pidFile: nginx.pidFile,
      verifyUrl: [nginx.url('/health'), nginx.url('/api/health')],
      verifyTimeoutMs: 5_000,
      checkTarget: async () => ({ ok: true }),
      versions: { blue: 'v1', green: 'v2' },
      ...extra,
    }),
    serving: async () => {
      const [web, api] = await Promise.all([whoAnswers(nginx.url('/health')), whoAnswers(nginx.url('/api/health'))]);
      if (web.env !== api.env || web.status !== 200 || api.status !== 200) {
        throw new Error(`/health answered ${web.env} (${web.status}), /api/health ${api.env} (${api.status})`);
      }
      return web.env;
    },
    stop: async () => {
      await nginx.stop();
      await blue.close();
      await green.close();
    },
  };
  await fixture.reset();
  return fixture;
}
