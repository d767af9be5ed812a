// runOneOffContainer against the real engine: files that reach the container without passing through its
// configuration or any command line, AutoRemove, and the leftovers of a run whose process was SIGKILLed
// (the run happens in a child process: this package's source bundled with esbuild).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pollUntil, type RelEvent } from '@rel/core';
import { buildBusyboxImage, caught, removeTestResources, TEST_LABELS, uniqueName } from '@rel/test-utils';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, pingDocker } from './client.js';
import { execInContainer } from './exec.js';
import { runOneOffContainer } from './one-off.js';
import type { ContainerSpec } from './types.js';

const SRC = dirname(fileURLToPath(import.meta.url));
const client = connectDocker();
const prefix = uniqueName('oneoff');
let busybox: string;
/** The busybox image run as `USER 10001:10001`, and as `USER relapp` (4242:4243 in its /etc/passwd). */
const userImages: Record<'numeric' | 'named', string> = { numeric: '', named: '' };
let buildDir: string;
let childScript: string;

// Runs runOneOffContainer(spec) and says STARTED once the container runs; the test kills it with SIGKILL.
const CHILD = `
import { connectDocker } from './client.ts';
import { runOneOffContainer } from './one-off.ts';
const spec = JSON.parse(process.argv[2]);
runOneOffContainer(connectDocker(), spec, {
  files: [{ path: '/run/rel-test/secret', content: process.argv[3] }],
  onEvent: (event) => {
    if (event.type === 'step:progress' && event.message.startsWith('started ')) process.stdout.write('STARTED\\n');
  },
}).then(
  (result) => process.stdout.write('DONE ' + result.exitCode + '\\n'),
  (error) => process.stdout.write('ERROR ' + error.message + '\\n'),
);
`;

