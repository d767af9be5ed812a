// The built `rel` (apps/cli/bin/rel.js, which bundles @rel/docker) against a Docker engine that accepts
// connections and never answers: issue 15 saw `rel status` run 731 s until killed, deaf to its first SIGTERM.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type FakeEngine, REPO_ROOT, relBin as rel, startSilentEngine } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const config = join(REPO_ROOT, 'examples/sandbox/rel.config.yaml');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** When it exited (performance.now()). */
  endedAt: number;
}

/** Starts `rel status` against `host`; `run` resolves when it exits (killed after 30 s: a hang fails the test). */
function relStatus(host: string) {
  const child = spawn(process.execPath, [rel, 'status', '--config', config], {
    env: { ...process.env, DOCKER_HOST: host, CI: '1', REL_COMPILE_CACHE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const run = new Promise<Run>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, endedAt: performance.now() });
    }),
  );
  return { child, run };
}

let engine: FakeEngine;
beforeAll(async () => {
  engine = await startSilentEngine('unix');
});
afterAll(async () => {
  await engine?.close();
});

describe('rel status against a Docker engine that never answers', () => {
  it('ends after the ping deadline with a one-line error naming the engine and what timed out', async () => {
    const started = performance.now();
    const { code, stdout, stderr, endedAt } = await relStatus(engine.host).run;
    expect({ code, stdout, stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: `rel: the Docker engine at ${engine.host} did not answer GET /_ping within 5.0s\n`,
    });
    const ms = endedAt - started;
    expect(ms).toBeGreaterThanOrEqual(5_000);
    expect(ms).toBeLessThan(8_000);
  }, 40_000);

  it('the first SIGTERM ends it within a second: exit 130, saying nothing was changed', async () => {
    const { child, run } = relStatus(engine.host);
    const pinged = engine.received().join('').split('GET /_ping').length;
    // it is waiting for the engine once its ping has arrived there
    while (engine.received().join('').split('GET /_ping').length === pinged) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const signalled = performance.now();
    child.kill('SIGTERM');
    const { code, stdout, stderr, endedAt } = await run;
    expect({ code, stdout, stderr }).toEqual({
      code: 130,
      stdout: '',
      stderr: `rel: interrupted while waiting for the Docker engine at ${engine.host} to answer GET /_ping; nothing was changed\n`,
    });
    expect(endedAt - signalled).toBeLessThan(1_000);
  }, 40_000);
});
