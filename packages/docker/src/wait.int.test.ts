import { sleep } from '@rel/core';
import { caught, dockerTestScope, SANDBOX_IMAGES, sandboxRegistryAuth, TEST_LABELS } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execInContainer } from './exec.js';
import { tailLogs } from './logs.js';
import { pullImage } from './pull.js';
import { runContainer } from './run.js';
import type { ContainerSpec } from './types.js';
import { Wait, waitForReady } from './wait.js';

// the file's share of the engine: client, name prefix, its own network (not Docker's default bridge), busybox image
const scope = dockerTestScope('wait', { network: true });
const { client, prefix, network } = scope;
beforeAll(scope.setup);
afterAll(scope.teardown);
let count = 0;

/** Starts a busybox container (httpd on 8080 serving /www unless `cmd` says otherwise) with 8080 published. */
async function start(extra: Partial<ContainerSpec> = {}): Promise<{ id: string; name: string; started: number }> {
  const result = await runContainer(client, {
    name: `${prefix}-${++count}`,
    image: scope.image,
    labels: { ...TEST_LABELS },
    network: { name: network },
    ports: [{ container: 8080, host: 0 }],
    ...extra,
  });
  return { ...result, started: Date.now() };
}

const sh = (script: string) => ['sh', '-c', script];

