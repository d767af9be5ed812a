// TLS to a Docker engine (issue 15): a second dockerd of our own, in a temporary directory, listening on
// tcp://127.0.0.1:<port> with --tlsverify (certificates made here with openssl) and on a Unix socket of its own.
// It shares nothing with the sandbox's engine but the docker0 bridge (never --bridge=none: see scripts/sandbox),
// and leaves iptables alone. Stopped, and its directory removed, after the tests.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type ServerResponse } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { caught, SANDBOX_REGISTRY, sandboxRegistryAuth } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, pingDocker } from './client.js';
import { findContainers } from './containers.js';
import { pullImage } from './pull.js';
import type { RegistryAuth } from './types.js';

const exec = promisify(execFile);
// Small (busybox httpd): pulled into the second engine, whose storage starts empty.
const IMAGE = `${SANDBOX_REGISTRY}/rel-sample/client:v1`;

let dir: string;
/** ca.pem, cert.pem, key.pem: what DOCKER_CERT_PATH names. */
let certs: string;
let host: string;
let dockerd: ChildProcess | undefined;
let auth: RegistryAuth;

beforeAll(async () => {
  auth = await sandboxRegistryAuth();
  dir = await mkdtemp(join(tmpdir(), 'reltest-docker-tls-'));
  certs = join(dir, 'client');
  await makeCertificates();
  const port = await freePort();
  host = `tcp://127.0.0.1:${port}`;
  dockerd = await startDockerd(port);
});

