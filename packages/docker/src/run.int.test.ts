import { randomBytes } from 'node:crypto';
import { dockerTestScope, type EngineProxy, startEngineProxy, TEST_LABELS } from '@rel/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectDocker } from './client.js';
import { execInContainer } from './exec.js';
import { runContainer } from './run.js';

// the file's share of the engine: client, name prefix, busybox image
const scope = dockerTestScope('run');
const { client, prefix } = scope;
beforeAll(scope.setup);
afterAll(scope.teardown);

function occurrences(texts: string[], needle: string): number {
  return texts.reduce((count, text) => count + text.split(needle).length - 1, 0);
}

describe('what travels in the URL of an engine request', () => {
  let proxy: EngineProxy;
  beforeAll(async () => {
    proxy = await startEngineProxy();
  });
  afterAll(async () => {
    await proxy?.close();
  });
  beforeEach(() => proxy.reset());

  it('runContainer and exec send their options in the body only: the URL carries the name, never an env value', async () => {
    const secret = `s3cret-${randomBytes(8).toString('hex')}`;
    const proxied = connectDocker({ host: `unix://${proxy.socketPath}` });
    const name = `${prefix}-create-query`;
    const { id } = await runContainer(proxied, {
      name,
      image: scope.image,
      env: { REL_TEST_SECRET: secret, POSTGRES_PASSWORD: `${secret}-pg` },
      labels: { ...TEST_LABELS, 'rel.test.case': 'create-query' },
      cmd: ['sleep', '60'],
    });

    const creates = proxy.requestLines().filter((line) => line.startsWith('POST /containers/create'));
    expect(creates).toEqual([`POST /containers/create?name=${name} HTTP/1.1`]);
    for (const line of proxy.requestLines()) expect(line).not.toContain(secret);
    // It traveled once, in the body (POSTGRES_PASSWORD's value holds it too: twice in all).
    expect(occurrences(proxy.sent(), secret)).toBe(2);
    const info = await client.docker.getContainer(id).inspect();
    expect(info.Config.Env).toEqual(
      expect.arrayContaining([`REL_TEST_SECRET=${secret}`, `POSTGRES_PASSWORD=${secret}-pg`]),
    );
    expect(info.Config.Labels).toMatchObject({ 'rel.test.case': 'create-query' });
    expect(info.Config.Cmd).toEqual(['sleep', '60']);

    // An exec's environment: in the body of POST /containers/<id>/exec, whose URL has no query.
    proxy.reset();
    const result = await execInContainer(proxied, id, ['sh', '-c', 'printf %s "$REL_TEST_SECRET-exec"'], {
      env: { REL_TEST_SECRET: secret },
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: `${secret}-exec` });
    expect(proxy.requestLines()).toContain(`POST /containers/${id}/exec HTTP/1.1`);
    for (const line of proxy.requestLines()) expect(line).not.toContain(secret);
    expect(occurrences(proxy.sent(), secret)).toBe(1);
  });
});
