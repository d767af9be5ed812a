import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkNginxAnswers, verifyEnvironment } from './verify.js';

// A stand-in for nginx: answers with `status` and `X-Rel-Environment: <env>` (none when env is '').
let server: Server;
let url: string;
let env = 'blue';
let status = 200;
let answered = 0;
let connections = 0;
/** The paths asked, in order. */
let paths: string[] = [];
/** When set, decides the environment of the n-th answer (1-based). */
let envOf: ((n: number) => string) | undefined;

beforeAll(async () => {
  server = createServer((request, response) => {
    answered += 1;
    paths.push(request.url ?? '');
    const answer = envOf ? envOf(answered) : env;
    response.writeHead(status, answer ? { 'X-Rel-Environment': answer } : {});
    response.end('ok');
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  env = 'blue';
  status = 200;
  answered = 0;
  connections = 0;
  paths = [];
  envOf = undefined;
});

describe('verifyEnvironment', () => {
  it('passes after N consecutive good responses from the environment', async () => {
    const result = await verifyEnvironment({ url: [url, url], environment: 'blue', consecutive: 3 });
    expect(result).toMatchObject({ ok: true, requests: 6, seen: 'X-Rel-Environment: blue (200) 6 times' });
    expect(answered).toBe(6);
  });

  it('fails at the deadline when another environment answers, saying what it saw', async () => {
    const result = await verifyEnvironment({ url, environment: 'green', timeoutMs: 300, retryIntervalMs: 20 });
    expect(result.ok).toBe(false);
    expect(result.reason).toBe(`no 5 good responses in a row from ${url} within 300ms`);
    expect(result.seen).toMatch(/^X-Rel-Environment: blue \(200\) \d+ times$/);
  });

  it('fails early when the environment itself answers with a bad status N times in a row', async () => {
    status = 500;
    const started = Date.now();
    const result = await verifyEnvironment({ url, environment: 'blue', timeoutMs: 10_000, retryIntervalMs: 1 });
    expect(result).toMatchObject({
      ok: false,
      requests: 5,
      seen: 'X-Rel-Environment: blue (500) 5 times',
      reason: `blue answered ${url} with X-Rel-Environment: blue (500) 5 times in a row`,
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('accepts the expected status and notes responses without the header', async () => {
    status = 204;
    expect((await verifyEnvironment({ url, environment: 'blue', expectedStatus: [204] })).ok).toBe(true);
    env = '';
    const result = await verifyEnvironment({ url, environment: 'blue', timeoutMs: 100 });
    expect(result.seen).toMatch(/^no X-Rel-Environment \(204\) \d+ times?$/);
  });

  it('sends each request on a new connection (a kept one stays with the nginx worker that took it)', async () => {
    const result = await verifyEnvironment({ url, environment: 'blue', consecutive: 4 });
    expect(result.ok).toBe(true);
    expect(connections).toBe(4);
  });

  it('with settleMs, the good answers must keep coming that long; a wrong one inside starts it again', async () => {
    // the span is long against the pace (a request every 20 ms): under any load the third answer falls inside it
    const settling = { url, environment: 'blue', consecutive: 2, settleMs: 600, retryIntervalMs: 20 } as const;
    const plain = await verifyEnvironment(settling);
    expect(plain.ok).toBe(true);
    expect(plain.durationMs).toBeGreaterThanOrEqual(600);
    expect(plain.requests).toBeGreaterThan(2);

    // the 3rd answer (the first after the count was reached, inside the span) comes from an old worker still
    // routing to green: the span starts again after it
    let greenAt = 0;
    answered = 0;
    envOf = (n) => {
      if (n !== 3) return 'blue';
      greenAt = Date.now();
      return 'green';
    };
    const started = Date.now();
    const restarted = await verifyEnvironment(settling);
    expect(restarted.ok).toBe(true);
    expect(restarted.seen).toMatch(
      /^X-Rel-Environment: blue \(200\) \d+ times, X-Rel-Environment: green \(200\) 1 time$/,
    );
    expect(greenAt).toBeGreaterThan(started);
    expect(Date.now() - greenAt).toBeGreaterThanOrEqual(600);
  });

  it('with settleMs and several URLs, the span is shared: the URLs are asked in turn until it has passed', async () => {
    const other = url.replace('/health', '/api/health');
    const result = await verifyEnvironment({
      url: [url, other],
      environment: 'blue',
      consecutive: 2,
      settleMs: 1000,
      retryIntervalMs: 20,
    });
    expect(result.ok).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(1000);
    // one span for both (a span each, one after the other, would take 2000 ms); the margin is for a loaded machine
    expect(result.durationMs).toBeLessThan(1900);
    expect(paths.slice(0, 4)).toEqual(['/health', '/health', '/api/health', '/api/health']);
    expect(paths.slice(4)).toEqual(expect.arrayContaining(['/health', '/api/health']));
  });

  it('fails when the good answers cannot keep coming for settleMs before the deadline, saying so', async () => {
    const result = await verifyEnvironment({ url, environment: 'blue', settleMs: 500, timeoutMs: 200 });
    expect(result.ok).toBe(false);
    expect(result.reason).toBe(`no 5 good responses in a row over 500ms from ${url} within 200ms`);
  });

  it('counts connection errors', async () => {
    const closed = `http://127.0.0.1:1/health`;
    const result = await verifyEnvironment({ url: closed, environment: 'blue', timeoutMs: 200 });
    expect(result.ok).toBe(false);
    expect(result.seen).toMatch(/^error ECONNREFUSED \d+ times?$/);
  });
});

describe('verifyEnvironment timeouts', () => {
  it('gives up on a request that does not answer within the request timeout', async () => {
    const hanging = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hanging.address() as AddressInfo).port;
      const result = await verifyEnvironment({
        url: `http://127.0.0.1:${port}/`,
        environment: 'blue',
        requestTimeoutMs: 100,
        timeoutMs: 250,
      });
      expect(result.ok).toBe(false);
      expect(result.seen).toMatch(/^error (timeout after 100ms|UND_ERR_HEADERS_TIMEOUT) \d+ times?$/);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });
});

describe('checkNginxAnswers', () => {
  it('accepts any HTTP answer and refuses a closed port', async () => {
    status = 502;
    expect(await checkNginxAnswers(url)).toBe(502);
    await expect(checkNginxAnswers('http://127.0.0.1:1/')).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: 'nginx is not running: http://127.0.0.1:1/ refuses connections',
    });
  });

  it('a port that takes connections but does not answer in time is nginx running in front of a slow upstream', async () => {
    const hanging = createServer(() => {}); // never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const slow = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/api/health`;
      expect(await checkNginxAnswers(slow, { timeoutMs: 200 })).toBe(0);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });
});
