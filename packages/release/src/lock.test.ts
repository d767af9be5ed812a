import { type ChildProcess, execFile, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RelError, type RelEvent } from '@rel/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { acquireReleaseLock, type LockHolder, RELEASE_LOCK_FILE, readLockHolder } from './lock.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-lock-'));
  return () => rm(dir, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<RelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RelError);
  return error as RelError;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

function holderFile(overrides: Partial<LockHolder>): string {
  const holder: LockHolder = {
    project: 'shop',
    command: 'deploy backend green v7',
    pid: process.pid,
    host: hostname(),
    user: 'jenkins',
    since: new Date(Date.now() - 90_000).toISOString(),
    token: 'someone-else',
    ...overrides,
  };
  return JSON.stringify(holder);
}

describe('acquireReleaseLock', () => {
  it('writes the holder, and release removes it (idempotently)', async () => {
    const stateDir = join(dir, 'state', 'nested');
    const lock = await acquireReleaseLock({ stateDir, project: 'shop', command: 'switch green' });
    expect(lock.holder).toMatchObject({ project: 'shop', command: 'switch green', pid: process.pid, host: hostname() });
    expect(Date.parse(lock.holder.since)).toBeGreaterThan(Date.now() - 5000);
    expect(JSON.parse(await readFile(join(stateDir, RELEASE_LOCK_FILE), 'utf8'))).toEqual(lock.holder);
    expect(await readLockHolder(stateDir)).toEqual(lock.holder);

    await lock.release();
    await lock.release();
    expect(existsSync(join(stateDir, RELEASE_LOCK_FILE))).toBe(false);
    expect(await readLockHolder(stateDir)).toBeUndefined();
    expect(await readdir(stateDir)).toEqual([]); // no temp or guard files left

    const again = await acquireReleaseLock({ stateDir, project: 'shop', command: 'rollback blue' });
    await again[Symbol.asyncDispose]();
    expect(existsSync(join(stateDir, RELEASE_LOCK_FILE))).toBe(false);
  });

  it('refuses a second holder and names the first', async () => {
    const first = await acquireReleaseLock({ stateDir: dir, project: 'shop', command: 'switch green' });
    const error = await refusal(acquireReleaseLock({ stateDir: dir, project: 'shop', command: 'rollback blue' }));
    expect(error.code).toBe('LOCKED');
    expect(error.message).toContain('release lock held by "switch green"');
    expect(error.message).toContain(`pid ${process.pid} on ${hostname()}, user ${first.holder.user}`);
    expect(error.message).toContain(`since ${first.holder.since}`);
    expect(error.message).toMatch(/, [\d.]+m?s ago\); wait for it to finish or, if it is gone, remove /);
    expect(error.message).toContain(join(dir, RELEASE_LOCK_FILE));
    expect(JSON.stringify(error.details)).not.toContain(first.holder.token);
    expect(await readLockHolder(dir)).toEqual(first.holder); // untouched
    await first.release();
  });

  it('takes over the lock of a process that is gone, with a warning', async () => {
    const pid = await deadPid();
    await writeFile(join(dir, RELEASE_LOCK_FILE), holderFile({ pid }));
    const events: RelEvent[] = [];
    const lock = await acquireReleaseLock({
      stateDir: dir,
      project: 'shop',
      command: 'switch green',
      onEvent: (e) => events.push(e),
    });
    expect((await readLockHolder(dir))?.token).toBe(lock.holder.token);
    const warnings = events.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => e.message);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`"deploy backend green v7" (pid ${pid} on ${hostname()}, user jenkins`);
    expect(warnings[0]).toContain('1m30s ago');
    expect(warnings[0]).toContain('is gone');
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over when the pid now belongs to another process (start time differs)', async () => {
    await writeFile(join(dir, RELEASE_LOCK_FILE), holderFile({ pid: process.pid, pidStartTime: '1' }));
    const events: RelEvent[] = [];
    const lock = await acquireReleaseLock({
      stateDir: dir,
      project: 'shop',
      command: 'switch green',
      onEvent: (e) => events.push(e),
    });
    expect(events.map((e) => e.message).join('\n')).toContain(`pid ${process.pid} now belongs to another process`);
    await lock.release();
  });

  it('refuses a holder on another host, naming it and how to remove it', async () => {
    await writeFile(join(dir, RELEASE_LOCK_FILE), holderFile({ host: 'build-agent-7', pid: await deadPid() }));
    const error = await refusal(acquireReleaseLock({ stateDir: dir, project: 'shop', command: 'switch green' }));
    expect(error.code).toBe('LOCKED');
    expect(error.message).toContain('"deploy backend green v7" (pid');
    expect(error.message).toContain('on build-agent-7');
    expect(error.message).toContain(`cannot be checked from ${hostname()}`);
    expect(error.message).toContain(`remove ${join(dir, RELEASE_LOCK_FILE)}`);
  });

  it('refuses a corrupt lock while it may still be written, and takes it over after a minute', async () => {
    const path = join(dir, RELEASE_LOCK_FILE);
    await writeFile(path, '{"project": "sh');
    const error = await refusal(acquireReleaseLock({ stateDir: dir, project: 'shop', command: 'switch green' }));
    expect(error.code).toBe('LOCKED');
    expect(error.message).toContain('is being written');
    expect(await readLockHolder(dir)).toBeUndefined();

    const old = new Date(Date.now() - 120_000);
    await utimes(path, old, old);
    const events: RelEvent[] = [];
    const lock = await acquireReleaseLock({
      stateDir: dir,
      project: 'shop',
      command: 'switch green',
      onEvent: (e) => events.push(e),
    });
    expect(events.map((e) => e.message).join('\n')).toMatch(/took over .* unreadable for 2m/);
    await lock.release();
  });

  it('clears a takeover guard left by a process that died while taking over', async () => {
    const pid = await deadPid();
    await writeFile(join(dir, RELEASE_LOCK_FILE), holderFile({ pid }));
    await writeFile(join(dir, `${RELEASE_LOCK_FILE}.takeover`), holderFile({ pid, token: 'guard' }));
    const lock = await acquireReleaseLock({ stateDir: dir, project: 'shop', command: 'switch green' });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('release leaves a lock that is no longer ours', async () => {
    const lock = await acquireReleaseLock({ stateDir: dir, project: 'shop', command: 'switch green' });
    const other = holderFile({ token: 'taken-over' });
    await writeFile(join(dir, RELEASE_LOCK_FILE), other);
    await lock.release();
    expect(await readFile(join(dir, RELEASE_LOCK_FILE), 'utf8')).toBe(other);
  });

  it('reports a state directory that cannot be written as a CONFIG error', async () => {
    // chmod does not stop root: a path below a regular file cannot be created by anyone
    const file = join(dir, 'file');
    await writeFile(file, '');
    const below = await refusal(
      acquireReleaseLock({ stateDir: join(file, 'state'), project: 'shop', command: 'switch green' }),
    );
    expect(below.code).toBe('CONFIG');
    expect(below.message).toBe(
      `state directory ${join(file, 'state')} is not writable: a part of the path is a file, not a directory`,
    );
    const itself = await refusal(acquireReleaseLock({ stateDir: file, project: 'shop', command: 'switch green' }));
    expect(itself.code).toBe('CONFIG');
    expect(itself.message).toBe(`state directory ${file} is not writable: it is a file, not a directory`);
  });
});

