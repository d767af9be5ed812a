// TCP ports on 127.0.0.1 for test servers.
import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1 in 40000-49999 (tried by binding it): in 40000-44999 or 45000-49999 when the test
 * runs in lane 0 or 1 of `npm test` (REL_TEST_LANE, vitest.config.ts), so two lanes never pick the same one.
 */
export async function freePort(): Promise<number> {
  const lane = process.env.REL_TEST_LANE;
  const [from, count] = lane === '0' || lane === '1' ? [40_000 + Number(lane) * 5_000, 5_000] : [40_000, 10_000];
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = from + Math.floor(Math.random() * count);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${from + count - 1}`);
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
