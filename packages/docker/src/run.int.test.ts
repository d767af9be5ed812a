import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectDocker, pingDocker } from './client.js';
import { execInContainer } from './exec.js';
import { runContainer } from './run.js';
import { buildBusyboxImage, removeTestResources, TEST_LABELS, uniqueName } from './test-support.js';

const client = connectDocker();
const prefix = uniqueName('run');
let image: string;

beforeAll(async () => {
  await pingDocker(client);
  image = await buildBusyboxImage(client);
});

afterAll(async () => {
  await removeTestResources(client, prefix);
});

/** The engine's socket the other tests use (DOCKER_HOST when it is a unix socket). */
function engineSocket(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

interface RecordingProxy {
  socketPath: string;
  /** What clients sent, one string per connection (latin1: byte for byte). */
  sent(): string[];
  /** The request lines (`POST /containers/create?name=x HTTP/1.1`) clients sent. */
  requestLines(): string[];
  reset(): void;
  close(): Promise<void>;
}

/**
 * A Unix socket in front of the engine's: pipes bytes both ways and records what the client sent, as a
 * socket proxy (or dockerd's debug log) would see it.
 */
async function startRecordingProxy(): Promise<RecordingProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'rel-docker-proxy-'));
  const socketPath = join(dir, 'docker.sock');
  const connections: Buffer[][] = [];
  const open = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const chunks: Buffer[] = [];
    connections.push(chunks);
    const upstream = connect(engineSocket());
    for (const socket of [downstream, upstream]) {
      open.add(socket);
      socket.on('error', () => {
        downstream.destroy();
        upstream.destroy();
      });
      socket.on('close', () => open.delete(socket));
    }
    downstream.on('data', (chunk: Buffer) => chunks.push(chunk));
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const sent = () => connections.map((chunks) => Buffer.concat(chunks).toString('latin1'));
  return {
    socketPath,
    sent,
    requestLines: () =>
      sent().flatMap((text) =>
        [...text.matchAll(/^(?:GET|POST|PUT|DELETE|HEAD) \S+ HTTP\/1\.[01](?=\r\n)/gm)].map((m) => m[0]),
      ),
    // Connections are kept alive and reused: forget what they sent, not them.
    reset: () => {
      for (const chunks of connections) chunks.length = 0;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function occurrences(texts: string[], needle: string): number {
  return texts.reduce((count, text) => count + text.split(needle).length - 1, 0);
}

describe('what travels in the URL of an engine request', () => {
  let proxy: RecordingProxy;
  beforeAll(async () => {
    proxy = await startRecordingProxy();
  });
  afterAll(async () => {
    await proxy?.close();
  });
  beforeEach(() => proxy.reset());

  it('runContainer and exec send their options in the body only: the URL carries the name, never an env value', async () => {
    const secret = `s3cret-${randomBytes(8).toString('hex')}`;
    const proxied = connectDocker({ host: `unix://${proxy.socketPath}` });
    const name = `${prefix}-create-query`;
    const { id } = await runContainer(proxied, {
      name,
      image,
      env: { REL_TEST_SECRET: secret, POSTGRES_PASSWORD: `${secret}-pg` },
      labels: { ...TEST_LABELS, 'rel.test.case': 'create-query' },
      cmd: ['sleep', '60'],
    });

    const creates = proxy.requestLines().filter((line) => line.startsWith('POST /containers/create'));
    expect(creates).toEqual([`POST /containers/create?name=${name} HTTP/1.1`]);
    for (const line of proxy.requestLines()) expect(line).not.toContain(secret);
    // It traveled once, in the body (POSTGRES_PASSWORD's value holds it too: twice in all).
    expect(occurrences(proxy.sent(), secret)).toBe(2);
    const info = await client.docker.getContainer(id).inspect();
    expect(info.Config.Env).toEqual(
      expect.arrayContaining([`REL_TEST_SECRET=${secret}`, `POSTGRES_PASSWORD=${secret}-pg`]),
    );
    expect(info.Config.Labels).toMatchObject({ 'rel.test.case': 'create-query' });
    expect(info.Config.Cmd).toEqual(['sleep', '60']);

    // An exec's environment: in the body of POST /containers/<id>/exec, whose URL has no query.
    proxy.reset();
    const result = await execInContainer(proxied, id, ['sh', '-c', 'printf %s "$REL_TEST_SECRET-exec"'], {
      env: { REL_TEST_SECRET: secret },
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: `${secret}-exec` });
    expect(proxy.requestLines()).toContain(`POST /containers/${id}/exec HTTP/1.1`);
    for (const line of proxy.requestLines()) expect(line).not.toContain(secret);
    expect(occurrences(proxy.sent(), secret)).toBe(1);
  });
});