beforeAll(async () => {
  await pingDocker(client);
  busybox = await buildBusyboxImage(client);
  buildDir = await mkdtemp(join(tmpdir(), 'rel-docker-oneoff-'));
  userImages.numeric = await buildUserImage('10001:10001');
  userImages.named = await buildUserImage('relapp', 'relapp:x:4242:4243::/tmp:/bin/sh\n');
  childScript = join(buildDir, 'one-off-child.cjs');
  await build({
    stdin: { contents: CHILD, resolveDir: SRC, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: childScript,
    // dockerode's ssh2 loads these optional native parts inside try/catch
    external: ['cpu-features', '*.node'],
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await removeTestResources(client, prefix);
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

/** The busybox test image with a USER (and an /etc/passwd), tagged by content. */
async function buildUserImage(user: string, passwd = 'root:x:0:0::/root:/bin/sh\n'): Promise<string> {
  const dockerfile = `FROM ${busybox}\nCOPY passwd /etc/passwd\nUSER ${user}\n`;
  const tag = `reltest-docker/busybox-user:${sha256(dockerfile + passwd).slice(0, 12)}`;
  const context = await mkdtemp(join(buildDir, 'context-'));
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  await writeFile(join(context, 'passwd'), passwd);
  const stream = await client.docker.buildImage({ context, src: ['Dockerfile', 'passwd'] }, { t: tag, rm: true });
  const output = await new Promise<{ error?: string }[]>((resolve, reject) =>
    client.docker.modem.followProgress(stream, (error, result) => (error ? reject(error) : resolve(result))),
  );
  const failure = output.find((entry) => entry.error);
  if (failure) throw new Error(`building ${tag} failed: ${failure.error}`);
  return tag;
}

function spec(name: string, cmd: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: `${prefix}-${name}`,
    image: busybox,
    entrypoint: ['sh', '-c'],
    cmd,
    labels: { ...TEST_LABELS, 'rel.test.oneoff': `${prefix}-${name}` },
    ...extra,
  };
}

async function containersLabelled(labels: Record<string, string> | undefined) {
  const label = Object.entries(labels ?? {}).map(([key, value]) => `${key}=${value}`);
  return client.docker.listContainers({ all: true, filters: { label } });
}

/** A secret with the characters that break connection strings and shell quoting. */
function trickySecret(): string {
  return `pw-${randomBytes(6).toString('hex')};=x"y'z:\\ $HOME`;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('runOneOffContainer', () => {
  it.each([
    { user: 'numeric', owner: '10001:10001' },
    { user: 'named', owner: '4242:4243' },
  ] as const)(
    "writes files before the start, owned by the container's $user user, 0600, in neither docker inspect nor any command line; the container goes when done",
    async ({ user, owner }) => {
      const secret = trickySecret();
      // The command waits for /tmp/go, so that the test can look meanwhile.
      const script =
        'while [ ! -e /tmp/go ]; do sleep 0.05; done; stat -c "%a %u:%g" "$1"; sha256sum < "$1"; echo oops >&2; exit 3';
      const one = spec(`files-${user}`, [script, 'sh', '/run/rel-test/secret'], { image: userImages[user] });
      const events: RelEvent[] = [];
      const run = runOneOffContainer(client, one, {
        files: [{ path: '/run/rel-test/secret', content: secret }],
        onEvent: (event) => events.push(event),
      });
      run.catch(() => undefined);
      const running = await pollUntil(
        async () => (await containersLabelled(one.labels)).find((c) => c.State === 'running'),
        { timeoutMs: 30_000, intervalMs: 50, waitingFor: `${one.name} to run` },
      );

      const inspect = await client.docker.getContainer(running.Id).inspect();
      expect(inspect.HostConfig.AutoRemove).toBe(true);
      expect(JSON.stringify(inspect)).not.toContain(secret.slice(0, 15));
      const { stdout: ps } = await promisify(execFile)('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 });
      expect(ps).toContain('while [ ! -e /tmp/go ]'); // the container's process is there to be seen
      expect(ps).not.toContain(secret.slice(0, 15));

      expect(await execInContainer(client, running.Id, ['touch', '/tmp/go'], { user: '0' })).toMatchObject({
        exitCode: 0,
      });
      const result = await run;
      expect(result).toEqual({ exitCode: 3, stdout: `600 ${owner}\n${sha256(secret)}  -\n`, stderr: 'oops\n' });
      expect(await containersLabelled(one.labels)).toEqual([]);
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['step:start', 'step:finish']));
      expect(JSON.stringify(events)).not.toContain(secret.slice(0, 15));
    },
  );

  it('removes the leftovers of a run whose process was SIGKILLed (running or never started) before it runs', async () => {
    const secret = trickySecret();
    const long = spec('killed', ['sleep 120']);
    const child: ChildProcess = spawn(process.execPath, [childScript, JSON.stringify(long), secret], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('STARTED')) resolve();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.once('exit', () => reject(new Error(`the child ended before its container started: ${output}`)));
    });
    child.kill('SIGKILL');
    await exited;
    const [leftover] = await containersLabelled(long.labels);
    expect(leftover?.State).toBe('running'); // AutoRemove cannot help while it runs
    // and one a killed run created but never started
    await client.docker.createContainer({
      Image: busybox,
      Cmd: ['true'],
      Labels: long.labels,
      name: `${long.name}-created`,
    });

    const events: RelEvent[] = [];
    const result = await runOneOffContainer(
      client,
      { ...long, cmd: ['echo again'] },
      { onEvent: (e) => events.push(e), stopTimeoutSec: 1 },
    );
    expect(result).toMatchObject({ exitCode: 0, stdout: 'again\n' });
    const progress = events.filter((e) => e.type === 'step:progress').map((e) => e.message);
    expect(progress.some((m) => m.startsWith('removing what an earlier run left:') && m.includes(long.name))).toBe(
      true,
    );
    expect(await containersLabelled(long.labels)).toEqual([]);
  });

  it('the engine removes the container when it ends, even when the process that started it was killed', async () => {
    const short = spec('autoremove', ['sleep 1']);
    const child = spawn(process.execPath, [childScript, JSON.stringify(short), 'x'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve) =>
      child.stdout?.on('data', (chunk: Buffer) => chunk.includes('STARTED') && resolve()),
    );
    child.kill('SIGKILL');
    await exited;
    await pollUntil(async () => (await containersLabelled(short.labels)).length === 0, {
      timeoutMs: 20_000,
      intervalMs: 100,
      waitingFor: `${short.name} to be removed by the engine`,
    });
  });

  it('an abort kills and removes the container (ABORTED); a spec without labels is refused', async () => {
    const long = spec('aborted', ['sleep 120']);
    const controller = new AbortController();
    const run = runOneOffContainer(client, long, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'step:progress' && event.message.startsWith('started ')) controller.abort();
      },
    });
    const error = await caught(run);
    expect(error.code).toBe('ABORTED');
    expect(await containersLabelled(long.labels)).toEqual([]);

    const unlabelled = await caught(runOneOffContainer(client, { ...long, labels: {} }));
    expect(unlabelled).toMatchObject({ code: 'BAD_INPUT' });
  });
});
