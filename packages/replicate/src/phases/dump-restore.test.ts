import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { DatabaseExec, ExecOptions } from '../types.js';
import { dumpRestore, pickMethod } from './dump-restore.js';
import { fakeRun, logs, PASSWORD } from './fakes.js';

const ARCHIVE = Buffer.alloc(3 * 1024 * 1024, 7);

/** pg_dump writing ARCHIVE (or failing with `exitCode`); it stops early when its signal aborts. */
function fakeDump(seen: { argv?: string[]; options?: ExecOptions; stopped?: boolean }, exitCode = 0): DatabaseExec {
  return async (argv, options = {}) => {
    seen.argv = argv;
    seen.options = options;
    if (exitCode !== 0) {
      options.stdout?.end();
      return { exitCode, stdout: '', stderr: `pg_dump: error: ${PASSWORD} went wrong\n` };
    }
    try {
      await pipeline(Readable.from([ARCHIVE.subarray(0, 1 << 20), ARCHIVE.subarray(1 << 20)]), options.stdout!, {
        signal: options.signal,
      });
    } catch (error) {
      seen.stopped = options.signal?.aborted;
      throw error;
    }
    return { exitCode: 0, stdout: '', stderr: '' };
  };
}

/** pg_restore reading its stdin to the end (or failing at once with `exitCode`). */
function fakeRestore(seen: { argv?: string[]; options?: ExecOptions; bytes?: number }, exitCode = 0): DatabaseExec {
  return async (argv, options = {}) => {
    seen.argv = argv;
    seen.options = options;
    if (exitCode !== 0) return { exitCode, stdout: '', stderr: 'a\nb\npg_restore: error: could not execute query\n' };
    let bytes = 0;
    for await (const chunk of options.stdin!) bytes += (chunk as Buffer).length;
    seen.bytes = bytes;
    return { exitCode: 0, stdout: '', stderr: '' };
  };
}

describe('pickMethod', () => {
  it('logs the method and why', () => {
    const run = fakeRun();
    expect(pickMethod(run, [{ name: 'citext', version: '1.6', configTables: 0 }])).toEqual({
      method: 'copy',
      reason: 'the COPY path can copy everything the source holds',
    });
    const forced = fakeRun({ forceMethod: 'dump-restore' });
    expect(pickMethod(forced, []).method).toBe('dump-restore');
    expect(logs(run.events)).toEqual([
      'info: method: parallel COPY streams (the COPY path can copy everything the source holds)',
    ]);
    expect(logs(forced.events)).toEqual([
      'info: method: pg_dump | pg_restore, because forced (forceMethod: dump-restore)',
    ]);
  });
});

describe('dumpRestore', () => {
  it('pipes pg_dump of the snapshot into pg_restore of the new database, the connections in the environment', async () => {
    const dump: Parameters<typeof fakeDump>[0] = {};
    const restore: Parameters<typeof fakeRestore>[0] = {};
    const run = fakeRun({ execSource: fakeDump(dump), execTarget: fakeRestore(restore) });
    await expect(dumpRestore(run, 'snap-9', () => {})).resolves.toBe(ARCHIVE.length);
    expect(restore.bytes).toBe(ARCHIVE.length);
    expect(dump.argv).toEqual(['pg_dump', '--no-password', '--format=custom', '--compress=0', '--snapshot=snap-9']);
    expect(restore.argv).toEqual(['pg_restore', '--no-password', '--exit-on-error', '--dbname=app__rel_new']);
    expect(dump.options?.env).toMatchObject({ PGDATABASE: 'app', PGPORT: '5433', PGPASSWORD: PASSWORD });
    expect(restore.options?.env).toMatchObject({ PGDATABASE: 'app__rel_new', PGPORT: '5434', PGPASSWORD: PASSWORD });
  });

  it('stops pg_dump when pg_restore fails, and reports pg_restore', async () => {
    const dump: Parameters<typeof fakeDump>[0] = {};
    const run = fakeRun({ execSource: fakeDump(dump), execTarget: fakeRestore({}, 1) });
    const error = await dumpRestore(run, 's', () => {}).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      'pg_restore into 127.0.0.1:5434/app__rel_new failed (exit 1): a | b | pg_restore: error: could not execute query',
    );
    expect(dump.options?.signal?.aborted).toBe(true);
  });

  it('reports a pg_dump that failed on its own, without the password', async () => {
    const run = fakeRun({ execSource: fakeDump({}, 1), execTarget: fakeRestore({}) });
    const error = await dumpRestore(run, 's', () => {}).catch((e) => e);
    expect(error.message).toBe('pg_dump of 127.0.0.1:5433/app failed (exit 1): pg_dump: error: *** went wrong');
  });

  it('is ABORTED when the run is aborted meanwhile', async () => {
    const controller = new AbortController();
    const run = fakeRun(
      {
        execSource: fakeDump({}),
        execTarget: async () => {
          controller.abort();
          return { exitCode: 1, stdout: '', stderr: 'killed' };
        },
      },
      controller,
    );
    const error = await dumpRestore(run, 's', () => {}).catch((e) => e);
    expect(error.code).toBe('ABORTED');
  });
});
