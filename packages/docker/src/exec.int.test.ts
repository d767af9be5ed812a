import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { caught, dockerTestScope, SANDBOX_IMAGES, sandboxRegistryAuth, TEST_LABELS } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker } from './client.js';
import { execInContainer, execInContainerStream } from './exec.js';
import { pullImage } from './pull.js';
import { runContainer } from './run.js';
import { Wait, waitForReady } from './wait.js';

// the file's share of the engine: client, name prefix, its own network; the PostgreSQL image instead of busybox
const scope = dockerTestScope('exec', { network: true, busybox: false });
const { client, prefix, network } = scope;
beforeAll(scope.setup);
afterAll(scope.teardown);
let id: string;
let dir: string;

/** `bytes` bytes of a repeating pattern, in chunks, as a file stream would give them. */
function pattern(bytes: number, chunk = 64 * 1024): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const size = Math.min(chunk, bytes - sent);
      sent += size;
      this.push(Buffer.alloc(size, 'rel-'));
    },
  });
}

/** A Writable that counts what it receives, slowly (a write every `delayMs`), with a small buffer. */
function slowCounter(delayMs = 0): Writable & { bytes: number; ended: boolean; maxBuffered: number } {
  const counter = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, done) {
      counter.bytes += chunk.length;
      counter.maxBuffered = Math.max(counter.maxBuffered, counter.writableLength);
      setTimeout(done, delayMs);
    },
    final(done) {
      counter.ended = true;
      done();
    },
  }) as Writable & { bytes: number; ended: boolean; maxBuffered: number };
  counter.bytes = 0;
  counter.ended = false;
  counter.maxBuffered = 0;
  return counter;
}

