import { describe, expect, it } from 'vitest';
import { FakeClient, fake, fakeRun, fakeTable } from './fakes.js';
import { lockTables, takeSnapshot } from './snapshot.js';

const at = new Date('2026-12-07T00:00:01.500Z');

function exporter(extra: (sql: string) => unknown = () => undefined) {
  return new FakeClient((sql) => {
    if (sql.includes('pg_export_snapshot')) return { rows: [{ id: '00000004-0000002A-1', at }] };
    if (sql.includes('server_version_num')) return { rows: [{ v: '150014' }] };
    if (sql.includes('pg_encoding_to_char')) {
      return { rows: [{ encoding: 'UTF8', collate: 'C', ctype: 'C', provider: 'c', icu_locale: null }] };
    }
    if (sql.includes('pg_largeobject_metadata')) return { rows: [{ oid: '16400' }] };
    return extra(sql);
  });
}

describe('takeSnapshot', () => {
  it('exports the snapshot in a read-only REPEATABLE READ transaction and reads the catalog as of it', async () => {
    const client = exporter();
    const snapshot = await takeSnapshot(fakeRun(), client.client);
    expect(client.queries[0]).toBe('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    expect(client.queries[1]).toContain('pg_export_snapshot');
    expect(snapshot).toEqual({
      id: '00000004-0000002A-1',
      at: '2026-12-07T00:00:01.500Z',
      sourceVersion: 150014,
      tables: [],
      sequences: [],
      largeObjects: ['16400'],
      extensions: [],
      locale: { encoding: 'UTF8', collate: 'C', ctype: 'C', provider: 'c', icuLocale: null },
    });
    // No table, no lock.
    expect(client.queries.some((sql) => sql.startsWith('LOCK'))).toBe(false);
  });
});

describe('lockTables', () => {
  it('locks every table ACCESS SHARE, 500 to a statement, with a lock timeout of 30 s meanwhile', async () => {
    const client = new FakeClient();
    const tables = Array.from({ length: 1001 }, (_, i) => fakeTable(`public.t${i}`));
    await lockTables(fakeRun(), client.client, tables);
    expect(client.queries[0]).toBe(`SET LOCAL lock_timeout = '30s'`);
    expect(client.queries.at(-1)).toBe('SET LOCAL lock_timeout = 0');
    const locks = client.queries.slice(1, -1);
    expect(locks).toHaveLength(3);
    expect(locks[0]).toMatch(/^LOCK TABLE "public"."t0", .*"public"."t499" IN ACCESS SHARE MODE$/);
    expect(locks[2]).toBe('LOCK TABLE "public"."t1000" IN ACCESS SHARE MODE');
  });

  it('says which source stays locked (a migration?) when the lock times out, and passes other errors on', async () => {
    const timeout = new FakeClient((sql) => {
      if (sql.startsWith('LOCK'))
        throw Object.assign(new Error('canceling statement due to lock timeout\nCONTEXT: x'), { code: '55P03' });
    });
    const error = await lockTables(fakeRun(), timeout.client, [fakeTable('public.a')]).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      'a table of 127.0.0.1:5433/app stays locked by another session (a migration?): canceling statement due to lock timeout',
    );
    const other = new Error('permission denied');
    const denied = new FakeClient((sql) => {
      if (sql.startsWith('LOCK')) throw other;
    });
    await expect(lockTables(fakeRun(), fake(denied), [fakeTable('public.a')])).rejects.toBe(other);
  });
});
