import { describe, expect, it } from 'vitest';
import type { SequenceValue } from '../catalog.js';
import { Checksums } from './checksums.js';
import { type FakeClient, fakeRun, fakeSessions, fakeTable } from './fakes.js';
import {
  checkLargeObjectHashes,
  checkLargeObjectList,
  checkSchema,
  checkSequences,
  compareTables,
  verify,
} from './verify.js';

const seq = (qualified: string, lastValue: string, increment = '1', isCalled = true): SequenceValue => ({
  qualified,
  lastValue,
  isCalled,
  increment,
});

describe('checkSchema', () => {
  it('accepts the same objects in any order, and names what differs', () => {
    expect(() => checkSchema('h:1/app__rel_new', ['a', 'b', 'b'], ['b', 'a', 'b'])).not.toThrow();
    let error: unknown;
    try {
      checkSchema('h:1/app__rel_new', ['a', 'b', 'c', 'd', 'e'], ['a', 'x']);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'STEP_FAILED',
      message:
        "verification failed: the schema of h:1/app__rel_new differs from the source's: only in the source: b; c; d; only in the copy: x (5 differences)",
      details: { onlyInSource: ['b', 'c', 'd', 'e'], onlyInCopy: ['x'] },
    });
  });
});

describe('compareTables', () => {
  const tables = [fakeTable('public.a'), fakeTable('public.b'), fakeTable('public.c')];
  const sums = (entries: [number, string][]) =>
    new Map(tables.map((t, i) => [t.qualified, { rows: entries[i]![0], checksum: entries[i]![1] }]));

  it('counts the rows when every table is equal', () => {
    const same = sums([
      [1, 'x'],
      [2, 'y'],
      [0, '0'],
    ]);
    const { rows, rowCounts } = compareTables('app', tables, same, same);
    expect(rows).toBe(3);
    expect([...rowCounts]).toEqual([
      ['public.a', 1],
      ['public.b', 2],
      ['public.c', 0],
    ]);
  });

  it('names the first table that differs in rows or checksum, and how many more', () => {
    const source = sums([
      [1, 'x'],
      [2, 'y'],
      [3, 'z'],
    ]);
    const copy = sums([
      [1, 'x'],
      [2, 'q'],
      [4, 'z'],
    ]);
    expect(() => compareTables('app', tables, source, copy)).toThrow(
      'verification failed: table public.b: the source has 2 rows (checksum y), the copy 2 rows (checksum q) (and 1 more tables); app is untouched',
    );
  });
});

describe('checkSequences', () => {
  it('accepts sequences ahead of the source, refuses one behind or missing, either direction', () => {
    const source = [seq('"s"."up"', '10'), seq('"s"."down"', '-10', '-1')];
    expect(() => checkSequences('app', source, [seq('"s"."up"', '12'), seq('"s"."down"', '-11', '-1')])).not.toThrow();
    expect(() => checkSequences('app', source, [seq('"s"."up"', '9'), seq('"s"."down"', '-10', '-1')])).toThrow(
      'verification failed: sequence "s"."up" would next give 10 in the copy, 11 on the source; app is untouched',
    );
    expect(() => checkSequences('app', source, [seq('"s"."up"', '10'), seq('"s"."down"', '-9', '-1')])).toThrow(
      'verification failed: sequence "s"."down" would next give -10 in the copy, -11 on the source; app is untouched',
    );
    expect(() => checkSequences('app', source, [seq('"s"."up"', '10')])).toThrow(
      'verification failed: sequence "s"."down" would next give nothing in the copy, -11 on the source; app is untouched',
    );
  });
});

describe('large objects', () => {
  it('wants the same set and the same contents', () => {
    expect(() => checkLargeObjectList('app', ['1', '2'], ['1', '2'])).not.toThrow();
    expect(() => checkLargeObjectList('app', ['1', '2'], ['1'])).toThrow(
      'verification failed: the source has 2 large objects, the copy 1; app is untouched',
    );
    const a = new Map([
      ['1', 'aa'],
      ['2', 'bb'],
    ]);
    expect(() => checkLargeObjectHashes('app', ['1', '2'], a, new Map(a))).not.toThrow();
    expect(() => checkLargeObjectHashes('app', ['1', '2'], a, new Map([...a, ['2', 'cc']]))).toThrow(
      'verification failed: large object 2 differs (md5 bb on the source, cc in the copy); app is untouched',
    );
  });
});

describe('verify', () => {
  it('compares the schema, checksums the tables of the copy not done yet, and sums up', async () => {
    const run = fakeRun({ parallel: 2 });
    /** Every database answers the same: two schema objects, each table 5 rows with checksum 42. */
    const answer = () => (sql: string) => {
      if (sql.includes("'extension ' ||")) return { rows: [{ item: 'table a' }, { item: 'table b' }] };
      if (sql.includes('count(*)')) return { rows: [{ rows: '5', checksum: '42' }] };
    };
    const { sessions, opened } = fakeSessions(run, answer);
    await sessions.openExporter();
    const checksums = new Checksums(run);
    const tables = [fakeTable('public.a'), fakeTable('public.b'), fakeTable('public.c')];
    for (const table of tables) checksums.source.set(table.qualified, { rows: 5, checksum: '42' });
    checksums.copy.set(tables[0]!.qualified, { rows: 5, checksum: '42' });
    const progress: string[] = [];
    const { summary, rows } = await verify(
      run,
      sessions,
      checksums,
      { tables, sequences: [], largeObjects: [] },
      (message) => progress.push(message),
    );
    expect(summary).toMatchObject({ schemaObjects: 2, tables: 3, rows: 15, sequences: 0, largeObjects: 0 });
    expect(summary.checksum).toContain('hash');
    expect([...rows.values()]).toEqual([5, 5, 5]);
    // Only the two tables not checksummed yet, on the sessions of the copy.
    const onCopy = opened.slice(1).flatMap((c: FakeClient) => c.queries.filter((sql) => sql.includes('count(*)')));
    expect(onCopy).toHaveLength(2);
    expect(onCopy.some((sql) => sql.includes('"public"."a"'))).toBe(false);
    expect(progress).toEqual(['schema: 2 objects equal', 'checksummed 2 of 2 tables', 'rows: 3 tables, 15 rows equal']);
  });
});