describe('acquireReleaseLock across processes', () => {
  let build: string;
  let fixture: string;

  beforeAll(async () => {
    build = await mkdtemp(join(tmpdir(), 'rel-lock-build-'));
    // the children import a plain-JS build of lock.ts (with @rel/core bundled in)
    await promisify(execFile)(join(root, 'node_modules/.bin/esbuild'), [
      join(root, 'packages/release/src/lock.ts'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      `--alias:@rel/core=${join(root, 'packages/core/src/index.ts')}`,
      `--outfile=${join(build, 'lock.mjs')}`,
    ]);
    fixture = join(build, 'contender.mjs');
    await writeFile(
      fixture,
      `const [stateDir, command, mode] = process.argv.slice(2);
const { acquireReleaseLock } = await import('./lock.mjs');
let lock;
process.on('message', async (message) => {
  if (message === 'release') {
    await lock.release();
    process.exit(0);
  }
  if (message !== 'go') return;
  try {
    lock = await acquireReleaseLock({ stateDir, project: 'shop', command });
    if (mode === 'exit') process.exit(0);
    process.send({ won: true, pid: process.pid });
  } catch (error) {
    process.send({ won: false, code: error.code, message: error.message }, () => process.exit(0));
  }
});
process.send('ready');
`,
    );
  });
  afterAll(() => rm(build, { recursive: true, force: true }));

  type Outcome = { won: true; pid: number } | { won: false; code: string; message: string };

  /** Starts `count` processes, lets them all try at once, and returns what each got. */
  async function contend(stateDir: string, count: number, mode = 'hold') {
    const children: ChildProcess[] = [];
    for (let i = 0; i < count; i++) {
      children.push(
        fork(fixture, [stateDir, `switch green #${i}`, mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
      );
    }
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));
    const outcomes = children.map(
      (child) =>
        new Promise<Outcome>((resolve, reject) => {
          child.once('message', (m) => resolve(m as Outcome));
          child.once('exit', (code) =>
            mode === 'exit' ? resolve({ won: true, pid: child.pid! }) : reject(new Error(`exited ${code}`)),
          );
        }),
    );
    for (const child of children) child.send('go');
    const results = await Promise.all(outcomes);
    const exits = children.map(
      (child) =>
        new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(child.exitCode))),
    );
    return {
      results,
      /** Tells the winner to release, and waits for every child to end. */
      async finish() {
        for (const [i, result] of results.entries())
          if (result.won && children[i]!.connected) children[i]!.send('release');
        await Promise.all(exits);
      },
    };
  }

  function expectOneWinner(results: Outcome[]) {
    const winners = results.filter((r) => r.won);
    expect(winners).toHaveLength(1);
    const winner = winners[0] as { pid: number };
    for (const loser of results.filter((r) => !r.won)) {
      expect(loser.code).toBe('LOCKED');
      expect(loser.message).toMatch(new RegExp(`held by "switch green #\\d" \\(pid ${winner.pid} on `));
    }
  }

  it('lets exactly one of 8 processes racing for a free lock hold it', { timeout: 30_000 }, async () => {
    const { results, finish } = await contend(dir, 8);
    expectOneWinner(results);
    await finish();
    expect(await readdir(dir)).toEqual([]);
  });

  it("lets exactly one of 8 processes take over a dead holder's lock", { timeout: 30_000 }, async () => {
    await writeFile(join(dir, RELEASE_LOCK_FILE), holderFile({ pid: await deadPid() }));
    const { results, finish } = await contend(dir, 8);
    expectOneWinner(results);
    await finish();
    expect(await readdir(dir)).toEqual([]);
  });

  it('removes the lock when its holder exits without releasing it', { timeout: 30_000 }, async () => {
    const { finish } = await contend(dir, 1, 'exit');
    await finish();
    expect(await readdir(dir)).toEqual([]);
  });
});
