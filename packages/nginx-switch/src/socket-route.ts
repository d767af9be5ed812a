import { lstat, mkdir, readdir, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ENVIRONMENTS, type Environment, errorMessage, isEnvironment, RelError } from '@rel/core';
import { syncDirectory } from './atomic-write.js';
import { DEFAULT_ENVIRONMENT_HEADER, serverValues, validateHeaderName } from './config-edit.js';
import { argsOf, directivesOf, parseConfig, requireUpstreams } from './config-parse.js';
import { randomHex } from './random.js';
import type { EnvironmentAddresses, SwitchMethod } from './types.js';

/** Name of the symlink in the socket directory that points at `blue` or `green`. */
export const LIVE_LINK = 'live';

// sun_path holds 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH = 107;

export interface SocketRouting {
  /** Absolute socket directory: holds `blue/`, `green/` and the `live` symlink. */
  socketDir: string;
  /** Socket file name per upstream, as the config names it under `live/`: `{ sample_api: 'sample_api.sock' }`. */
  sockets: Record<string, string>;
}

/**
 * The socket layout the config uses, or `undefined` if it does not: every named upstream has exactly one
 * `server`, `unix:<socketDir>/live/<file>`, all in the same socket directory (and in `socketDir` when given).
 */
export function socketRoutingOfConfig(
  configText: string,
  upstreams: readonly string[],
  options: { socketDir?: string; source?: string } = {},
): SocketRouting | undefined {
  const source = options.source ?? 'the nginx config';
  const { conf } = parseConfig(configText, source);
  const blocks = requireUpstreams(conf, upstreams, source);
  const wantedDir = options.socketDir === undefined ? undefined : resolve(options.socketDir);
  let socketDir: string | undefined;
  const sockets: Record<string, string> = {};
  for (const [name, block] of blocks) {
    const servers = directivesOf(block, 'server');
    if (servers.length !== 1) return undefined;
    const address = argsOf(servers[0]!)[0] ?? '';
    if (!address.startsWith('unix:')) return undefined;
    const path = address.slice('unix:'.length);
    const liveDir = dirname(path);
    if (!isAbsolute(path) || basename(liveDir) !== LIVE_LINK) return undefined;
    const dir = dirname(liveDir);
    if (wantedDir !== undefined && dir !== wantedDir) return undefined;
    if (socketDir !== undefined && dir !== socketDir) return undefined;
    socketDir = dir;
    sockets[name] = basename(path);
  }
  return socketDir === undefined ? undefined : { socketDir, sockets };
}

/**
 * `socket` when every named upstream's only server is `unix:<socketDir>/live/<file>` (inside `socketDir`
 * when given, else any one directory shared by all of them), otherwise `reload`.
 */
export function detectMethod(
  configText: string,
  upstreams: readonly string[],
  options: { socketDir?: string } = {},
): SwitchMethod {
  return socketRoutingOfConfig(configText, upstreams, options) ? 'socket' : 'reload';
}

/** `<socketDir>/<env>/<upstream>.sock`, the socket an environment's internal server listens on. */
export function socketPath(socketDir: string, env: Environment | typeof LIVE_LINK, upstream: string): string {
  return join(resolve(socketDir), env, `${upstream}.sock`);
}

export interface SocketRoutingConfigOptions {
  /** Upstream blocks the public server proxies to, e.g. `['sample_api', 'sample_client']`. */
  upstreams: readonly string[];
  /** Both environments' `server` values per upstream. */
  addresses: EnvironmentAddresses;
  /** Absolute directory for the sockets and the `live` symlink; nginx workers must be able to reach it. */
  socketDir: string;
  /** Response header naming the environment. Default `X-Rel-Environment`. */
  header?: string;
  /** `keepalive` of the per-environment backend upstreams (rel_<env>_<upstream>); 0 for none. Default 16. */
  backendKeepalive?: number;
  /** Indentation unit. Default 4 spaces. */
  indent?: string;
}

/**
 * Renders the http-context config of the socket method: the front `upstream` blocks (no `keepalive`)
 * pointing at `<socketDir>/live/<upstream>.sock`, and per environment an internal server listening on
 * `<socketDir>/<env>/<upstream>.sock` that proxies to that environment's backend and adds the header.
 * Include it in (or paste it into) the `http` block in place of the old upstream blocks; the public server's
 * `proxy_pass http://<upstream>` stays as it is. Run `prepareSocketDir` before nginx starts.
 */
