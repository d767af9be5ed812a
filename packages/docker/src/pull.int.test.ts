import { createHash } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelError, RelEvent } from '@rel/core';
import { buildBusyboxImage, caught, closedPort, SANDBOX_REGISTRY, sandboxRegistryAuth } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, pingDocker } from './client.js';
import { pullImage } from './pull.js';
import type { RegistryAuth } from './types.js';

const client = connectDocker();
// A small image of our own in the sandbox registry, so removing it locally disturbs no one else.
const IMAGE = `${SANDBOX_REGISTRY}/reltest-docker/pull:v2`;
let auth: RegistryAuth;
let configDir: string;

async function follow(stream: NodeJS.ReadableStream): Promise<void> {
  const output = await new Promise<{ error?: string }[]>((resolve, reject) =>
    client.docker.modem.followProgress(stream, (error, result) => (error ? reject(error) : resolve(result))),
  );
  const failure = output.find((entry) => entry.error);
  if (failure) throw new Error(failure.error);
}

async function removeLocalImage(): Promise<void> {
  await client.docker
    .getImage(IMAGE)
    .remove()
    .catch(() => undefined);
}

beforeAll(async () => {
  await pingDocker(client);
  auth = await sandboxRegistryAuth();
  configDir = await mkdtemp(join(tmpdir(), 'reltest-docker-config-'));
  const encoded = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  await writeFile(join(configDir, 'config.json'), JSON.stringify({ auths: { [SANDBOX_REGISTRY]: { auth: encoded } } }));
  // Pushed once; pushing again would add a new config blob to the registry on every run.
  const pushed = await pullImage(client, IMAGE, { auth }).then(
    () => true,
    (error: RelError) => (error.code === 'NOT_FOUND' ? false : Promise.reject(error)),
  );
  if (!pushed) await pushTestImage();
});

async function pushTestImage(): Promise<void> {
  const base = await buildBusyboxImage(client);
  // A layer of its own on top of the busybox test image, to see bytes downloaded: 4 MB of fixed content,
  // big enough that the engine always reports download progress.
  const dir = await mkdtemp(join(tmpdir(), 'reltest-docker-pull-'));
  try {
    // Incompressible but the same on every run, so the registry keeps one blob.
    const payload = Buffer.concat(
      Array.from({ length: 125_000 }, (_, i) => createHash('sha256').update(`rel-${i}`).digest()),
    );
    await writeFile(join(dir, 'payload'), payload);
    await utimes(join(dir, 'payload'), 0, 0);
    await writeFile(join(dir, 'Dockerfile'), `FROM ${base}\nCOPY payload /payload\n`);
    await follow(await client.docker.buildImage({ context: dir, src: ['Dockerfile', 'payload'] }, { t: IMAGE }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await follow(await client.docker.getImage(IMAGE).push({ authconfig: auth }));
}

afterAll(async () => {
  await removeLocalImage();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

describe('pullImage from the authenticated sandbox registry', () => {
  it('pulls with explicit credentials, reporting layers and bytes', async () => {
    await removeLocalImage();
    const events: RelEvent[] = [];
    const result = await pullImage(client, IMAGE, { auth, onEvent: (event) => events.push(event) });
    expect(result.ref).toBe(IMAGE);
    expect(result.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await client.docker.getImage(IMAGE).inspect()).Id).toBe(result.id);

    expect(events[0]).toMatchObject({ type: 'step:start', step: 'pull', message: `pulling ${IMAGE}` });
    expect(events.at(-1)).toMatchObject({ type: 'step:finish', step: 'pull' });
    const progress = events.filter((e) => e.type === 'step:progress');
    const layers = progress.filter((e) => e.unit === 'layers').at(-1);
    expect(layers).toMatchObject({ current: expect.any(Number), total: expect.any(Number) });
    expect(layers?.current).toBe(layers?.total);
    expect(layers?.total).toBeGreaterThanOrEqual(2);
    expect(progress.some((e) => e.unit === 'bytes' && (e.total ?? 0) > 100_000)).toBe(true);
    expect(JSON.stringify(events)).not.toContain(auth.password);
  });

  it("pulls with the credentials of a config.json ('docker login')", async () => {
    await removeLocalImage();
    const result = await pullImage(client, IMAGE, { configDir });
    expect(result.ref).toBe(IMAGE);
  });

  it('uses ~/.docker/config.json (or $DOCKER_CONFIG) by default, as docker does', async () => {
    const result = await pullImage(client, IMAGE);
    expect(result.ref).toBe(IMAGE);
  });

  it('a tag that does not exist is NOT_FOUND', async () => {
    const error = await caught(pullImage(client, `${SANDBOX_REGISTRY}/rel-sample/api:nope`, { auth }));
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'image 127.0.0.1:5000/rel-sample/api:nope not found in registry 127.0.0.1:5000',
    });
    const repo = await caught(pullImage(client, `${SANDBOX_REGISTRY}/rel-sample/nothing-here:v1`, { auth }));
    expect(repo.code).toBe('NOT_FOUND');
  });

  it('a wrong password is AUTH naming the registry and user, and no password appears anywhere', async () => {
    const wrong = { ...auth, password: 'wrong-Pa55word-xyzzy' };
    const events: RelEvent[] = [];
    const error = await caught(pullImage(client, IMAGE, { auth: wrong, onEvent: (e) => events.push(e) }));
    expect(error).toMatchObject({
      code: 'AUTH',
      message: 'registry 127.0.0.1:5000 refused the credentials for user rel',
    });
    const everything = JSON.stringify({
      message: error.message,
      details: error.details,
      cause: String((error as Error).cause),
      error,
      events,
    });
    expect(everything).not.toContain(wrong.password);
    expect(everything).not.toContain(auth.password);
    expect(events.at(-1)).toMatchObject({ type: 'step:fail', error: { code: 'AUTH' } });
  });

  it('no credentials for a registry that requires them is AUTH naming the registry', async () => {
    const error = await caught(pullImage(client, IMAGE, { auth: false }));
    expect(error.code).toBe('AUTH');
    expect(error.message).toMatch(/^registry 127\.0\.0\.1:5000 requires credentials/);
  });

  it('refuses to send credentials of one registry to another', async () => {
    const error = await caught(pullImage(client, 'ghcr.io/x/y:v1', { auth }));
    expect(error.code).toBe('BAD_INPUT');
  });

  it('a registry that does not answer is UNREACHABLE', async () => {
    const port = await closedPort();
    const error = await caught(pullImage(client, `127.0.0.1:${port}/x/y:v1`, { auth: false }));
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toMatch(new RegExp(`^cannot reach registry 127\\.0\\.0\\.1:${port}: `));
  });

  it('a cancelled pull is ABORTED', async () => {
    const error = await caught(pullImage(client, IMAGE, { auth, signal: AbortSignal.abort() }));
    expect(error.code).toBe('ABORTED');
  });

  it('refuses a malformed reference before contacting anything', async () => {
    const error = await caught(pullImage(client, `${SANDBOX_REGISTRY}/rel-sample/api:v1;reboot`, { auth }));
    expect(error.code).toBe('BAD_INPUT');
  });
});
