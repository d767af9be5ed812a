import { describe, expect, it } from 'vitest';
import type { SequenceValue, SourceTable } from '../catalog.js';
import type { TablePart } from '../copy.js';
import { FOREIGN_KEY_PHASE, INDEX_PHASE, type PostDataPhase } from '../dump-script.js';
import { Checksums } from './checksums.js';
import { type Copier, copyRows } from './copy.js';
import { type FakeClient, fakeRun, fakeSessions, fakeTable } from './fakes.js';

const MiB = 1024 ** 2;

/** A copier that records what it did, in order; each table has (its bytes / 100) rows. */
function recorder(fail?: string) {
  const done: string[] = [];
  const copier: Copier = {
    async copyTable(source, target, table: SourceTable, onBytes, part?: TablePart) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (table.dumpName === fail) throw Object.assign(new Error('out of shared memory'), { code: '53200' });
      const bytes = part ? Math.floor(table.bytes / part.count) : table.bytes;
      onBytes(bytes);
      const of = (c: unknown) => (c as FakeClient).name;
      done.push(`copy ${table.dumpName}${part ? ` ${part.index}/${part.count}` : ''} ${of(source)} -> ${of(target)}`);
      return { rows: bytes / 100, bytes, ms: 1 };
    },
    async copyLargeObjects(_source, _target, oids) {
      done.push(`large objects ${oids.join(',')}`);
      return oids.length * 10;
    },
    async setSequences(_target, sequences: readonly SequenceValue[]) {
      done.push(`sequences ${sequences.length}`);
    },
  };
  return { done, copier };
}

/** Sessions whose clients answer checksums (count(*)) and record the SQL they run. */
function setUp(parallel: number, beforeSwap = false) {
  const run = fakeRun({ parallel, ...(beforeSwap ? { beforeSwap: async () => {} } : {}) });
  const { sessions, opened } = fakeSessions(run, () => (sql: string) => {
    if (sql.includes('count(*)')) return { rows: [{ rows: '1', checksum: '9' }] };
  });
  return { run, sessions, opened, checksums: new Checksums(run) };
}

const index = (table: string): PostDataPhase['jobs'][number] => ({
  type: 'INDEX',
  name: `${table}_idx`,
  settings: [],
  statements: [`CREATE INDEX i ON ${table} USING btree (id)`],
  table,
});

describe('copyRows', () => {
  it('copies every table and large object, indexes and checksums each table once in, then sets sequences', async () => {
    const { run, sessions, opened, checksums } = setUp(2);
    const { done, copier } = recorder();
    const tables = [fakeTable('public.a', 300), fakeTable('public.b', 5000), fakeTable('public.c', 200)];
    const phases: PostDataPhase[] = [
      { label: INDEX_PHASE, parallel: true, jobs: [index('public.a'), index('public.b'), index('public.elsewhere')] },
      { label: FOREIGN_KEY_PHASE, parallel: true, jobs: [] },
    ];
    const progress: string[] = [];
    const results = await copyRows(
      run,
      sessions,
      checksums,
      {
        snapshotId: 's',
        tables,
        sequences: [{ qualified: '"public"."a_id_seq"', lastValue: '3', isCalled: true, increment: '1' }],
        largeObjects: ['16400', '16401'],
        canSplit: true,
      },
      phases,
      (message) => progress.push(message),
      copier,
    );
    // In the snapshot's order, whatever order they were copied in.
    expect(results.map((r) => [r.name, r.rows, r.bytes])).toEqual([
      ['public.a', 3, 300],
      ['public.b', 50, 5000],
      ['public.c', 2, 200],
    ]);
    expect(done.filter((d) => d.startsWith('copy')).map((d) => d.split(' ')[1])).toEqual([
      'public.a',
      'public.b',
      'public.c',
    ]);
    expect(done).toContain('large objects 16400,16401');
    expect(done.at(-1)).toBe('sequences 1');
    // Worker w reads from source session w and writes to target session w.
    for (const line of done.filter((d) => d.startsWith('copy'))) expect(line).toMatch(/ app#(\d) -> app__rel_new#\d$/);
    // Both sides checksummed; the index of a table not copied here is left to the post-data step.
    expect([...checksums.copy.keys()].sort()).toEqual(['"public"."a"', '"public"."b"', '"public"."c"']);
    await checksums.sourceDone();
    expect(checksums.source.size).toBe(3);
    expect(phases[0]!.jobs.map((j) => j.table)).toEqual(['public.elsewhere']);
    const indexes = opened.flatMap((c) => c.queries.filter((sql) => sql.startsWith('CREATE INDEX')));
    expect(indexes.sort()).toEqual([
      'CREATE INDEX i ON public.a USING btree (id)',
      'CREATE INDEX i ON public.b USING btree (id)',
    ]);
    expect(progress).toContain('built 2 indexes and keys of copied tables');
    expect(progress).toContain('copied 2 of 2 large objects');
    expect(progress).toContain("set 1 sequences to the source's values");
  });

  it('copies a table that bounds the copy as page ranges, reported as one table', async () => {
    const { run, sessions, checksums } = setUp(4);
    const { done, copier } = recorder();
    const huge = fakeTable('public.huge', 900 * MiB);
    const progress: string[] = [];
    const results = await copyRows(
      run,
      sessions,
      checksums,
      {
        snapshotId: 's',
        tables: [huge, fakeTable('public.tiny', 100)],
        sequences: [],
        largeObjects: [],
        canSplit: true,
      },
      [],
      (message) => progress.push(message),
      copier,
    );
    expect(done.filter((d) => d.includes('public.huge')).map((d) => d.split(' ')[2])).toEqual(['1/3', '2/3', '3/3']);
    expect(progress[0]).toBe('copying public.huge (900.0 MiB) as 3 page ranges at once (without FREEZE)');
    expect(results.map((r) => [r.name, r.bytes])).toEqual([
      ['public.huge', 900 * MiB],
      ['public.tiny', 100],
    ]);
    // One checksum of the whole table, not one per part.
    expect(checksums.copy.size).toBe(2);
  });

  it('leaves the copy checksums to verify when beforeSwap may change the copy', async () => {
    const { run, sessions, checksums } = setUp(2, true);
    const { copier } = recorder();
    await copyRows(
      run,
      sessions,
      checksums,
      { snapshotId: 's', tables: [fakeTable('public.a', 1)], sequences: [], largeObjects: [], canSplit: false },
      [],
      () => {},
      copier,
    );
    expect(checksums.copy.size).toBe(0);
    await checksums.sourceDone();
    expect(checksums.source.size).toBe(1);
  });

  it('stops handing out work after a failure, naming the table', async () => {
    const { run, sessions, checksums } = setUp(1);
    const { done, copier } = recorder('public.b');
    const tables = [fakeTable('public.a', 3), fakeTable('public.b', 2), fakeTable('public.c', 1)];
    const error = await copyRows(
      run,
      sessions,
      checksums,
      { snapshotId: 's', tables, sequences: [], largeObjects: [], canSplit: false },
      [],
      () => {},
      copier,
    ).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe('copying public.b failed: out of shared memory');
    expect(done.map((d) => d.split(' ')[1])).toEqual(['public.a']);
  });
});
