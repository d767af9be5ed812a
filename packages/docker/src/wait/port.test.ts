import { type AddressInfo, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeContext } from '../../test/wait-context.js';
import { Wait } from '../wait.js';

let listening: Server;
let closedPort: number;

beforeAll(async () => {
  listening = createServer(() => undefined);
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  // A port nothing listens on any more.
  const gone = createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  closedPort = (gone.address() as AddressInfo).port;
  await new Promise((resolve) => gone.close(resolve));
});

afterAll(async () => {
  await new Promise((resolve) => listening.close(resolve));
});

// docker-proxy accepting and closing at once (nothing listens in the container yet) is timing: wait.int.test.ts
// checks it against a real container.
describe('Wait.forListeningPort', () => {
  it('describes what it waits for', () => {
    expect(Wait.forListeningPort(5432).description).toBe('container port 5432 to accept connections');
  });

  it('is ready when a connection stays open: a listener behind the port', async () => {
    const context = fakeContext({ ports: { 5432: (listening.address() as AddressInfo).port } });
    await expect(Wait.forListeningPort(5432).start()(context)).resolves.toBe(true);
  });

  it('a refused connection is "not yet" (a plain Error, not a RelError that would end the wait)', async () => {
    const context = fakeContext({ ports: { 5432: closedPort } });
    const error = await Wait.forListeningPort(5432)
      .start()(context)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
  });
});
