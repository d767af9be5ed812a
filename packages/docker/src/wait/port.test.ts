import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wait } from '../wait.js';
import { fakeContext } from './test-context.js';

let listening: Server;
let closing: Server;

beforeAll(async () => {
  listening = createServer(() => undefined);
  // What docker-proxy does when nothing listens in the container: accept, then close at once.
  closing = createServer((socket) => socket.destroy());
  await Promise.all([listening, closing].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
});

afterAll(async () => {
  await Promise.all([listening, closing].map((s) => new Promise((resolve) => s.close(resolve))));
});

const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe('Wait.forListeningPort', () => {
  it('describes what it waits for', () => {
    expect(Wait.forListeningPort(5432).description).toBe('container port 5432 to accept connections');
  });

  it('is ready when a connection stays open: a listener behind the port', async () => {
    const context = fakeContext({ ports: { 5432: portOf(listening) } });
    await expect(Wait.forListeningPort(5432).start()(context)).resolves.toBe(true);
  });

  it('a connection accepted and closed at once is "not yet": nothing listens behind the proxy', async () => {
    const port = portOf(closing);
    const context = fakeContext({ ports: { 5432: port } });
    await expect(Wait.forListeningPort(5432).start()(context)).rejects.toThrow(
      `127.0.0.1:${port} closed the connection: nothing listens behind it yet`,
    );
  });
});
