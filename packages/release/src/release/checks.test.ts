import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError, type RelEvent } from '@rel/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from './checks.js';

describe('pre-switch check commands', () => {
  let dir: string;
  const events: RelEvent[] = [];
  const options = () => ({
    cwd: dir,
    env: { REL_API_URL: 'http://127.0.0.1:1' },
    secrets: ['s3cr3t-value'],
    onEvent: (e: RelEvent) => events.push(e),
  });
  const node = (script: string, timeoutMs = 10_000) => ({
    name: 'probe',
    command: [process.execPath, '-e', script],
    timeoutMs,
  });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('expected the check to fail');
      },
      (e: unknown) => {
        expect(e).toBeInstanceOf(RelError);
        return e as RelError;
      },
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rel-checks-'));
  });

  it('passes on exit 0, with the REL_* variables, in its directory; its lines become progress (secrets removed)', async () => {
    events.length = 0;
    const run = await runCheckCommand(
      node("console.log('url', process.env.REL_API_URL, process.cwd(), 's3cr3t-value')"),
      options(),
    );
    expect(run).toMatchObject({ name: 'probe', exitCode: 0 });
    const lines = events.filter((e) => e.type === 'step:progress').map((e) => e.message);
    expect(lines).toEqual([`probe: url http://127.0.0.1:1 ${dir} ***`]);
  });

  it('a non-zero exit fails with its last error line', async () => {
    const error = await failure(
      runCheckCommand(
        node("console.log('all fine so far'); console.error('GET /items: 500'); process.exit(4)"),
        options(),
      ),
    );
    expect(error.code).toBe('UNHEALTHY');
    expect(error.message).toBe('pre-switch check probe exited with 4: GET /items: 500');
  });

  it('over its timeout the whole process group is killed, including what it started', async () => {
    const marker = join(dir, 'grandchild-alive');
    const script = `
      const { spawn } = require('node:child_process');
      const grandchild = "setTimeout(() => require('node:fs').writeFileSync(process.env.MARKER, 'x'), 2500)";
      spawn(process.execPath, ['-e', grandchild], { stdio: 'ignore', env: { MARKER: ${JSON.stringify(marker)} } });
      console.log('waiting');
      setInterval(() => {}, 1000);`;
    const started = Date.now();
    // 2 s: time for two Node processes to start on a loaded machine ('waiting' in the message shows the
    // grandchild was started before the kill); a surviving grandchild would write its marker 2500 ms after it
    // started, after the kill, and is looked for 3500 ms after the kill
    const error = await failure(runCheckCommand(node(script, 2000), options()));
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toMatch(/^pre-switch check probe did not finish within 2\.0s and was killed: waiting$/);
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(existsSync(marker)).toBe(false);
  }, 15_000);

  it('a program that does not exist is a CONFIG error naming it', async () => {
    const error = await failure(
      runCheckCommand({ name: 'smoke', command: ['/nonexistent/smoke-test'], timeoutMs: 1000 }, options()),
    );
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(/smoke could not start: program "\/nonexistent\/smoke-test" not found/);
  });

  it('an abort stops it at once', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(
      runCheckCommand(node('setInterval(() => {}, 1000)'), { ...options(), signal: controller.signal }),
    );
    expect(error.code).toBe('ABORTED');
  });
});
