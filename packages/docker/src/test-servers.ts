// Engines that misbehave, for this package's tests; not part of the published API (index.ts does not export it).
// Real sockets (a Unix socket in a temporary directory, or TCP on 127.0.0.1), real connections.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  const dir = transport === 'unix' ? await mkdtemp(join(tmpdir(), 'rel-docker-stuck-')) : undefined;
  const socketPath = dir ? join(dir, 'docker.sock') : undefined;
  const connections: Buffer[][] = [];
  const open = new Set<Socket>();
  const waiters: { text: string; resolve: () => void }[] = [];
  const received = () => connections.map((chunks) => Buffer.concat(chunks).toString('latin1'));
  const server: Server = createServer((socket) => {
    const chunks: Buffer[] = [];
    connections.push(chunks);
    open.add(socket);
    socket.on('close', () => open.delete(socket));
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
  await new Promise<void>((resolve) =>
    socketPath ? server.listen(socketPath, resolve) : server.listen(0, '127.0.0.1', resolve),
  );
  const port = socketPath ? 0 : (server.address() as { port: number }).port;
  return {
    host: socketPath ? `unix://${socketPath}` : `tcp://127.0.0.1:${port}`,
    ...(socketPath ? { socketPath } : {}),
    received,
    requested: (text) =>
      received().some((t) => t.includes(text))
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ text, resolve })),
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