const psql = (sql: string, database = 'app') =>
  execInContainer(client, id, ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'app', '-d', database, '-c', sql]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reltest-docker-exec-'));
  await pullImage(client, SANDBOX_IMAGES.postgres, { auth: await sandboxRegistryAuth() });
  ({ id } = await runContainer(client, {
    name: `${prefix}-db`,
    image: SANDBOX_IMAGES.postgres,
    labels: { ...TEST_LABELS },
    network: { name: network },
    env: { POSTGRES_USER: 'app', POSTGRES_PASSWORD: 'pw-exec-test', POSTGRES_DB: 'app' },
  }));
  await waitForReady(client, id, Wait.forPostgres({ user: 'app', database: 'app' }).withTimeout(90_000));
  // Several MB of dump: random text does not compress away.
  const created = await psql(
    `CREATE TABLE items (id int PRIMARY KEY, label text, payload text);
     INSERT INTO items SELECT i, 'item ' || i, md5(random()::text) || md5(random()::text) || md5(random()::text)
       FROM generate_series(1, 100000) i;
     CREATE TABLE notes (id serial PRIMARY KEY, body text);
     INSERT INTO notes (body) SELECT 'note ' || i FROM generate_series(1, 1000) i;`,
  );
  expect(created).toMatchObject({ exitCode: 0, stderr: '' });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('execInContainerStream: pg_dump and pg_restore through files', () => {
  it('streams pg_dump -Fc into a file and pg_restore reads it back through stdin', async () => {
    const file = join(dir, 'app.dump');
    const out = createWriteStream(file);
    const dump = await execInContainerStream(client, id, ['pg_dump', '-Fc', '-U', 'app', 'app'], { stdout: out });
    await finished(out);
    expect(dump).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    const { size } = await stat(file);
    expect(size).toBeGreaterThan(4 << 20);
    expect((await readFile(file)).subarray(0, 5).toString()).toBe('PGDMP');

    // --list stops reading after the table of contents: the rest of the file is not sent, and that is fine.
    const listed = await execInContainerStream(client, id, ['pg_restore', '--list'], {
      stdin: createReadStream(file),
    });
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toMatch(/^; Archive created at/m);
    expect(listed.stdout).toMatch(/TABLE DATA public items app/);
    expect(listed.stdout).toMatch(/TABLE DATA public notes app/);

    // The whole file, through stdin, into another database: the same rows.
    expect((await psql('CREATE DATABASE copy')).exitCode).toBe(0);
    const restored = await execInContainerStream(
      client,
      id,
      ['pg_restore', '--exit-on-error', '-U', 'app', '-d', 'copy'],
      { stdin: createReadStream(file) },
    );
    expect(restored).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    const digest = `SELECT count(*) || ' ' || md5(string_agg(payload, ',' ORDER BY id)) FROM items`;
    const [original, copy] = await Promise.all(
      ['app', 'copy'].map((database) =>
        execInContainer(client, id, ['psql', '-X', '-At', '-U', 'app', '-d', database, '-c', digest]),
      ),
    );
    expect(copy!.stdout).toBe(original!.stdout);
    expect(original!.stdout).toMatch(/^100000 [0-9a-f]{32}\n$/);
  });

  it('pg_restore of a damaged file through stdin is a non-zero exit with its message, not a throw', async () => {
    const result = await execInContainerStream(client, id, ['pg_restore', '--list'], {
      stdin: Readable.from([Buffer.from('not a dump at all\n')]),
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/pg_restore: error: .*(not a valid archive|input file)/);
  });
});

describe('execInContainerStream: stdin', () => {
  it('the command reads EOF when stdin ends: cat >/dev/null; exit 3', async () => {
    const result = await execInContainerStream(client, id, ['sh', '-c', 'cat >/dev/null; exit 3'], {
      stdin: pattern(8 << 20),
      timeoutMs: 30_000,
    });
    expect(result).toEqual({ exitCode: 3, stdout: '', stderr: '' });
  });

  it('an empty stdin is EOF at once; what was sent arrives byte for byte', async () => {
    expect(
      await execInContainerStream(client, id, ['wc', '-c'], { stdin: Readable.from([]), timeoutMs: 10_000 }),
    ).toEqual({ exitCode: 0, stdout: '0\n', stderr: '' });
    const counted = await execInContainerStream(client, id, ['sh', '-c', 'wc -c; md5sum'], {
      stdin: pattern(3_000_001),
      timeoutMs: 30_000,
    });
    expect(counted.stdout.split('\n')[0]!.trim()).toBe('3000001');
    const echoed = await execInContainerStream(client, id, ['cat'], {
      stdin: Readable.from(['héllo ', 'wörld\n']),
      timeoutMs: 10_000,
    });
    expect(echoed).toEqual({ exitCode: 0, stdout: 'héllo wörld\n', stderr: '' });
    const consumed = Readable.from(['already read']);
    for await (const _ of consumed);
    expect(await execInContainerStream(client, id, ['wc', '-c'], { stdin: consumed, timeoutMs: 10_000 })).toEqual({
      exitCode: 0,
      stdout: '0\n',
      stderr: '',
    });
  });

  it('a command that stops reading early still gives all of its output and its exit code', async () => {
    for (let round = 0; round < 3; round++) {
      const out = slowCounter();
      const result = await execInContainerStream(
        client,
        id,
        ['sh', '-c', 'head -c 10 >/dev/null; head -c 5000000 /dev/zero; echo done >&2; exit 4'],
        { stdin: pattern(64 << 20), stdout: out, timeoutMs: 30_000 },
      );
      expect(result).toEqual({ exitCode: 4, stdout: '', stderr: 'done\n' });
      expect(out.writableEnded).toBe(true);
      await finished(out);
      expect(out.bytes).toBe(5_000_000);
      expect(out.ended).toBe(true);
    }
  });

  it('a stdin that fails is STEP_FAILED naming the command', async () => {
    const broken = new Readable({
      read() {
        this.destroy(new Error('disk on fire'));
      },
    });
    const error = await caught(execInContainerStream(client, id, ['cat'], { stdin: broken, timeoutMs: 10_000 }));
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(/^reading the input for cat in container [0-9a-f]{12} failed: disk on fire$/);
  });
});

describe('execInContainerStream: stdout and stderr', () => {
  it('20 MB of stdout arrives complete, collected or streamed with backpressure', async () => {
    const cmd = ['head', '-c', '20000000', '/dev/zero'];
    const collected = await execInContainerStream(client, id, cmd);
    expect(collected.exitCode).toBe(0);
    expect(collected.stdout.length).toBe(20_000_000);
    expect(/^\0+$/.test(collected.stdout)).toBe(true);

    const out = slowCounter(1);
    const streamed = await execInContainerStream(client, id, cmd, { stdout: out });
    expect(streamed).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    await finished(out);
    expect(out.bytes).toBe(20_000_000);
    expect(out.ended).toBe(true);
    // Backpressure: the connection waited for the slow writer instead of piling the output up in memory.
    expect(out.maxBuffered).toBeLessThan(1 << 20);
  });

  it('stdout and stderr stay apart, env and user are passed, a non-zero exit is a result', async () => {
    const out = new PassThrough();
    const text = (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of out) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString();
    })();
    const result = await execInContainerStream(
      client,
      id,
      ['sh', '-c', 'echo "$GREETING"; id -u; echo oops >&2; seq 1 3 >&2; exit 7'],
      { env: { GREETING: 'streamed hello' }, user: '1234', stdout: out },
    );
    expect(result).toEqual({ exitCode: 7, stdout: '', stderr: 'oops\n1\n2\n3\n' });
    expect(await text).toBe('streamed hello\n1234\n');
    const missing = await execInContainerStream(client, id, ['no-such-program']);
    expect(missing.exitCode).toBeGreaterThanOrEqual(126);
  });
});