export function renderSocketRoutingConfig(options: SocketRoutingConfigOptions): string {
  const { upstreams, addresses, backendKeepalive = 16, indent = '    ' } = options;
  const header = options.header ?? DEFAULT_ENVIRONMENT_HEADER;
  validateHeaderName(header);
  if (!isAbsolute(options.socketDir)) {
    throw new RelError('BAD_INPUT', `socket directory ${JSON.stringify(options.socketDir)} must be an absolute path`);
  }
  const dir = resolve(options.socketDir);
  const i1 = indent;
  const i2 = indent.repeat(2);
  const lines: string[] = [
    `# rel socket routing (@rel/nginx-switch). The front upstreams connect through ${dir}/${LIVE_LINK}, a`,
    '# symlink to the blue/ or green/ directory next to it; rel flips it to move traffic without a reload.',
    '# No `keepalive` in the front upstreams: pooled connections would stay with the old environment.',
  ];
  for (const upstream of upstreams) {
    validateUpstreamName(upstream);
    for (const env of ENVIRONMENTS) checkSocketPathLength(socketPath(dir, env, upstream));
    lines.push(`upstream ${upstream} {`, `${i1}server unix:${socketPath(dir, LIVE_LINK, upstream)};`, '}');
  }
  for (const env of ENVIRONMENTS) {
    for (const upstream of upstreams) {
      const backend = `rel_${env}_${upstream}`;
      lines.push(
        '',
        `# ${env}: ${upstream}`,
        `upstream ${backend} {`,
        ...serverValues(addresses, env, upstream).map((value) => `${i1}server ${value};`),
        ...(backendKeepalive > 0 ? [`${i1}keepalive ${backendKeepalive};`] : []),
        '}',
        'server {',
        `${i1}listen unix:${socketPath(dir, env, upstream)};`,
        `${i1}access_log off;`,
        `${i1}# The public server applied its limits and buffering already: this hop passes everything through.`,
        `${i1}client_max_body_size 0;`,
        `${i1}proxy_buffering off;`,
        `${i1}proxy_request_buffering off;`,
        `${i1}location / {`,
        `${i2}proxy_pass http://${backend};`,
        `${i2}proxy_http_version 1.1;`,
        `${i2}proxy_set_header Connection "";`,
        `${i2}proxy_set_header Host $http_host;`,
        `${i2}add_header ${header} ${env} always;`,
        `${i1}}`,
        '}',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Makes the socket directory ready before nginx starts: creates `blue/` and `green/` (0755, so nginx
 * workers can connect), removes socket files nobody listens on (left by an nginx killed with SIGKILL; nginx
 * would fail to bind them), and creates the `live` symlink pointing at `live` if it is missing.
 */
export async function prepareSocketDir(
  socketDir: string,
  options: { live?: Environment } = {},
): Promise<{ removedStale: string[] }> {
  const dir = resolve(socketDir);
  const removedStale: string[] = [];
  for (const env of ENVIRONMENTS) {
    await mkdir(join(dir, env), { recursive: true, mode: 0o755 });
    for (const name of await readdir(join(dir, env))) {
      const path = join(dir, env, name);
      if (!(await lstat(path)).isSocket()) continue;
      const listening = await checkSocketListening(path, 500).then(
        () => true,
        () => false,
      );
      if (!listening) {
        await unlink(path);
        removedStale.push(path);
      }
    }
  }
  if (options.live && (await readLiveLink(dir)).target === null) await pointLiveLink(dir, options.live);
  return { removedStale };
}

/** Where `<socketDir>/live` points: `live` is `undefined` when the link is missing or points elsewhere. */
export async function readLiveLink(
  socketDir: string,
): Promise<{ live: Environment | undefined; target: string | null }> {
  const dir = resolve(socketDir);
  const link = join(dir, LIVE_LINK);
  let target: string;
  try {
    if (!(await lstat(link)).isSymbolicLink()) {
      throw new RelError('CONFIG', `${link} is not a symlink: rel manages it as a link to blue/ or green/`);
    }
    target = await readlink(link);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { live: undefined, target: null };
    if (error instanceof RelError) throw error;
    throw new RelError('CONFIG', `cannot read ${link}: ${errorMessage(error)}`, { cause: error });
  }
  const resolved = resolve(dir, target);
  const name = basename(resolved);
  return { live: dirname(resolved) === dir && isEnvironment(name) ? name : undefined, target };
}

/**
 * Points `<socketDir>/live` at `<socketDir>/<env>` atomically (a temp symlink renamed over the old one):
 * nginx's next upstream connection goes to the new environment; open connections are not touched.
 */
export async function pointLiveLink(socketDir: string, env: Environment): Promise<void> {
  const dir = resolve(socketDir);
  for (const name of await readdir(dir)) {
    if (name.startsWith(`.${LIVE_LINK}.rel-`)) await unlink(join(dir, name)).catch(() => undefined);
  }
  const temp = join(dir, `.${LIVE_LINK}.rel-${process.pid}-${await randomHex()}`);
  await symlink(env, temp);
  try {
    await rename(temp, join(dir, LIVE_LINK));
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** Resolves when something accepts a connection on the unix socket `path`; RelError UNREACHABLE otherwise. */
export function checkSocketListening(path: string, timeoutMs = 1000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ path });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new RelError('UNREACHABLE', `nothing listens on ${path} (${reason})`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs}ms`));
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
  });
}

function validateUpstreamName(name: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new RelError(
      'BAD_INPUT',
      `invalid upstream name ${JSON.stringify(name)}: letters, digits, "_", "." and "-" only`,
    );
  }
}

function checkSocketPathLength(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new RelError(
      'BAD_INPUT',
      `socket path ${path} is ${Buffer.byteLength(path)} bytes; unix sockets allow ${MAX_SOCKET_PATH}: choose a shorter socket directory`,
    );
  }
}
