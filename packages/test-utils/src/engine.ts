// Stand-ins for the Docker engine on a socket of their own, for what a client sends: a proxy in front of the real
// engine that records the bytes clients send, and an engine that never answers. Real sockets, real connections.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The real engine's Unix socket: DOCKER_HOST when it is a unix:// address, else /var/run/docker.sock. */
export function engineSocket(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

/** What clients sent, kept per connection. */
interface Recorder {
  connections: Buffer[][];
  open: Set<Socket>;
  /** What each connection sent so far (latin1: byte for byte). */
  sent(): string[];
}

function recorder(): Recorder {
  const connections: Buffer[][] = [];
  return {
    connections,
    open: new Set(),
    sent: () => connections.map((chunks) => Buffer.concat(chunks).toString('latin1')),
  };
}

/** Listens on `socketPath` (or a new one in a temporary directory, removed by the returned close). */
async function listen(
  server: Server,
  rec: Recorder,
  socketPath: string | undefined,
  transport: 'unix' | 'tcp',
): Promise<{ socketPath?: string; host: string; close(): Promise<void> }> {
  const dir = transport === 'unix' && !socketPath ? await mkdtemp(join(tmpdir(), 'rel-docker-engine-')) : undefined;
  const path = transport === 'unix' ? (socketPath ?? join(dir!, 'docker.sock')) : undefined;
  await new Promise<void>((resolve) => (path ? server.listen(path, resolve) : server.listen(0, '127.0.0.1', resolve)));
  const port = path ? 0 : (server.address() as { port: number }).port;
  return {
    ...(path ? { socketPath: path } : {}),
    host: path ? `unix://${path}` : `tcp://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of rec.open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface EngineProxy {
  /** The proxy's Unix socket. */
  socketPath: string;
  /** `unix://<socketPath>`, for DOCKER_HOST or connectDocker's `host`. */
  host: string;
  /** What clients sent, one string per connection (latin1: byte for byte). */
  sent(): string[];
  /** The request lines (`POST /containers/create?name=x HTTP/1.1`) clients sent, in order. */
  requestLines(): string[];
  /** Forgets what was sent so far (connections are kept alive and reused: not them). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * A Unix socket in front of the real engine's: pipes bytes both ways (half-open both ways: a client ends its side of
 * an exec's hijacked stream while the output still comes) and records what clients sent, as a socket proxy or
 * dockerd's debug log would see it. `socketPath`: where to listen (default: a new temporary directory).
 */
export async function startEngineProxy(socketPath?: string): Promise<EngineProxy> {
  const rec = recorder();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const chunks: Buffer[] = [];
    rec.connections.push(chunks);
    const engine = connect({ path: engineSocket(), allowHalfOpen: true });
    for (const socket of [client, engine]) {
      rec.open.add(socket);
      socket.on('error', () => {
        client.destroy();
        engine.destroy();
      });
      socket.on('close', () => rec.open.delete(socket));
    }
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.pipe(engine).pipe(client);
  });
  const listening = await listen(server, rec, socketPath, 'unix');
  return {
    socketPath: listening.socketPath!,
    host: listening.host,
    sent: rec.sent,
    requestLines: () =>
      rec
        .sent()
        .flatMap((text) =>
          [...text.matchAll(/(?:^|\r\n)((?:GET|POST|PUT|DELETE|HEAD) \S+ HTTP\/1\.[01])(?=\r\n)/g)].map((m) => m[1]!),
        ),
    reset: () => {
      for (const chunks of rec.connections) chunks.length = 0;
    },
    close: listening.close,
  };
}

export interface FakeEngine {
  /** `unix:///tmp/.../docker.sock` or `tcp://127.0.0.1:<port>`. */
  host: string;
  /** The Unix socket's path (unix engines). */
  socketPath?: string;
  /** What each connection sent so far (latin1: byte for byte). */
  received(): string[];
  /** Resolves once a connection has sent a request line that includes `text`. */
  requested(text: string): Promise<void>;
  close(): Promise<void>;
}

/** An engine that accepts connections, reads what is sent, and never answers (the dockerd of issue 15, stuck). */
export async function startSilentEngine(transport: 'unix' | 'tcp' = 'unix'): Promise<FakeEngine> {
  const rec = recorder();
  const waiters: { text: string; resolve: () => void }[] = [];
  const server = createServer((socket) => {
    const chunks: Buffer[] = [];
    rec.connections.push(chunks);
    rec.open.add(socket);
    socket.on('close', () => rec.open.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      for (const waiter of waiters.filter((w) => text.includes(w.text))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
  });
  const listening = await listen(server, rec, undefined, transport);
  return {
    host: listening.host,
    ...(listening.socketPath ? { socketPath: listening.socketPath } : {}),
    received: rec.sent,
    requested: (text) =>
      rec.sent().some((t) => t.includes(text))
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ text, resolve })),
    close: listening.close,
  };
}
