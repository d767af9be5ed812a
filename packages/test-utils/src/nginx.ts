// nginx of its own for a test (own prefix, own config, a port in 40000-49999 on 127.0.0.1) in front of two tiny
// Node HTTP servers, blue and green. Never the sandbox's nginx on 127.0.0.1:8088.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Environment, pollUntil } from '@rel/core';
import { type EnvironmentAddresses, renderSocketRoutingConfig, type SwitchMethod } from '@rel/nginx-switch';
import { freePort } from './ports.js';

export const NGINX_BIN = '/usr/sbin/nginx';
export const UPSTREAMS = ['app_api', 'app_web'] as const;

export interface Backend {
  name: Environment;
  port: number;
  /** Status every request gets; change it to make the environment fail. */
  status: number;
  requests: number;
  close(): Promise<void>;
}

/** A tiny HTTP server answering every path (`/health` too) with `status` and its name. */
export async function startBackend(name: Environment): Promise<Backend> {
  const port = await freePort();
  const backend: Backend = { name, port, status: 200, requests: 0, close: async () => {} };
  const server: Server = createServer((request, response) => {
    backend.requests += 1;
    request.resume();
    response.writeHead(backend.status, { 'content-type': 'text/plain' });
    response.end(`${name}\n`);
  });
  // Longer than nginx's upstream keepalive_timeout (60 s), so nginx never reuses a connection Node just closed.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  backend.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return backend;
}

export interface NginxInstance {
  prefix: string;
  confPath: string;
  pidFile: string;
  port: number;
  /** Socket method: the socket directory. */
  socketDir: string;
  url(path: string): string;
  testCommand: string[];
  reloadCommand: string[];
  /** Stops nginx (SIGQUIT, then SIGKILL after 5 s) and removes the prefix. */
  stop(): Promise<void>;
}

/** The addresses of UPSTREAMS in blue and in green: each environment's backend. */
export function addressesOf(blue: Backend, green: Backend): EnvironmentAddresses {
  const of = (backend: Backend) => Object.fromEntries(UPSTREAMS.map((name) => [name, `127.0.0.1:${backend.port}`]));
  return { blue: of(blue), green: of(green) };
}

/** The test config: `/api/` -> app_api, `/` -> app_web, both on blue at first. */
export function renderTestConfig(options: {
  method: SwitchMethod;
  port: number;
  addresses: EnvironmentAddresses;
  socketDir: string;
  /** Extra directives for the public server block. */
  serverExtra?: string;
  /** Extra directives for the main context. */
  mainExtra?: string;
}): string {
  const routing =
    options.method === 'socket'
      ? renderSocketRoutingConfig({ upstreams: UPSTREAMS, addresses: options.addresses, socketDir: options.socketDir })
      : UPSTREAMS.map(
          (name) => `upstream ${name} {\n    server ${options.addresses.blue![name]};\n    keepalive 8;\n}`,
        ).join('\n');
  return `# test nginx for @rel/nginx-switch (${options.method} method)
worker_processes 2;
pid nginx.pid;
error_log logs/error.log warn;
${options.mainExtra ?? ''}
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
${routing.replace(/^/gm, '    ')}
    server {
        listen 127.0.0.1:${options.port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
${options.method === 'reload' ? '        add_header X-Rel-Environment blue always;\n' : ''}${options.serverExtra ?? ''}
        location /api/ {
            # the API
            proxy_pass http://app_api;
        }
        location / {
            proxy_pass http://app_web;
        }
    }
}
`;
}

/** Starts nginx in the foreground as a child (`daemon off`), with its own prefix, and waits until it answers. */
export async function startNginx(
  configFor: (context: { port: number; socketDir: string }) => string,
): Promise<NginxInstance> {
  const prefix = await mkdtemp(join(tmpdir(), 'rel-ns-'));
  // Workers run as nobody: they must reach the prefix (temp files) and the socket directory.
  await chmod(prefix, 0o755);
  await mkdir(join(prefix, 'logs'));
  await mkdir(join(prefix, 'temp'));
  const socketDir = join(prefix, 'sockets');
  await mkdir(join(socketDir, 'blue'), { recursive: true, mode: 0o755 });
  await mkdir(join(socketDir, 'green'), { recursive: true, mode: 0o755 });
  const port = await freePort();
  const confPath = join(prefix, 'nginx.conf');
  await writeFile(confPath, configFor({ port, socketDir }));
  const base = ['-p', `${prefix}/`, '-c', confPath];
  const child: ChildProcess = spawn(NGINX_BIN, [...base, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pidFile = join(prefix, 'nginx.pid');
  const nginx: NginxInstance = {
    prefix,
    confPath,
    pidFile,
    port,
    socketDir,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    testCommand: [NGINX_BIN, '-t', '-q', ...base],
    reloadCommand: [NGINX_BIN, ...base, '-s', 'reload'],
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(prefix, { recursive: true, force: true });
    },
  };
  try {
    await pollUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr.trim()}`);
        await readFile(pidFile);
        const response = await fetch(nginx.url('/'), { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 50, waitingFor: `test nginx on 127.0.0.1:${port}` },
    );
  } catch (error) {
    await nginx.stop();
    throw new Error(`${(error as Error).message}; stderr: ${stderr.trim()}`);
  }
  return nginx;
}
