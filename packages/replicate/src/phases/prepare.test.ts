import { describe, expect, it } from 'vitest';
import type { DatabaseState } from '../databases.js';
import { FakeClient, fakeRun, logs, PASSWORD } from './fakes.js';
import { clearLeftovers, createNewDatabase, dropNewDatabase } from './prepare.js';

const locale = { encoding: 'UTF8', collate: 'C', ctype: 'C', provider: 'c' as const, icuLocale: null };
const absent: DatabaseState = { exists: false, allowConnections: false, owner: null, tablespace: null };

/** A maintenance session of a server holding `databases` (name -> allows connections). */
function server(databases: Record<string, boolean>) {
  return new FakeClient((sql, params) => {
    if (sql.includes('FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace')) {
      const allow = databases[params[0] as string];
      return { rows: allow === undefined ? [] : [{ allow, owner: 'app', tablespace: null }] };
    }
  });
}

/** A source admin session whose database carries `readOnly` (null: none). */
function source(readOnly: string | null) {
  return new FakeClient((sql) => {
    if (sql.includes("LIKE 'default_transaction_read_only=%'"))
      return { rows: readOnly === null ? [] : [{ value: readOnly }] };
    if (sql.includes('pg_terminate_backend')) return { rows: [{ ended: '2' }] };
  });
}

describe('clearLeftovers', () => {
  it('changes nothing after a run that finished', async () => {
    const run = fakeRun();
    const maintenance = server({ app: true });
    const state = await clearLeftovers(run, source(null).client, maintenance.client);
    expect(state).toEqual({ exists: true, allowConnections: true, owner: 'app', tablespace: null });
    expect(maintenance.queries.filter((sql) => !sql.includes('pg_database d'))).toEqual([]);
    expect(logs(run.events)).toEqual([]);
  });

  it('undoes what a killed run left: its freeze, the old database, the half-built copy, a closed target', async () => {
    const run = fakeRun();
    const admin = source('tru');
    const maintenance = server({ app: false, app__rel_new: true, app__rel_old: true });
    const state = await clearLeftovers(run, admin.client, maintenance.client);
    expect(state.allowConnections).toBe(false);
    expect(admin.queries).toContain('ALTER DATABASE "app" RESET default_transaction_read_only');
    expect(maintenance.queries.filter((sql) => !sql.includes('pg_database d'))).toEqual([
      'DROP DATABASE IF EXISTS "app__rel_old" WITH (FORCE)',
      'DROP DATABASE IF EXISTS "app__rel_new" WITH (FORCE)',
      'ALTER DATABASE "app" ALLOW_CONNECTIONS true',
    ]);
    expect(logs(run.events)).toEqual([
      'warn: an earlier run was killed while 127.0.0.1:5433/app was read-only: made it writable again',
      'warn: dropping app__rel_new, left by an earlier run that did not finish',
      'warn: app was left closed to connections by that run: opened it again',
    ]);
  });

  it('leaves a freeze that is not its own and a target closed by someone else', async () => {
    const run = fakeRun();
    const admin = source('on');
    const maintenance = server({ app: false });
    await clearLeftovers(run, admin.client, maintenance.client);
    expect(admin.queries.some((sql) => sql.includes('RESET'))).toBe(false);
    expect(maintenance.queries.some((sql) => sql.includes('ALLOW_CONNECTIONS'))).toBe(false);
  });
});

describe('createNewDatabase', () => {
  it('creates the copy like the source and notes it, for the cleanup', async () => {
    const maintenance = new FakeClient();
    const state = { created: false, swapped: false };
    await createNewDatabase(fakeRun(), maintenance.client, locale, absent, state);
    expect(state.created).toBe(true);
    expect(maintenance.queries).toEqual([
      `CREATE DATABASE "app__rel_new" WITH TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`,
    ]);
  });

  it('fails in one line, with a hint for a missing CREATEDB and without the password', async () => {
    const maintenance = new FakeClient(() => {
      throw Object.assign(new Error(`permission denied to create database (${PASSWORD})\nDETAIL: x`), {
        code: '42501',
      });
    });
    const state = { created: false, swapped: false };
    const error = await createNewDatabase(fakeRun(), maintenance.client, locale, absent, state).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      'cannot create 127.0.0.1:5434/app__rel_new: permission denied to create database (***) (the target user needs CREATEDB, or to be superuser); app is untouched',
    );
    expect(error.details).toEqual({ where: '127.0.0.1:5434/app__rel_new', code: '42501' });
    expect(state.created).toBe(false);
  });

  it('carries the settings of the target over, warning about what it cannot carry', async () => {
    const run = fakeRun();
    const maintenance = new FakeClient((sql) => {
      if (sql.includes('datconnlimit')) return { rows: [{ connlimit: 20, has_acl: false }] };
      if (sql.includes('pg_db_role_setting')) return { rows: [{ role: 'bob', config: ['work_mem=1MB'] }] };
    });
    await createNewDatabase(
      run,
      maintenance.client,
      locale,
      { ...absent, exists: true, owner: 'app' },
      {
        created: false,
        swapped: false,
      },
    );
    expect(maintenance.queries).toContain('ALTER DATABASE "app__rel_new" CONNECTION LIMIT 20');
    expect(logs(run.events)).toEqual([
      'warn: settings of role bob in database app (ALTER ROLE ... IN DATABASE) are not carried over',
    ]);
  });
});

describe('dropNewDatabase', () => {
  it('drops a copy that was created and not swapped in, and only that', async () => {
    const run = fakeRun();
    for (const state of [
      { created: false, swapped: false },
      { created: true, swapped: true },
    ]) {
      const maintenance = new FakeClient();
      await dropNewDatabase(run, maintenance.client, state);
      expect(maintenance.queries).toEqual([]);
    }
    await dropNewDatabase(run, undefined, { created: true, swapped: false });
    const maintenance = new FakeClient();
    await dropNewDatabase(run, maintenance.client, { created: true, swapped: false });
    expect(maintenance.queries).toEqual(['DROP DATABASE IF EXISTS "app__rel_new" WITH (FORCE)']);
    expect(logs(run.events)).toEqual(['info: dropped 127.0.0.1:5434/app__rel_new; app is untouched']);
  });

  it('only warns when the copy cannot be dropped: the next run drops it', async () => {
    const run = fakeRun();
    const maintenance = new FakeClient(() => {
      throw new Error(`gone ${PASSWORD}`);
    });
    await dropNewDatabase(run, maintenance.client, { created: true, swapped: false });
    expect(logs(run.events)).toEqual([
      'warn: could not drop 127.0.0.1:5434/app__rel_new (gone ***): the next run drops it',
    ]);
  });
});
