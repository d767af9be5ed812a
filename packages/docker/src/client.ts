import { RelError, type RelErrorCode } from '@rel/core';
import Dockerode from 'dockerode';
import { type DockerDeadlines, resolveDeadlines } from './deadlines.js';
import { type DockerTlsOptions, explainPlainToTls, explainTlsFailure, loadTlsMaterial, tlsFromEnv } from './tls.js';
import { guardTransport, type TransportGuard } from './transport.js';
import type { DockerClient } from './types.js';

const DEFAULT_HOST = 'unix:///var/run/docker.sock';

export interface ConnectDockerOptions {
  /**
   * Your own dockerode instance (SSH, custom agent...), used as it is: its transport, timeouts and TLS are yours,
   * so `tls`, `deadlines` and `signal` cannot be given with it. Default: one built from `host`.
   */
  docker?: Dockerode;
  /**
   * The engine's address, like `DOCKER_HOST`: `unix:///path/to/docker.sock` or `tcp://host:port` (TLS as `tls`
   * says). Default `process.env.DOCKER_HOST`, else `unix:///var/run/docker.sock`.
   */
  host?: string;
  /**
   * TLS for a `tcp://` engine (https, the engine verified against `ca.pem`, `cert.pem` and `key.pem` as the
   * client's certificate). Default: as the docker CLI, on when `DOCKER_TLS_VERIFY` is set, files in
   * `DOCKER_CERT_PATH` (else `$DOCKER_CONFIG`, else `~/.docker`). `false`: plain HTTP. A missing or broken
   * file is RelError CONFIG naming it.
   */
  tls?: DockerTlsOptions | false;
  /** How long each kind of call may take (see `DockerDeadlines`); what is not given keeps its default. */
  deadlines?: DockerDeadlines;
  /**
   * Interrupts: when it aborts, every call in flight and every stream open ends at once with RelError ABORTED
   * (saying whether the engine may still carry the call out). Calls made afterwards go ahead as usual, within
   * their deadlines, so that cleanup after an interruption still reaches the engine.
   */
  signal?: AbortSignal;
}

/**
 * Builds a client; it does not contact the engine (see `pingDocker`). Every call made through it is bounded
 * (`DockerDeadlines`): an engine that accepts connections but never answers is a RelError TIMEOUT naming the
 * engine and the request, never a hang. Registry credentials are refused (RelError CONFIG) for a `tcp://`
 * engine reached over plain HTTP unless it is on a loopback address: they would travel in clear text.
 */
export function connectDocker(options: ConnectDockerOptions = {}): DockerClient {
  if (options.docker) {
    if (options.tls !== undefined || options.deadlines || options.signal) {
      throw new RelError(
        'BAD_INPUT',
        'connectDocker: tls, deadlines and signal apply to the client it builds, not to your own dockerode',
      );
    }
    return { docker: options.docker, endpoint: options.host ?? describeModem(options.docker) };
  }
  const host = options.host ?? (process.env.DOCKER_HOST || DEFAULT_HOST);
  const guard: TransportGuard = {
    endpoint: host,
    deadlines: resolveDeadlines(options.deadlines),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath) throw new RelError('CONFIG', `invalid Docker host ${JSON.stringify(host)}: no socket path`);
    if (options.tls) throw new RelError('CONFIG', `TLS is for tcp:// Docker hosts, not ${host}`);
    // Host header 127.0.0.1 (the engine ignores it on a socket): Node otherwise tests the default `localhost`
    // against its IPv6 pattern to choose a TLS server name, compiling that pattern: ~7 ms of CPU per process.
    const docker = newDockerode({ socketPath, headers: { host: '127.0.0.1' } });
    guardTransport(docker.modem, guard);
    return { docker, endpoint: host };
  }
  const match = /^(?:tcp|http):\/\/([^/:]+|\[[^\]]+\]):(\d{1,5})\/?$/.exec(host);
  if (!match) {
    throw new RelError(
      'CONFIG',
      `invalid Docker host ${JSON.stringify(host)}: expected unix:///path/to/docker.sock or tcp://host:port ` +
        '(for SSH pass your own dockerode instance)',
    );
  }
  const [, hostname, port] = match as unknown as [string, string, string];
  const tls = options.tls === undefined ? tlsFromEnv() : options.tls || undefined;
  if (tls) {
    const material = loadTlsMaterial(tls);
    const docker = newDockerode({
      host: hostname,
      port: Number(port),
      protocol: 'https',
      ca: material.ca,
      cert: material.client?.cert,
      key: material.client?.key,
    });
    guardTransport(docker.modem, { ...guard, explain: (error) => explainTlsFailure(error, host, material) });
    return { docker, endpoint: host };
  }
  const docker = newDockerode({ host: hostname, port: Number(port), protocol: 'http' });
  guardTransport(docker.modem, {
    ...guard,
    explain: (error) => explainPlainToTls(error, host),
    ...(isLoopback(hostname)
      ? {}
      : {
          credentialsRefused:
            `refusing to send registry credentials to the Docker engine at ${host}: it is reached over plain HTTP ` +
            'and is not on a loopback address, so they would travel in clear text; set DOCKER_TLS_VERIFY=1 and ' +
            'DOCKER_CERT_PATH for TLS, or reach the engine through its unix:// socket',
        }),
  });
  return { docker, endpoint: host };
}

/**
 * A dockerode whose connection is exactly `fields`. When it is constructed, docker-modem fills fields in from
 * DOCKER_HOST, DOCKER_CLIENT_TIMEOUT and DOCKER_CERT_PATH, whose certificate files it reads (throwing a raw
 * ENOENT for a cert.pem or key.pem that docker does without). Everything is decided here instead, so those
 * variables are hidden from it for that synchronous moment.
 */
function newDockerode(fields: Dockerode.DockerOptions & { headers?: Record<string, string> }): Dockerode {
  const hidden = [
    'DOCKER_HOST',
    'DOCKER_CERT_PATH',
    'DOCKER_TLS_VERIFY',
    'DOCKER_CLIENT_TIMEOUT',
    'DOCKER_PATH_PREFIX',
  ];
  const saved = hidden.map((name) => [name, process.env[name]] as const);
  for (const name of hidden) delete process.env[name];
  try {
    return new Dockerode({ socketPath: undefined, host: undefined, port: undefined, protocol: undefined, ...fields });
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves this machine. */
function isLoopback(hostname: string): boolean {
  const name = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return name === 'localhost' || name === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * Checks that the engine answers (within `deadlines.pingMs`); throws RelError UNREACHABLE when it cannot be
 * reached, TIMEOUT when it does not answer, CONFIG or AUTH for a TLS setup that does not fit it.
 */
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

/**
 * An error raised before the engine answered: dockerode's (socket missing, connection refused...), or this
 * package's transport's, already a RelError (a deadline, an interruption, TLS, refused credentials).
 */
export function isConnectionError(error: unknown): error is NodeJS.ErrnoException {
  if (error instanceof RelError) return true;
  const e = error as NodeJS.ErrnoException & { statusCode?: number };
  return e instanceof Error && e.statusCode === undefined && typeof e.code === 'string' && CONNECTION_CODES.has(e.code);
}

/** RelError UNREACHABLE naming the engine; a RelError of the transport is returned as it is. */
export function unreachable(client: DockerClient, cause: Error): RelError {
  if (cause instanceof RelError) return cause;
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
