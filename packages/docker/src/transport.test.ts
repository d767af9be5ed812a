// Against real sockets: an engine that accepts connections and never answers (issue 15).

import { caught, type FakeEngine, startSilentEngine } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, pingDocker } from './client.js';
import { findContainers, stopContainer } from './containers.js';
import { pullImage } from './pull.js';

let engine: FakeEngine;
beforeAll(async () => {
  engine = await startSilentEngine('unix');
});
afterAll(async () => {
  await engine?.close();
});

async function timed<T>(promise: Promise<T>): Promise<{ error: Awaited<ReturnType<typeof caught>>; ms: number }> {
  const started = performance.now();
  const error = await caught(promise);
  return { error, ms: performance.now() - started };
}

describe('a Docker engine that accepts connections and never answers', () => {
  it('pingDocker gives up after 5 s (the default ping deadline), naming the engine and the request', async () => {
    const { error, ms } = await timed(pingDocker(connectDocker({ host: engine.host })));
    expect(error).toMatchObject({
      code: 'TIMEOUT',
      message: `the Docker engine at ${engine.host} did not answer GET /_ping within 5.0s`,
    });
    expect(ms).toBeGreaterThanOrEqual(4_900);
    expect(ms).toBeLessThan(6_500);
  }, 15_000);

  it('each kind of call has its deadline; a change says the engine may still carry it out', async () => {
    const client = connectDocker({ host: engine.host, deadlines: { readMs: 300, changeMs: 400 } });
    const list = await timed(findContainers(client, { project: 'x' }));
    expect(list.error).toMatchObject({
      code: 'TIMEOUT',
      message: `the Docker engine at ${engine.host} did not answer GET /containers/json within 300ms`,
    });
    expect(list.ms).toBeLessThan(1_500);
    // stop's grace period (t=1) on top of the change deadline
    const stop = await timed(stopContainer(client, 'abc', { stopTimeoutSec: 1 }));
    expect(stop.error).toMatchObject({
      code: 'TIMEOUT',
      message: `the Docker engine at ${engine.host} did not answer POST /containers/abc/stop within 1.4s (the engine may still carry it out)`,
    });
    expect(stop.ms).toBeGreaterThanOrEqual(1_350);
    expect(stop.ms).toBeLessThan(2_500);
  });

  it('its signal interrupts the call in flight at once; a call made afterwards still goes to the engine', async () => {
    const controller = new AbortController();
    const client = connectDocker({ host: engine.host, signal: controller.signal, deadlines: { pingMs: 500 } });
    const ping = timed(pingDocker(client));
    setTimeout(() => controller.abort(), 100);
    const { error, ms } = await ping;
    expect(error).toMatchObject({
      code: 'ABORTED',
      message: `interrupted while waiting for the Docker engine at ${engine.host} to answer GET /_ping; nothing was changed`,
    });
    expect(ms).toBeLessThan(400);

    // cleanup after an interruption still reaches the engine (and is bounded by its deadline)
    const later = await timed(pingDocker(client));
    expect(later.error).toMatchObject({ code: 'TIMEOUT' });
    expect(later.ms).toBeGreaterThanOrEqual(450);
    expect(engine.received().join('').split('GET /_ping').length - 1).toBeGreaterThanOrEqual(2);
  });
});

describe('registry credentials and a tcp:// engine without TLS', () => {
  const auth = { serveraddress: '127.0.0.1:5000', username: 'rel', password: 'pl41n-t3xt-s3cret' };

  it('are refused for an engine that is not on a loopback address, before any connection', async () => {
    // TEST-NET-1: nothing is sent there (the refusal comes before connecting)
    const client = connectDocker({ host: 'tcp://192.0.2.1:2375', tls: false });
    const { error, ms } = await timed(pullImage(client, '127.0.0.1:5000/rel-sample/api:v1', { auth }));
    expect(error).toMatchObject({ code: 'CONFIG' });
    expect(error.message).toBe(
      'refusing to send registry credentials to the Docker engine at tcp://192.0.2.1:2375: it is reached over plain ' +
        'HTTP and is not on a loopback address, so they would travel in clear text; set DOCKER_TLS_VERIFY=1 and ' +
        'DOCKER_CERT_PATH for TLS, or reach the engine through its unix:// socket',
    );
    expect(error.message).not.toContain(auth.password);
    expect(ms).toBeLessThan(200);
  });

  it('go to a loopback engine (they never leave this machine)', async () => {
    const local = await startSilentEngine('tcp');
    try {
      const client = connectDocker({ host: local.host, tls: false, deadlines: { progressMs: 300 } });
      const error = await caught(pullImage(client, '127.0.0.1:5000/rel-sample/api:v1', { auth }));
      expect(error).toMatchObject({ code: 'TIMEOUT' });
      expect(local.received().join('')).toMatch(/^POST \/images\/create\?.* HTTP\/1\.1\r\n[\s\S]*X-Registry-Auth: /m);
    } finally {
      await local.close();
    }
  });
});