describe('each wait strategy against a real container', () => {
  it('forHttp notices readiness within 250 ms', async () => {
    const { id } = await start();
    const ready = waitForReady(client, id, Wait.forHttp('/ready', { port: 8080 }).withTimeout(10_000));
    await sleep(500);
    await execInContainer(client, id, sh('echo yes > /www/ready'));
    const fileWritten = Date.now();
    await ready;
    expect(Date.now() - fileWritten).toBeLessThan(250);
  });

  it('forHttp checks the status and the body', async () => {
    const { id } = await start();
    await waitForReady(client, id, Wait.forHttp('/health', { port: 8080, bodyIncludes: 'ok' }).withTimeout(10_000));
    await waitForReady(client, id, Wait.forHttp('/missing', { port: 8080, status: 404 }).withTimeout(10_000));
    // and either one wrong is not ready: the wait ends in TIMEOUT saying why
    const body = await caught(
      waitForReady(client, id, Wait.forHttp('/health', { port: 8080, bodyIncludes: 'not there' }).withTimeout(600)),
    );
    expect(body.code).toBe('TIMEOUT');
    expect(body.message).toMatch(/the body from http:\/\/127\.0\.0\.1:\d+\/health does not contain "not there"/);
    const status = await caught(waitForReady(client, id, Wait.forHttp('/missing', { port: 8080 }).withTimeout(600)));
    expect(status.code).toBe('TIMEOUT');
    expect(status.message).toMatch(/HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/missing/);
  });

  it('forListeningPort is not fooled by docker-proxy accepting before the app listens', async () => {
    const { id, started } = await start({
      cmd: sh('echo booting; sleep 1; echo listening; exec httpd -f -p 8080 -h /www'),
    });
    const { durationMs } = await waitForReady(client, id, Wait.forListeningPort(8080).withTimeout(10_000));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(durationMs).toBeLessThan(5000);
  });

  it('forHealthCheck waits for healthy', async () => {
    const { id } = await start({
      cmd: sh('sleep 0.5; exec httpd -f -p 8080 -h /www'),
      healthcheck: {
        test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/health'],
        intervalMs: 100,
        timeoutMs: 1000,
        retries: 50,
      },
    });
    await waitForReady(client, id, Wait.forHealthCheck().withTimeout(20_000));
    const info = await client.docker.getContainer(id).inspect();
    expect(info.State.Health?.Status).toBe('healthy');
  });

  it('forLogMessage counts lines matching text or a pattern', async () => {
    const { id } = await start({
      cmd: sh('echo warming up; sleep 1; echo Ready 1; sleep 1; echo ready 2; exec sleep 600'),
    });
    await waitForReady(client, id, Wait.forLogMessage(/ready \d/i, 2).withTimeout(10_000));
    // the second match was there when the wait ended (a wait ending at the first would find it a second early);
    // the logs say so whatever the machine's load, where a clock started after the container had would not
    expect((await tailLogs(client, id)).join('\n')).toMatch(/ready 2/);
    await waitForReady(client, id, Wait.forLogMessage('warming up').withTimeout(1000));
    const error = await caught(waitForReady(client, id, Wait.forLogMessage('ready', 2).withTimeout(300)));
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toContain('waiting for log message "ready" 2 times');
    expect(error.message).toContain('(last error: seen 1 of 2)');
  });

  it('forPostgres runs pg_isready in the container until it exits 0', async () => {
    // The test image's pg_isready succeeds once /tmp/pg-ready exists.
    const { id, started } = await start({ cmd: sh('sleep 1; touch /tmp/pg-ready; exec sleep 600') });
    await waitForReady(client, id, Wait.forPostgres({ user: 'rel', database: 'app' }).withTimeout(10_000));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('forAll waits for every part', async () => {
    const { id } = await start({
      cmd: sh('echo one; sleep 0.5; echo two; exec httpd -f -p 8080 -h /www'),
      healthcheck: { test: ['CMD', 'true'], intervalMs: 100, retries: 3 },
    });
    await waitForReady(
      client,
      id,
      Wait.forAll([
        Wait.forLogMessage('two'),
        Wait.forHttp('/health', { port: 8080 }),
        Wait.forListeningPort(8080),
        Wait.forHealthCheck(),
      ]).withTimeout(20_000),
    );
    // every part, not any: one part never ready keeps the whole wait from ending, and the timeout names it
    const error = await caught(
      waitForReady(client, id, Wait.forAll([Wait.forLogMessage('two'), Wait.forLogMessage('three')]).withTimeout(800)),
    );
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toMatch(/log message "three"/);
    expect(error.message).not.toMatch(/log message "two" 1 times?: not yet/);
  });

  it('the sandbox PostgreSQL image: pg_isready and its own health check', async () => {
    await pullImage(client, SANDBOX_IMAGES.postgres, { auth: await sandboxRegistryAuth() });
    const { id } = await start({
      image: SANDBOX_IMAGES.postgres,
      cmd: undefined,
      ports: [{ container: 5432, host: 0 }],
      env: { POSTGRES_PASSWORD: 'pw-not-in-messages', POSTGRES_USER: 'rel', POSTGRES_DB: 'app' },
    });
    await waitForReady(
      client,
      id,
      Wait.forAll([Wait.forPostgres({ user: 'rel', database: 'app' }), Wait.forHealthCheck()]).withTimeout(90_000),
    );
  });
});

describe('when the container does not become ready', () => {
  it('forHttp on an API whose /health answers 500 times out with what, how long and the last log lines', async () => {
    await pullImage(client, SANDBOX_IMAGES.api, { auth: await sandboxRegistryAuth() });
    const secret = 'Pg-Secret-Never-Printed';
    const { id, name } = await start({
      image: SANDBOX_IMAGES.api,
      env: { FAIL_MODE: 'error', PGHOST: '127.0.0.1', PGPASSWORD: secret, PGUSER: 'rel', PGDATABASE: 'app' },
    });
    const started = Date.now();
    const error = await caught(waitForReady(client, id, Wait.forHttp('/health', { port: 8080 }).withTimeout(2000)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toMatch(
      new RegExp(
        `^timed out after 2\\.\\ds waiting for HTTP 200 from GET /health on container port 8080 \\(container ${name}\\) ` +
          '\\(last error: HTTP 500 from http://127\\.0\\.0\\.1:\\d+/health\\); last log lines: .*listening on :8080',
      ),
    );
    expect(error.message).not.toContain('\n');
    expect(error.details).toMatchObject({ container: name, logs: expect.arrayContaining([expect.any(String)]) });
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(secret);
  });

  it('a container that exits while waited on fails fast with its exit code and last log lines', async () => {
    const { id, name } = await start({
      cmd: sh('echo connecting to db; sleep 0.3; echo fatal: no database >&2; exit 3'),
    });
    const started = Date.now();
    const error = await caught(waitForReady(client, id, Wait.forHttp('/health', { port: 8080 }).withTimeout(30_000)));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      `container ${name} exited with code 3 while waiting for HTTP 200 from GET /health on container port 8080; ` +
        'last log lines: connecting to db | fatal: no database',
    );
  });

  it('a container restarted by its restart policy fails fast too', async () => {
    const { id, name } = await start({ cmd: sh('echo crashing; sleep 0.5; exit 1'), restart: 'on-failure' });
    const started = Date.now();
    const error = await caught(waitForReady(client, id, Wait.forHttp('/health', { port: 8080 }).withTimeout(30_000)));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(
      new RegExp(`^container ${name} exited with code 1 while waiting for .*last log lines: crashing`),
    );
  });

  it('an unhealthy container fails fast with UNHEALTHY', async () => {
    const { id } = await start({
      healthcheck: { test: ['CMD-SHELL', 'echo db down; exit 1'], intervalMs: 100, retries: 2 },
    });
    const error = await caught(waitForReady(client, id, Wait.forHealthCheck().withTimeout(30_000)));
    expect(error.code).toBe('UNHEALTHY');
    expect(error.message).toMatch(/became unhealthy \(last check: db down\)/);
  });

  it('waiting for a health check a container does not have is CONFIG, at once', async () => {
    const { id } = await start();
    const error = await caught(waitForReady(client, id, Wait.forHealthCheck()));
    expect(error.code).toBe('CONFIG');
  });

  it('waiting on a port that is not published is CONFIG, at once', async () => {
    const { id } = await start();
    const error = await caught(waitForReady(client, id, Wait.forListeningPort(9999)));
    expect(error).toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/port 9999 .* is not published/) });
  });

  it('an aborted wait is ABORTED', async () => {
    const { id } = await start();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const error = await caught(
      waitForReady(client, id, Wait.forHttp('/never', { port: 8080 }), { signal: controller.signal }),
    );
    expect(error.code).toBe('ABORTED');
  });

  it('a container that does not exist is NOT_FOUND', async () => {
    const error = await caught(waitForReady(client, `${prefix}-nothing`, Wait.forHealthCheck()));
    expect(error.code).toBe('NOT_FOUND');
  });
});
