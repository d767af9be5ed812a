import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { sampleRecord } from '../../test/sample-record.js';
import {
  findRecord,
  journalDir,
  listRecords,
  newReleaseId,
  parseRecord,
  readRecord,
  recordFile,
  writeRecord,
} from './journal.js';
import { describeOpenRelease, findOpenRelease } from './open.js';

async function caught(promise: Promise<unknown>): Promise<RelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RelError);
  return error as RelError;
}

describe('release journal', () => {
  let stateDir: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'rel-journal-'));
  });

  it('ids sort by time and carry 4 random hex digits', () => {
    const id = newReleaseId(new Date('2026-12-06T20:15:30.123Z'));
    expect(id).toMatch(/^20261206-201530-[0-9a-f]{4}$/);
    expect(newReleaseId(new Date('2026-12-06T20:15:31Z')) > id).toBe(true);
  });

  it('writes a record whole (no temp file left) and reads it back', async () => {
    const record = sampleRecord();
    await writeRecord(stateDir, record);
    record.steps[0]!.status = 'done';
    await writeRecord(stateDir, record);
    expect(await readRecord(stateDir, record.id)).toEqual(record);
    expect(await readdir(journalDir(stateDir))).toEqual([`${record.id}.json`]);
  });

  it.each([
    ['{"schema":1', /is damaged: not valid JSON/],
    ['[]', /is damaged: expected a JSON object/],
    [JSON.stringify({ ...sampleRecord(), status: 'winning' }), /"status" "winning" is unknown/],
    [JSON.stringify({ ...sampleRecord(), target: 'red' }), /"target" must be "blue" or "green"/],
    [JSON.stringify({ ...sampleRecord(), steps: sampleRecord().steps.slice(1) }), /"steps" must list the 9 steps/],
    [
      JSON.stringify({ ...sampleRecord(), steps: [...sampleRecord().steps].reverse() }),
      /step 1 is "monitor", expected "pull"/,
    ],
  ])('a damaged record is one CONFIG error naming the file: %s', (text, pattern) => {
    let error: unknown;
    try {
      parseRecord(text, '/state/releases/x.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('CONFIG');
    expect((error as RelError).message).toMatch(/^release journal \/state\/releases\/x\.json is damaged: /);
    expect((error as RelError).message).toMatch(pattern);
  });

  it('lists newest first and reports damaged files beside the good ones', async () => {
    const older = sampleRecord({ id: '20261201-100000-aaaa', status: 'succeeded' });
    const newer = sampleRecord({ id: '20261202-100000-bbbb', status: 'failed' });
    await writeRecord(stateDir, older);
    await writeRecord(stateDir, newer);
    await writeFile(recordFile(stateDir, '20261203-100000-cccc'), 'garbage');
    const { records, damaged } = await listRecords(stateDir);
    expect(records.map((r) => r.id)).toEqual([newer.id, older.id]);
    expect(damaged).toEqual([
      {
        file: recordFile(stateDir, '20261203-100000-cccc'),
        message: expect.stringMatching(/is damaged: not valid JSON/),
      },
    ]);
    expect((await listRecords(join(stateDir, 'nowhere'))).records).toEqual([]);
  });

  it('finds a record by id or a unique prefix; names what is wrong otherwise', async () => {
    await writeRecord(stateDir, sampleRecord({ id: '20261201-100000-aaaa', status: 'succeeded' }));
    await writeRecord(stateDir, sampleRecord({ id: '20261201-100500-bbbb', status: 'succeeded' }));
    expect((await findRecord(stateDir, '20261201-1005')).id).toBe('20261201-100500-bbbb');
    expect((await caught(findRecord(stateDir, '20261201-10'))).message).toMatch(/names 2 releases/);
    expect((await caught(findRecord(stateDir, '2027'))).code).toBe('NOT_FOUND');
    expect((await caught(findRecord(stateDir, '20261201-100000-ffff'))).code).toBe('NOT_FOUND');
    expect((await caught(findRecord(stateDir, '../../etc/passwd'))).code).toBe('BAD_INPUT');
  });
});

describe('the open release', () => {
  let stateDir: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'rel-open-'));
  });

  it('none when every release ended', async () => {
    await writeRecord(stateDir, sampleRecord({ status: 'succeeded' }));
    expect(await findOpenRelease(stateDir)).toBeUndefined();
  });

  it('running while its runner lives; interrupted once the runner is gone', async () => {
    const record = sampleRecord();
    record.steps[0]!.status = 'done';
    record.steps[1]!.status = 'running';
    await writeRecord(stateDir, record);
    const alive = await findOpenRelease(stateDir);
    expect(alive).toMatchObject({ record: { status: 'running' }, step: 'deploy-backend' });
    expect(describeOpenRelease(alive!)).toMatch(
      /\(v2 to green\) is running \(step deploy-backend; "release" pid \d+ on /,
    );

    // a pid that cannot be running (beyond pid_max)
    await writeRecord(stateDir, { ...record, runner: { ...record.runner, pid: 2 ** 30, pidStartTime: '1' } });
    const gone = await findOpenRelease(stateDir);
    expect(gone).toMatchObject({ record: { status: 'interrupted' }, step: 'deploy-backend' });
    expect(describeOpenRelease(gone!)).toMatch(
      /was interrupted at step deploy-backend .*: rel release resume, or rel release abort/,
    );
  });

  it('paused: says how to go on', async () => {
    await writeRecord(stateDir, sampleRecord({ status: 'paused' }));
    const open = await findOpenRelease(stateDir);
    expect(describeOpenRelease(open!)).toMatch(
      /is paused awaiting approval since .*: rel release promote, or rel release abort/,
    );
  });

  it('a damaged record may be the open one: an error naming it', async () => {
    await writeRecord(stateDir, sampleRecord({ status: 'succeeded' }));
    const file = recordFile(stateDir, '20261206-230000-abcd');
    await writeFile(file, '{');
    const error = await caught(findOpenRelease(stateDir));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain(file);
    expect(await readFile(file, 'utf8')).toBe('{');
  });
});
