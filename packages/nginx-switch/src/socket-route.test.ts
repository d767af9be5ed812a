import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkSocketListening,
  detectMethod,
  pointLiveLink,
  prepareSocketDir,
  readLiveLink,
  renderSocketRoutingConfig,
  socketRoutingOfConfig,
} from './socket-route.js';

const ADDRESSES = {
  blue: { api: '127.0.0.1:18081', web: '127.0.0.1:18091' },
  green: { api: '127.0.0.1:18082', web: '127.0.0.1:18092' },
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-ns-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('renderSocketRoutingConfig', () => {
  const text = renderSocketRoutingConfig({ upstreams: ['api', 'web'], addresses: ADDRESSES, socketDir: '/run/rel/' });

  it('points front upstreams at the live link and gives each environment an internal server with the header', () => {
    expect(text).toContain('upstream api {\n    server unix:/run/rel/live/api.sock;\n}');
    expect(text).toContain('upstream rel_green_web {\n    server 127.0.0.1:18092;\n    keepalive 16;\n}');
    expect(text).toMatch(
      /listen unix:\/run\/rel\/blue\/api\.sock;[\s\S]*?proxy_pass http:\/\/rel_blue_api;[\s\S]*?add_header X-Rel-Environment blue always;/,
    );
    expect(text.match(/^server \{$/gm)).toHaveLength(4);
    expect(text).not.toMatch(/upstream (api|web) \{[^}]*keepalive/);
  });

  it('is what detectMethod recognises as the socket method', () => {
    const config = `http {\n${text}\nserver { location / { proxy_pass http://api; } }\n}\n`;
    expect(detectMethod(config, ['api', 'web'])).toBe('socket');
    expect(detectMethod(config, ['api', 'web'], { socketDir: '/run/rel' })).toBe('socket');
    expect(detectMethod(config, ['api'], { socketDir: '/elsewhere' })).toBe('reload');
    expect(socketRoutingOfConfig(config, ['api', 'web'])).toEqual({
      socketDir: '/run/rel',
      sockets: { api: 'api.sock', web: 'web.sock' },
    });
  });

  it('refuses names and paths that cannot work', () => {
    expect(() =>
      renderSocketRoutingConfig({ upstreams: ['a b'], addresses: ADDRESSES, socketDir: '/run/rel' }),
    ).toThrow(/invalid upstream name "a b"/);
    expect(() => renderSocketRoutingConfig({ upstreams: ['api'], addresses: ADDRESSES, socketDir: 'run/rel' })).toThrow(
      /must be an absolute path/,
    );
    expect(() =>
      renderSocketRoutingConfig({ upstreams: ['api'], addresses: ADDRESSES, socketDir: `/run/${'x'.repeat(100)}` }),
    ).toThrow(/unix sockets allow 107/);
  });
});

describe('detectMethod', () => {
  it('is reload for TCP servers, several servers, a unix socket outside a live/ directory, or a mix', () => {
    const config = (api: string, web = 'server unix:/run/rel/live/web.sock;') =>
      `http { upstream api { ${api} } upstream web { ${web} } }`;
    expect(detectMethod(config('server unix:/run/rel/live/api.sock;'), ['api', 'web'])).toBe('socket');
    expect(detectMethod(config('server 127.0.0.1:1;'), ['api', 'web'])).toBe('reload');
    expect(detectMethod(config('server unix:/run/rel/live/a.sock; server unix:/run/rel/live/b.sock;'), ['api'])).toBe(
      'reload',
    );
    expect(detectMethod(config('server unix:/run/app.sock;'), ['api'])).toBe('reload');
    expect(detectMethod(config('server unix:/other/live/api.sock;'), ['api', 'web'])).toBe('reload');
    expect(() => detectMethod(config('server 127.0.0.1:1;'), ['shop'])).toThrow(/upstream "shop" not found/);
  });
});

describe('the live link', () => {
  it('is flipped atomically with a relative target and read back', async () => {
    expect(await readLiveLink(dir)).toEqual({ live: undefined, target: null });
    await pointLiveLink(dir, 'blue');
    expect(await readLiveLink(dir)).toEqual({ live: 'blue', target: 'blue' });
    await pointLiveLink(dir, 'green');
    expect(await readlink(join(dir, 'live'))).toBe('green');
    expect(await readdir(dir)).toEqual(['live']);
  });

  it('removes temp links a killed flip left behind', async () => {
    await pointLiveLink(dir, 'blue');
    await symlink('green', join(dir, '.live.rel-1-deadbeef'));
    await pointLiveLink(dir, 'green');
    expect(await readdir(dir)).toEqual(['live']);
  });

  it('reports a link pointing elsewhere as no environment, and refuses a non-link', async () => {
    await symlink('/tmp', join(dir, 'live'));
    expect(await readLiveLink(dir)).toEqual({ live: undefined, target: '/tmp' });
    await rm(join(dir, 'live'));
    await mkdir(join(dir, 'live'));
    await expect(readLiveLink(dir)).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/is not a symlink/),
    });
  });
});

describe('prepareSocketDir and checkSocketListening', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('creates blue/ and green/, keeps live sockets, removes stale ones, and creates the live link', async () => {
    await mkdir(join(dir, 'blue'), { recursive: true });
    const live = join(dir, 'blue', 'api.sock');
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(live, resolve));
    // A socket file nobody listens on, as nginx killed with SIGKILL leaves behind.
    const stale = join(dir, 'blue', 'web.sock');
    const child = spawn(process.execPath, [
      '-e',
      'require("net").createServer().listen(process.argv[1], () => console.log("up"))',
      stale,
    ]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await writeFile(join(dir, 'blue', 'notes.txt'), '');

    await checkSocketListening(live);
    await expect(checkSocketListening(stale)).rejects.toMatchObject({ code: 'UNREACHABLE' });
    const { removedStale } = await prepareSocketDir(dir, { live: 'blue' });
    expect(removedStale).toEqual([stale]);
    expect((await readdir(join(dir, 'blue'))).sort()).toEqual(['api.sock', 'notes.txt']);
    expect((await lstat(join(dir, 'green'))).isDirectory()).toBe(true);
    expect((await readLiveLink(dir)).live).toBe('blue');
    await prepareSocketDir(dir, { live: 'green' });
    expect((await readLiveLink(dir)).live).toBe('blue');
  });

  it('says what failed when nothing listens', async () => {
    await expect(checkSocketListening(join(dir, 'none.sock'))).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: `nothing listens on ${join(dir, 'none.sock')} (ENOENT)`,
    });
  });
});
