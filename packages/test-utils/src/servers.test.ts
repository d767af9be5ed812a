// The test servers other tests rely on: what they record, and how they answer.
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startSilentEngine } from './engine.js';
import { startReceiver, startTestServer, whoAnswers } from './http.js';
import { closedPort, freePort } from './ports.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('startReceiver', () => {
  it('records path, headers and JSON body of every request, oldest first, and answers 200 ok', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const post = (path: string, body: unknown) =>
      fetch(`${receiver.url}${path}`, { method: 'POST', headers: { 'x-token': 't1' }, body: JSON.stringify(body) });
    const first = await post('/hook/a', { event: 'rollback' });
    expect([first.status, await first.text()]).toEqual([200, 'ok']);
    await post('/hook/b?x=1', { n: 2 });
    expect(receiver.received.map((r) => [r.path, r.body])).toEqual([
      ['/hook/a', { event: 'rollback' }],
      ['/hook/b?x=1', { n: 2 }],
    ]);
    expect(receiver.received[0]!.headers['x-token']).toBe('t1');
    expect(receiver.received[1]!.at).toBeGreaterThanOrEqual(receiver.received[0]!.at);
  });

  it('answers as its handler says, with the index of the request', async () => {
    const receiver = await startReceiver((_req, res, index) => res.writeHead(index === 0 ? 503 : 204).end());
    closers.push(receiver.close);
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await fetch(receiver.url, { method: 'POST' })).status);
    expect(statuses).toEqual([503, 204]);
    expect(receiver.received.map((r) => r.body)).toEqual([undefined, undefined]);
  });
});

describe('startTestServer', () => {
  it('answers with the status it is set to, or the pattern over requests', async () => {
    const server = await startTestServer();
    closers.push(server.close);
    const status = async () => (await fetch(server.url())).status;
    expect(await status()).toBe(200);
    server.status = 503;
    expect(await status()).toBe(503);
    // request n (from 0) gets pattern[n % length]: the third and fourth requests
    server.pattern = [200, 500, 502];
    expect([await status(), await status()]).toEqual([502, 200]);
    expect(server.requests).toBe(4);
  });
});

describe('whoAnswers', () => {
  it('reads the environment and version headers, null when absent', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, req.url === '/blue' ? { 'x-rel-environment': 'blue', 'x-app-version': 'v1' } : {}).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    expect(await whoAnswers(`${base}/blue`)).toEqual({ status: 200, env: 'blue', version: 'v1' });
    expect(await whoAnswers(`${base}/none`)).toEqual({ status: 200, env: null, version: null });
  });

  it('fails saying so when nothing answers in time', async () => {
    const engine = await startSilentEngine('tcp');
    closers.push(engine.close);
    await expect(whoAnswers(`${engine.host.replace('tcp:', 'http:')}/x`, 200)).rejects.toThrow(
      /^no answer from http:\/\/127\.0\.0\.1:\d+\/x within 200ms$/,
    );
  });
});

describe('startSilentEngine', () => {
  it('records what each connection sent and never answers', async () => {
    const engine = await startSilentEngine();
    closers.push(engine.close);
    expect(engine.host).toBe(`unix://${engine.socketPath}`);
    const socket = connect(engine.socketPath!);
    let answered = false;
    socket.on('data', () => {
      answered = true;
    });
    socket.write('GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n');
    await engine.requested('GET /_ping');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(engine.received()).toEqual(['GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n']);
    expect(answered).toBe(false);
    socket.destroy();
  });
});

describe('ports', () => {
  it('closedPort: nothing listens there', async () => {
    const port = await closedPort();
    const error = await new Promise<NodeJS.ErrnoException>((resolve) =>
      connect(port, '127.0.0.1').on('error', resolve),
    );
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('freePort: in 40000-49999 and free to listen on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThanOrEqual(40_000);
    expect(port).toBeLessThan(50_000);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
