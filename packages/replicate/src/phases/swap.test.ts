import { describe, expect, it } from 'vitest';
import { Checksums } from './checksums.js';
import { FakeClient, fakeRun, fakeSessions, logs, PASSWORD } from './fakes.js';
import { runBeforeSwap, swap } from './swap.js';

/** A run whose maintenance session is `maintenance`; `steps` records the consumer hooks and the SQL, in order. */
async function setUp(
  answer: (sql: string, params: unknown[]) => unknown,
  hooks: { stop?: () => Promise<void>; start?: () => Promise<void> } = {},
) {
  const steps: string[] = [];
  const run = fakeRun({
    stopConsumer: async () => {
      steps.push('stopConsumer');
      await hooks.stop?.();
    },
    startConsumer: async () => {
      steps.push('startConsumer');
      await hooks.start?.();
    },
  });
  const maintenance = new FakeClient((sql, params) => {
    if (!sql.includes('pg_database d JOIN') && !sql.includes('pg_terminate_backend')) steps.push(sql);
    return answer(sql, params);
  });
  const { sessions, opened } = fakeSessions(run);
  sessions.maintenance = maintenance.client;
  await sessions.openTarget();
  await sessions.openSource('s');
  return { run, sessions, opened, steps };
}

/** A server where `databases` exist (all open to connections). */
const server =
  (databases: string[], fail?: string) =>
  (sql: string, params: unknown[]): unknown => {
    if (fail && sql.includes(fail)) throw Object.assign(new Error(`cannot: ${PASSWORD}`), { code: '55006' });
    if (sql.includes('pg_database d JOIN')) {
      return { rows: databases.includes(params[0] as string) ? [{ allow: true, owner: 'app', tablespace: null }] : [] };
    }
    if (sql.includes('pg_terminate_backend')) return { rows: [{ ended: '0' }] };
  };

describe('swap', () => {
  it('stops the consumer, closes the target, renames in one transaction, starts the consumer', async () => {
    const { run, sessions, opened, steps } = await setUp(server(['app', 'app__rel_previous']));
    const state = { created: true, swapped: false };
    await expect(swap(run, sessions, state)).resolves.toBe('app__rel_previous');
    expect(state.swapped).toBe(true);
    expect(opened.every((c) => c.ended)).toBe(true);
    expect(steps).toEqual([
      'stopConsumer',
      'ALTER DATABASE "app" ALLOW_CONNECTIONS false',
      'BEGIN',
      'ALTER DATABASE "app__rel_previous" RENAME TO "app__rel_old"',
      'ALTER DATABASE "app" RENAME TO "app__rel_previous"',
      'ALTER DATABASE "app__rel_new" RENAME TO "app"',
      'COMMIT',
      'DROP DATABASE IF EXISTS "app__rel_old" WITH (FORCE)',
      'ALTER DATABASE "app__rel_previous" ALLOW_CONNECTIONS true',
      'startConsumer',
    ]);
  });

  it('renames the copy alone when there is no target yet, and keeps nothing', async () => {
    const { run, sessions, steps } = await setUp(server([]));
    await expect(swap(run, sessions, { created: true, swapped: false })).resolves.toBeUndefined();
    expect(steps).toEqual([
      'stopConsumer',
      'BEGIN',
      'ALTER DATABASE "app__rel_new" RENAME TO "app"',
      'COMMIT',
      'DROP DATABASE IF EXISTS "app__rel_old" WITH (FORCE)',
      'startConsumer',
    ]);
  });

  it('on a failed rename opens the target again, starts the consumer, and says the target is untouched', async () => {
    const { run, sessions, steps } = await setUp(server(['app'], 'RENAME TO "app__rel_previous"'));
    const state = { created: true, swapped: false };
    const error = await swap(run, sessions, state).catch((e) => e);
    expect(state.swapped).toBe(false);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      'swapping app__rel_new in for app failed: cannot: ***; app is untouched and its consumer was started again',
    );
    expect(steps.slice(-3)).toEqual(['ROLLBACK', 'ALTER DATABASE "app" ALLOW_CONNECTIONS true', 'startConsumer']);
  });

  it('says the copy is in when only startConsumer fails after the swap', async () => {
    const { run, sessions } = await setUp(server(['app']), {
      start: () => Promise.reject(new Error(`docker said ${PASSWORD}`)),
    });
    const error = await swap(run, sessions, { created: true, swapped: false }).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      '127.0.0.1:5434/app holds the copy (the replaced database is kept as app__rel_previous), but startConsumer failed: docker said ***',
    );
  });

  it('logs a startConsumer failure after a failed swap and reports the swap', async () => {
    const { run, sessions } = await setUp(server(['app']), {
      stop: () => Promise.reject(new Error('cannot stop')),
      start: () => Promise.reject(new Error('cannot start')),
    });
    const error = await swap(run, sessions, { created: true, swapped: false }).catch((e) => e);
    expect(error.message).toBe(
      'swapping app__rel_new in for app failed: cannot stop; app is untouched and its consumer was started again',
    );
    expect(logs(run.events)).toEqual(['error: startConsumer failed: cannot start']);
  });
});

describe('runBeforeSwap', () => {
  it('hands the hook the new database with no session of the run on it, and forgets the copy checksums', async () => {
    const seen: unknown[] = [];
    const run = fakeRun({ beforeSwap: async (database) => void seen.push(database) });
    const { sessions, opened } = fakeSessions(run);
    await sessions.openTarget();
    const checksums = new Checksums(run);
    checksums.copy.set('"public"."a"', { rows: 1, checksum: '1' });
    await runBeforeSwap(run, sessions, checksums);
    expect(opened.every((c) => c.ended)).toBe(true);
    expect(checksums.copy.size).toBe(0);
    expect(seen).toEqual([{ ...run.options.target, database: 'app__rel_new' }]);
  });

  it('does nothing without a hook, and fails in one line without the password when it throws', async () => {
    const plain = fakeRun();
    const { sessions } = fakeSessions(plain);
    await sessions.openTarget();
    await runBeforeSwap(plain, sessions, new Checksums(plain));
    expect(sessions.target).toHaveLength(4);

    const run = fakeRun({ beforeSwap: () => Promise.reject(new Error(`migration failed for ${PASSWORD}\nstack`)) });
    const error = await runBeforeSwap(run, fakeSessions(run).sessions, new Checksums(run)).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe('beforeSwap failed: migration failed for ***; app is untouched');
  });
});
