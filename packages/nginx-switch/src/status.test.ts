import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pointLiveLink } from './socket-route.js';
import { writeState } from './state.js';
import { readConfigFile, readLiveEnvironment, readRouting } from './status.js';

const ADDRESSES = { blue: { api: '127.0.0.1:1' }, green: { api: '127.0.0.1:2' } };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-ns-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readConfigFile', () => {
  it('names the path of a missing or unreadable config, and follows symlinks', async () => {
    await expect(readConfigFile(join(dir, 'nope.conf'))).rejects.toMatchObject({
      code: 'CONFIG',
      message: `nginx config ${join(dir, 'nope.conf')} not found`,
    });
    await mkdir(join(dir, 'conf.d'));
    await expect(readConfigFile(join(dir, 'conf.d'))).rejects.toThrow(
      `nginx config ${join(dir, 'conf.d')} is a directory`,
    );
    await writeFile(join(dir, 'site.conf'), 'x;');
    await symlink(join(dir, 'site.conf'), join(dir, 'enabled.conf'));
    expect(await readConfigFile(join(dir, 'enabled.conf'))).toEqual({ path: join(dir, 'site.conf'), text: 'x;' });
  });
});

describe('readRouting and readLiveEnvironment', () => {
  it('reads the reload method from the upstream servers and cross-checks the state file', async () => {
    const configFile = join(dir, 'nginx.conf');
    await writeFile(configFile, 'http { upstream api { server 127.0.0.1:2; } }\n');
    const routing = await readRouting({ configFile, upstreams: ['api'], addresses: ADDRESSES });
    expect(routing).toMatchObject({ method: 'reload', live: 'green', detail: 'api -> 127.0.0.1:2 (green)' });

    const stateFile = join(dir, 'state.json');
    expect(await readLiveEnvironment({ configFile, upstreams: ['api'], addresses: ADDRESSES, stateFile })).toEqual({
      live: 'green',
      method: 'reload',
      detail: 'api -> 127.0.0.1:2 (green)',
    });
    await writeState(stateFile, { live: 'blue', since: '2025-01-01T00:00:00.000Z', previous: null, method: 'reload' });
    expect(
      await readLiveEnvironment({ configFile, upstreams: ['api'], addresses: ADDRESSES, stateFile }),
    ).toMatchObject({
      live: 'green',
      mismatch: { state: 'blue', config: 'green' },
    });
    await writeFile(stateFile, 'garbage');
    expect(
      (await readLiveEnvironment({ configFile, upstreams: ['api'], addresses: ADDRESSES, stateFile })).stateProblem,
    ).toMatch(/is not valid JSON/);
  });

  it('needs both environments’ addresses for the reload method', async () => {
    const configFile = join(dir, 'nginx.conf');
    await writeFile(configFile, 'http { upstream api { server 127.0.0.1:2; } }\n');
    await expect(readRouting({ configFile, upstreams: ['api'], addresses: { blue: ADDRESSES.blue } })).rejects.toThrow(
      'no address for upstream "api" in environment green',
    );
    await expect(readRouting({ configFile, upstreams: [] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('reads the socket method from the live link, and refuses socket for a config without the layout', async () => {
    const configFile = join(dir, 'nginx.conf');
    const socketDir = join(dir, 'sockets');
    await mkdir(socketDir);
    await writeFile(configFile, `http { upstream api { server unix:${socketDir}/live/api.sock; } }\n`);
    expect(await readRouting({ configFile, upstreams: ['api'] })).toMatchObject({ method: 'socket', live: undefined });
    await pointLiveLink(socketDir, 'green');
    expect(await readRouting({ configFile, upstreams: ['api'] })).toMatchObject({
      method: 'socket',
      live: 'green',
      detail: `${socketDir}/live -> green`,
      socket: { socketDir, sockets: { api: 'api.sock' } },
    });
    await writeFile(configFile, 'http { upstream api { server 127.0.0.1:2; } }\n');
    await expect(readRouting({ configFile, upstreams: ['api'], method: 'socket' })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/does not use the socket layout/),
    });
  });
});
