import { RelError, type RelErrorCode } from '@rel/core';
import Dockerode from 'dockerode';
import type { DockerClient } from './types.js';

const DEFAULT_HOST = 'unix:///var/run/docker.sock';

export interface ConnectDockerOptions {
  /** Your own dockerode instance (TLS, SSH, custom agent...). Default: one built from `host`. */
  docker?: Dockerode;
  /**
   * The engine's address, like `DOCKER_HOST`: `unix:///path/to/docker.sock` or `tcp://host:port` (plain HTTP;
   * for TLS or SSH pass your own `docker`). Default `process.env.DOCKER_HOST`, else `unix:///var/run/docker.sock`.
   */
  host?: string;
}

/** Builds a client; it does not contact the engine (see `pingDocker`). */
export function connectDocker(options: ConnectDockerOptions = {}): DockerClient {
  if (options.docker) {
    return { docker: options.docker, endpoint: options.host ?? describeModem(options.docker) };
  }
  const host = options.host ?? (process.env.DOCKER_HOST || DEFAULT_HOST);
  // Every connection field is set explicitly: dockerode merges them over defaults it reads from DOCKER_HOST.
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath) throw new RelError('CONFIG', `invalid Docker host ${JSON.stringify(host)}: no socket path`);
    return {
      // Host header 127.0.0.1 (the engine ignores it on a socket): Node otherwise tests the default `localhost`
      // against its IPv6 pattern to choose a TLS server name, compiling that pattern: ~7 ms of CPU per process.
      docker: new Dockerode({
        socketPath,
        host: undefined,
        port: undefined,
        protocol: undefined,
        headers: { host: '127.0.0.1' },
      }),
      endpoint: host,
    };
  }
  const match = /^(?:tcp|http):\/\/([^/:]+|\[[^\]]+\]):(\d{1,5})\/?$/.exec(host);
  if (!match) {
    throw new RelError(
      'CONFIG',
      `invalid Docker host ${JSON.stringify(host)}: expected unix:///path/to/docker.sock or tcp://host:port ` +
        '(for TLS or SSH pass your own dockerode instance)',
    );
  }
  return {
    docker: new Dockerode({ host: match[1]!, port: Number(match[2]), protocol: 'http', socketPath: undefined }),
    endpoint: host,
  };
}

/** Checks that the engine answers; throws RelError UNREACHABLE when it does not. */
export async function pingDocker(client: DockerClient): Promise<void> {
  try {
    await client.docker.ping();
  } catch (error) {
    throw engineError(client, error, 'pinging the Docker engine');
  }
}

function describeModem(docker: Dockerode): string {
  const modem = docker.modem as { socketPath?: unknown; host?: string; port?: number | string; protocol?: string };
  if (modem.host) return `${modem.protocol ?? 'http'}://${modem.host}${modem.port ? `:${modem.port}` : ''}`;
  if (typeof modem.socketPath === 'string') return `unix://${modem.socketPath}`;
  return DEFAULT_HOST;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** An error dockerode raised before the engine answered (socket missing, connection refused...). */
export function isConnectionError(error: unknown): error is NodeJS.ErrnoException {
  const e = error as NodeJS.ErrnoException & { statusCode?: number };
  return e instanceof Error && e.statusCode === undefined && typeof e.code === 'string' && CONNECTION_CODES.has(e.code);
}

export function unreachable(client: DockerClient, cause: Error): RelError {
  return new RelError(
    'UNREACHABLE',
    `cannot reach the Docker engine at ${client.endpoint} (set DOCKER_HOST or start dockerd): ${oneLine(cause.message)}`,
    { cause, details: { endpoint: client.endpoint } },
  );
}

/** The HTTP status of an engine error, if the engine answered. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The engine's own words, without dockerode's `(HTTP code 404) no such container - ` prefix. */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: unknown } | null)?.json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') {
    return oneLine((json as { message: string }).message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return oneLine(message.replace(/^\(HTTP code \d+\) [^-]*- /, ''));
}

/**
 * Turns anything dockerode threw into a RelError: connection failures are UNREACHABLE, a 404 is
 * `notFound` (default NOT_FOUND), anything else `fallback` (default STEP_FAILED) as "<action> failed: <why>".
 */
export function engineError(
  client: DockerClient,
  error: unknown,
  action: string,
  codes: { notFound?: RelErrorCode; fallback?: RelErrorCode } = {},
): RelError {
  if (error instanceof RelError) return error;
  if (isConnectionError(error)) return unreachable(client, error);
  const code = statusOf(error) === 404 ? (codes.notFound ?? 'NOT_FOUND') : (codes.fallback ?? 'STEP_FAILED');
  return new RelError(code, `${action} failed: ${engineMessage(error)}`, { cause: error });
}

export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
