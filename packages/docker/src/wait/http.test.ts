import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeContext } from '../../test/wait-context.js';
import { Wait } from '../wait.js';
import type { ReadinessCheck, WaitContext } from './strategy.js';

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/health') res.end('ok v2');
    else if (req.url === '/slow') setTimeout(() => res.end('late'), 500);
    else {
      res.statusCode = 503;
      res.end('starting');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/**
 * Runs a fresh check until an attempt gets an answer, as the poll would: the first attempts are given 50 ms,
 * which a loaded test machine can miss. The outcome of the first answered attempt.
 */
async function firstAnswer(check: ReadinessCheck, context: WaitContext): Promise<boolean> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await check(context);
    } catch (error) {
      if (attempt >= 8 || !/^no answer from .* within /.test((error as Error).message)) throw error;
    }
  }
}

describe('Wait.forHttp', () => {
  it('describes what it waits for', () => {
    expect(Wait.forHttp('/health', { port: 8080 }).description).toBe(
      'HTTP 200 from GET /health on container port 8080',
    );
    expect(Wait.forHttp('/v', { port: 80, status: 204, bodyIncludes: 'v2' }).description).toBe(
      'HTTP 204 containing "v2" from GET /v on container port 80',
    );
  });

  it('refuses a path that does not start with / with BAD_INPUT', () => {
    expect(() => Wait.forHttp('health', { port: 8080 })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: 'invalid HTTP path "health": starts with /' }),
    );
  });

  it('is ready on the expected status and body, on the host port published for the container port', async () => {
    const context = fakeContext({ ports: { 8080: port } });
    await expect(firstAnswer(Wait.forHttp('/health', { port: 8080 }).start(), context)).resolves.toBe(true);
    const withBody = Wait.forHttp('/health', { port: 8080, bodyIncludes: 'v2' }).start();
    await expect(firstAnswer(withBody, context)).resolves.toBe(true);
  });

  it('another status or a body without the text is "not yet", saying what it got', async () => {
    const context = fakeContext({ ports: { 8080: port } });
    const url = `http://127.0.0.1:${port}`;
    await expect(firstAnswer(Wait.forHttp('/other', { port: 8080 }).start(), context)).rejects.toThrow(
      `HTTP 503 from ${url}/other`,
    );
    const wrongBody = Wait.forHttp('/health', { port: 8080, bodyIncludes: 'v3' }).start();
    await expect(firstAnswer(wrongBody, context)).rejects.toThrow(`the body from ${url}/health does not contain "v3"`);
  });

  it('gives the first attempts 50 ms, doubling up to requestTimeoutMs', async () => {
    const context = fakeContext({ ports: { 8080: port } });
    const check = Wait.forHttp('/slow', { port: 8080, requestTimeoutMs: 150 }).start();
    const url = `http://127.0.0.1:${port}/slow`;
    await expect(check(context)).rejects.toThrow(`no answer from ${url} within 50ms`);
    await expect(check(context)).rejects.toThrow(`no answer from ${url} within 100ms`);
    await expect(check(context)).rejects.toThrow(`no answer from ${url} within 150ms`);
    await expect(check(context)).rejects.toThrow(`no answer from ${url} within 150ms`);
  });
});