describe('execInContainerStream: stopping and errors', () => {
  it('an abort stops waiting at once with ABORTED, and leaves the given stdout open', async () => {
    const controller = new AbortController();
    const out = slowCounter();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    // Docker cannot stop an exec'd command: this one ends by itself a few seconds later.
    const loop = 'i=0; while [ $i -lt 100 ]; do head -c 65536 /dev/zero; sleep 0.05; i=$((i+1)); done';
    const error = await caught(
      execInContainerStream(client, id, ['sh', '-c', loop], { stdout: out, signal: controller.signal }),
    );
    expect(error.code).toBe('ABORTED');
    expect(error.message).toMatch(/^stopped waiting for sh in container [0-9a-f]{12}$/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(out.bytes).toBeGreaterThan(0);
    expect(out.writableEnded).toBe(false);
    expect(out.destroyed).toBe(false);
  });

  it('an abort while stdin is being sent, and a signal aborted before the start', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const error = await caught(
      execInContainerStream(client, id, ['sh', '-c', 'sleep 30; cat >/dev/null'], {
        stdin: pattern(64 << 20),
        signal: controller.signal,
      }),
    );
    expect(error.code).toBe('ABORTED');
    const early = await caught(execInContainerStream(client, id, ['true'], { signal: AbortSignal.abort() }));
    expect(early.code).toBe('ABORTED');
  });

  it('gives up after timeoutMs', async () => {
    const started = Date.now();
    const error = await caught(execInContainerStream(client, id, ['sleep', '5'], { timeoutMs: 300 }));
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toMatch(/^sleep in container [0-9a-f]{12} did not finish within /);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('no command, no such container, a stopped container, no engine: RelErrors', async () => {
    expect((await caught(execInContainerStream(client, id, []))).code).toBe('BAD_INPUT');
    const missing = await caught(execInContainerStream(client, `${prefix}-nope`, ['true']));
    expect(missing.code).toBe('NOT_FOUND');
    const { id: stopped } = await runContainer(client, {
      name: `${prefix}-stopped`,
      image: SANDBOX_IMAGES.postgres,
      labels: { ...TEST_LABELS },
      network: { name: network },
      cmd: ['true'],
    });
    await expect
      .poll(async () => (await client.docker.getContainer(stopped).inspect()).State.Running, { timeout: 10_000 })
      .toBe(false);
    const notRunning = await caught(execInContainerStream(client, stopped, ['true'], { stdin: Readable.from([]) }));
    expect(notRunning.code).toBe('STEP_FAILED');
    expect(notRunning.message).toMatch(/^cannot run true in container [0-9a-f]{12}: .*is not running/);
    const away = await caught(
      execInContainerStream(connectDocker({ host: 'unix:///tmp/nope.sock' }), 'abc', ['true'], {
        stdin: Readable.from([]),
      }),
    );
    expect(away.code).toBe('UNREACHABLE');
  });
});