afterAll(async () => {
  await stopDockerd();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `fn` with these environment variables (undefined: unset), restoring them after. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

const tlsEnv = (certPath: string, target = host) => ({
  DOCKER_HOST: target,
  DOCKER_TLS_VERIFY: '1',
  DOCKER_CERT_PATH: certPath,
});

describe('a Docker engine behind TLS (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)', () => {
  it('with the three variables, calls go over TLS, the engine verified against ca.pem', async () => {
    await withEnv(tlsEnv(certs), async () => {
      const client = connectDocker();
      expect(client.endpoint).toBe(host);
      await pingDocker(client);
      expect(await findContainers(client, { project: 'reltest-none' })).toEqual([]);
    });
    // the port speaks TLS only: a plain HTTP request is turned away
    const plain = await plainHttpGet(`${host.replace('tcp://', 'http://')}/_ping`);
    expect(plain).toMatchObject({ status: 400 });
    expect(plain.body).toMatch(/Client sent an HTTP request to an HTTPS server/);
  });

  it('without DOCKER_TLS_VERIFY, the TLS port is a one-line CONFIG error saying what to set', async () => {
    await withEnv({ ...tlsEnv(certs), DOCKER_TLS_VERIFY: undefined }, async () => {
      const error = await caught(pingDocker(connectDocker()));
      expect(error).toMatchObject({
        code: 'CONFIG',
        message: `the Docker engine at ${host} speaks TLS, not plain HTTP: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (the directory of ca.pem, cert.pem and key.pem)`,
      });
    });
  });

  it('registry credentials travel inside TLS: nothing of them on the wire', async () => {
    const proxy = await startRecordingProxy(Number(new URL(host.replace('tcp://', 'http://')).port));
    try {
      await withEnv(tlsEnv(certs, `tcp://127.0.0.1:${proxy.port}`), async () => {
        const result = await pullImage(connectDocker(), IMAGE, { auth });
        expect(result.ref).toBe(IMAGE);
      });
      const wire = proxy.sent();
      expect(wire[0]).toBe(0x16); // a TLS handshake record: the connection starts encrypted
      const header = Buffer.from(JSON.stringify({ username: auth.username, password: auth.password }))
        .toString('base64')
        .slice(0, 24);
      for (const clear of [auth.password, 'X-Registry-Auth', 'POST /images/create', header]) {
        expect(wire.includes(Buffer.from(clear))).toBe(false);
      }
    } finally {
      await proxy.close();
    }
  });

  it('a missing or broken certificate file is a CONFIG error naming it, before any connection', async () => {
    const d = join(dir, 'broken');
    await mkdir(d);
    const attempt = () => withEnv(tlsEnv(d), async () => caught(Promise.resolve().then(() => connectDocker())));
    expect(await attempt()).toMatchObject({
      code: 'CONFIG',
      message: `Docker TLS: ${d}/ca.pem is missing: the CA certificate the engine is verified against (DOCKER_TLS_VERIFY is set)`,
    });
    await copyFile(join(certs, 'ca.pem'), join(d, 'ca.pem'));
    await copyFile(join(certs, 'cert.pem'), join(d, 'cert.pem'));
    expect(await attempt()).toMatchObject({
      code: 'CONFIG',
      message: `Docker TLS: ${d}/key.pem is missing: the key of the client certificate ${d}/cert.pem`,
    });
    await copyFile(join(dir, 'server-key.pem'), join(d, 'key.pem'));
    expect(await attempt()).toMatchObject({
      code: 'CONFIG',
      message: `Docker TLS: ${d}/key.pem is not the key of the certificate ${d}/cert.pem`,
    });
    await writeFile(
      join(d, 'cert.pem'),
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );
    expect(await attempt()).toMatchObject({
      code: 'CONFIG',
      message: `Docker TLS: ${d}/cert.pem is not a PEM certificate`,
    });
    await writeFile(join(d, 'ca.pem'), 'garbage\n');
    expect(await attempt()).toMatchObject({
      code: 'CONFIG',
      message: `Docker TLS: ${d}/ca.pem is not a PEM certificate`,
    });
  });

  it('an engine whose certificate ca.pem does not vouch for is refused', async () => {
    const other = join(dir, 'other-ca');
    await mkdir(other);
    await openssl([
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'other-ca/ca-key.pem',
      '-out',
      'other-ca/ca.pem',
      '-subj',
      '/CN=another CA',
    ]);
    await copyFile(join(certs, 'cert.pem'), join(other, 'cert.pem'));
    await copyFile(join(certs, 'key.pem'), join(other, 'key.pem'));
    await withEnv(tlsEnv(other), async () => {
      expect(await caught(pingDocker(connectDocker()))).toMatchObject({
        code: 'UNREACHABLE',
        message: `the Docker engine at ${host} presented a certificate that ${other}/ca.pem does not verify: unable to verify the first certificate`,
      });
    });
  });

  it('without a client certificate the engine refuses, and the error says where they are looked for', async () => {
    const caOnly = join(dir, 'ca-only');
    await mkdir(caOnly);
    await copyFile(join(certs, 'ca.pem'), join(caOnly, 'ca.pem'));
    await withEnv(tlsEnv(caOnly), async () => {
      const error = await caught(pingDocker(connectDocker()));
      expect(error.code).toBe('AUTH');
      expect(error.message).toMatch(
        new RegExp(
          `^the Docker engine at ${host} refused the TLS connection with no client certificate \\(cert\\.pem and key\\.pem in ${caOnly}\\): .*certificate`,
        ),
      );
    });
  });

  it('DOCKER_TLS_VERIFY against an engine that speaks plain HTTP is a CONFIG error', async () => {
    const sockets = new Set<Socket>();
    const plain = createServer((socket) => {
      sockets.add(socket);
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const target = `tcp://127.0.0.1:${(plain.address() as { port: number }).port}`;
    try {
      await withEnv(tlsEnv(certs, target), async () => {
        expect(await caught(pingDocker(connectDocker()))).toMatchObject({
          code: 'CONFIG',
          message: `the Docker engine at ${target} does not speak TLS, but DOCKER_TLS_VERIFY is set: wrong version number`,
        });
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });
});

describe('a pull whose registry stalls (through the second engine, whose storage starts empty)', () => {
  it('ends after the progress deadline of silence, and an interruption ends it at once', async () => {
    const registry = await startStallingRegistry();
    // not v1: the test above pulled it into this engine already (v2 and v3 share its layers, not their configs)
    const image = `127.0.0.1:${registry.port}/rel-sample/client:v2`;
    const stalledAuth = { ...auth, serveraddress: `127.0.0.1:${registry.port}` };
    try {
      const client = connectDocker({ host, tls: { certPath: certs }, deadlines: { progressMs: 1_500 } });
      let started = performance.now();
      const stalled = await caught(pullImage(client, image, { auth: stalledAuth }));
      let ms = performance.now() - started;
      expect(registry.stalledBlobs()).toBeGreaterThan(0);
      expect(stalled.message).toContain(
        `the Docker engine at ${host} sent nothing for 1.5s during POST /images/create; gave up`,
      );
      expect(ms).toBeGreaterThanOrEqual(1_500);
      expect(ms).toBeLessThan(10_000);

      const controller = new AbortController();
      const interruptible = connectDocker({ host, tls: { certPath: certs }, signal: controller.signal });
      // another tag: its config blob is asked for anew (the engine may still hold the first pull's layers)
      const before = registry.stalledBlobs();
      const pull = caught(pullImage(interruptible, image.replace(/:v2$/, ':v3'), { auth: stalledAuth }));
      while (registry.stalledBlobs() === before) await new Promise((resolve) => setTimeout(resolve, 20));
      started = performance.now();
      controller.abort();
      const interrupted = await pull;
      ms = performance.now() - started;
      expect(interrupted.message).toContain(`interrupted during POST /images/create with the Docker engine at ${host}`);
      expect(ms).toBeLessThan(500);
    } finally {
      await registry.close();
    }
  });
});

// ---- the second engine -----------------------------------------------------------------------------------

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];

function openssl(args: string[]): Promise<unknown> {
  return exec('openssl', args, { cwd: dir });
}

/** A CA; the engine's certificate for 127.0.0.1 (server-cert.pem, server-key.pem); the client's in client/. */
async function makeCertificates(): Promise<void> {
  await mkdir(certs);
  await openssl(['req', '-x509', ...EC_KEY, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-subj', '/CN=rel test CA']);
  const issue = async (name: string, subject: string, extensions: string) => {
    await writeFile(join(dir, `${name}.ext`), extensions);
    await openssl(['req', ...EC_KEY, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject]);
    await openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}-cert.pem`,
    ]);
  };
  await issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await issue('client', '/CN=rel test client', 'extendedKeyUsage=clientAuth\n');
  await copyFile(join(dir, 'ca.pem'), join(certs, 'ca.pem'));
  await copyFile(join(dir, 'client-cert.pem'), join(certs, 'cert.pem'));
  await copyFile(join(dir, 'client-key.pem'), join(certs, 'key.pem'));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startDockerd(port: number): Promise<ChildProcess> {
  await writeFile(join(dir, 'daemon.json'), '{}\n'); // not /etc/docker/daemon.json: the sandbox engine's
  const log = await open(join(dir, 'dockerd.log'), 'a');
  const socket = join(dir, 'docker.sock');
  // biome-ignore format: a flag and its value per line
  const args = [
    '--config-file', join(dir, 'daemon.json'),
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'docker.pid'),
    '-H', `unix://${socket}`,
    '-H', `tcp://127.0.0.1:${port}`,
    '--tlsverify',
    '--tlscacert', join(dir, 'ca.pem'),
    '--tlscert', join(dir, 'server-cert.pem'),
    '--tlskey', join(dir, 'server-key.pem'),
    '--iptables=false',
    '--ip6tables=false',
  ];
  const child = spawn('dockerd', args, { stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited (${code ?? signal})`;
  });
  child.once('error', (error) => {
    exited = `could not be started (${error.message})`;
  });
  const local = connectDocker({ host: `unix://${socket}`, deadlines: { pingMs: 1_000 } });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`the second dockerd ${exited}:\n${await logTail()}`);
    if (
      await pingDocker(local).then(
        () => true,
        () => false,
      )
    )
      return child;
    if (Date.now() > deadline) throw new Error(`the second dockerd did not answer within 60 s:\n${await logTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function logTail(): Promise<string> {
  const text = await readFile(join(dir, 'dockerd.log'), 'utf8').catch(() => '');
  return text.split('\n').slice(-15).join('\n');
}

/** SIGTERM, then SIGKILL after 30 s; then the containerd it started, if that outlived it (by its pid file). */
async function stopDockerd(): Promise<void> {
  const child = dockerd;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(killer);
  const containerd = Number(
    (await readFile(join(dir, 'exec/containerd/containerd.pid'), 'utf8').catch(() => '')).trim(),
  );
  if (containerd > 0) {
    const comm = await readFile(`/proc/${containerd}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'containerd') process.kill(containerd, 'SIGKILL');
  }
}

// ---- wire-level helpers ----------------------------------------------------------------------------------

function plainHttpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A TCP proxy on 127.0.0.1 to `port`, recording every byte clients send (as a network observer would). */
async function startRecordingProxy(port: number) {
  const chunks: Buffer[] = [];
  const open = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [downstream, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.on('data', (chunk: Buffer) => chunks.push(chunk));
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    sent: () => Buffer.concat(chunks),
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A registry in front of the sandbox's that answers everything but layer downloads, which it never answers. */
async function startStallingRegistry() {
  const stalled: ServerResponse[] = [];
  const server = createHttpServer((req, res) => {
    if (/\/blobs\/sha256:/.test(req.url ?? '') && req.method === 'GET') {
      stalled.push(res);
      return;
    }
    const upstream = httpRequest(
      `http://${SANDBOX_REGISTRY}${req.url}`,
      { method: req.method, headers: { ...req.headers, host: SANDBOX_REGISTRY }, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stalledBlobs: () => stalled.length,
    close: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
