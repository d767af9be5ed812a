import { describe, expect, it } from 'vitest';
import type { SourceTable } from '../catalog.js';
import type { TableChecksum } from '../copy.js';
import { Checksums } from './checksums.js';
import { FakeClient, fakeRun, fakeSessions, fakeTable } from './fakes.js';

/** A tableChecksum stand-in: `rows` is the table's byte count, the checksum names the session. */
const checksum = async (client: unknown, table: Pick<SourceTable, 'qualified'>): Promise<TableChecksum> => {
  const fake = client as FakeClient;
  if (fake.name === 'broken') throw Object.assign(new Error('relation does not exist'), { code: '42P01' });
  return { rows: table.qualified.length, checksum: fake.name };
};

describe('Checksums', () => {
  it('takes a table on the source and on the copy, by quoted name', async () => {
    const run = fakeRun();
    const checksums = new Checksums(run, checksum as never);
    const table = fakeTable('public.orders');
    await checksums.onSource(new FakeClient(undefined, 'src').client, table);
    await checksums.onCopy(new FakeClient(undefined, 'copy').client, table);
    await checksums.sourceDone();
    expect(checksums.source.get('"public"."orders"')).toEqual({ rows: 17, checksum: 'src' });
    expect(checksums.copy.get('"public"."orders"')).toEqual({ rows: 17, checksum: 'copy' });
  });

  it('never rejects for the source: the failure comes from sourceDone, named', async () => {
    const checksums = new Checksums(fakeRun(), checksum as never);
    await expect(checksums.onSource(new FakeClient(undefined, 'broken').client, fakeTable('public.a'))).resolves.toBe(
      undefined,
    );
    await expect(checksums.sourceDone()).rejects.toThrow(
      'checksumming public.a on 127.0.0.1:5433/app failed: relation does not exist',
    );
    const copy = await checksums
      .onCopy(new FakeClient(undefined, 'broken').client, fakeTable('public.b'))
      .catch((e) => e);
    expect(copy.message).toBe('checksumming public.b on 127.0.0.1:5434/app__rel_new failed: relation does not exist');
  });

  it('takes every table on the source pool in the background', async () => {
    const run = fakeRun({ parallel: 2 });
    const { sessions } = fakeSessions(run);
    await sessions.openSource('s');
    const checksums = new Checksums(run, checksum as never);
    checksums.allOnSource(sessions, [fakeTable('public.a'), fakeTable('public.b'), fakeTable('public.c')]);
    await checksums.sourceDone();
    expect([...checksums.source.keys()].sort()).toEqual(['"public"."a"', '"public"."b"', '"public"."c"']);
    expect(new Set([...checksums.source.values()].map((c) => c.checksum))).toEqual(new Set(['app#0', 'app#1']));
  });
});
