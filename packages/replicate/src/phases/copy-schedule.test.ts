import { describe, expect, it } from 'vitest';
import type { PostDataJob, PostDataPhase } from '../dump-script.js';
import { ATTACH_PHASE, FOREIGN_KEY_PHASE, INDEX_PHASE } from '../dump-script.js';
import { CopySchedule, type CopyWork } from './copy-schedule.js';
import { fakeTable } from './fakes.js';

const index = (table: string, name = `${table}_pkey`): PostDataJob => ({
  type: 'CONSTRAINT',
  name,
  settings: [],
  statements: [`ALTER TABLE ONLY ${table} ADD CONSTRAINT x PRIMARY KEY (id)`],
  table,
});
const fk = (table: string, references: string): PostDataJob => ({
  type: 'FK CONSTRAINT',
  name: `${table}_fk`,
  settings: [],
  statements: [`ALTER TABLE ONLY ${table}\n    ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES ${references}(id);`],
  table,
});

const small = fakeTable('public.small', 10);
const big = fakeTable('public.big', 1000);
const other = 'public.other';

function phases(withAttach = false): PostDataPhase[] {
  return [
    {
      label: INDEX_PHASE,
      parallel: true,
      jobs: [index('public.big'), index('public.small'), index('public.big', 'big_idx'), index(other)],
    },
    ...(withAttach ? [{ label: ATTACH_PHASE, parallel: false, jobs: [] }] : []),
    {
      label: FOREIGN_KEY_PHASE,
      parallel: true,
      jobs: [fk('public.small', 'public.big'), fk('public.small', other)],
    },
  ];
}

const describeJob = (job: CopyWork | undefined) => {
  if (job === undefined) return 'none';
  if ('table' in job) return `copy ${job.table.dumpName}`;
  if ('largeObjects' in job) return `large objects ${job.largeObjects.length}`;
  if ('index' in job) return `${job.index.type === 'FK CONSTRAINT' ? 'fk' : 'key'} ${job.index.name}`;
  return `checksum ${job.checksum.dumpName}`;
};

describe('CopySchedule', () => {
  it('hands out the copies and large objects first, then what each copied table made ready, biggest first', () => {
    const plan = phases();
    const objects = Array.from({ length: 201 }, (_, i) => String(i));
    const schedule = new CopySchedule([big, small], [{ table: big }, { table: small }], objects, plan, true);
    // Keys of the copied tables and the foreign key between them were taken out of their phases.
    expect(plan[0]!.jobs.map((j) => j.name)).toEqual(['public.other_pkey']);
    expect(plan[1]!.jobs.map((j) => j.name)).toEqual(['public.small_fk']);
    expect(plan[1]!.jobs[0]!.statements[0]).toContain('public.other');

    const order = [describeJob(schedule.next()), describeJob(schedule.next())];
    schedule.tableCopied(small);
    order.push(describeJob(schedule.next()), describeJob(schedule.next()));
    schedule.tableCopied(big);
    order.push(describeJob(schedule.next()));
    expect(order).toEqual([
      'copy public.big',
      'copy public.small',
      'large objects 200',
      'large objects 1',
      'key public.big_pkey',
    ]);
    // Big's keys before its checksum, before the small table's jobs (which were ready first).
    expect([describeJob(schedule.next()), describeJob(schedule.next()), describeJob(schedule.next())]).toEqual([
      'key big_idx',
      'checksum public.big',
      'key public.small_pkey',
    ]);
    expect(describeJob(schedule.next())).toBe('checksum public.small');
    expect(schedule.next()).toBeUndefined();
  });

  it('makes a foreign key ready once both of its tables have their keys', () => {
    const plan = phases();
    const schedule = new CopySchedule([big, small], [], [], plan, false);
    schedule.tableCopied(big);
    schedule.tableCopied(small);
    const keys = [schedule.next(), schedule.next(), schedule.next()].map((job) =>
      job && 'index' in job ? job.index : undefined,
    );
    expect(keys.map((k) => k?.name)).toEqual(['public.big_pkey', 'big_idx', 'public.small_pkey']);
    schedule.keyBuilt(keys[2]!);
    schedule.keyBuilt(keys[0]!);
    expect(schedule.next()).toBeUndefined();
    schedule.keyBuilt(keys[1]!);
    expect(describeJob(schedule.next())).toBe('fk public.small_fk');
    expect(schedule.next()).toBeUndefined();
  });

  it('leaves foreign keys to their phase when partition indexes are to be attached, and gives back the unused', () => {
    const attached = phases(true);
    new CopySchedule([big, small], [], [], attached, true);
    expect(attached[2]!.jobs).toHaveLength(2);

    const plan = phases();
    const schedule = new CopySchedule([big, small], [], [], plan, true);
    schedule.tableCopied(small);
    schedule.returnLeftovers();
    expect(plan[1]!.jobs.map((j) => j.statements[0]!.includes('public.big'))).toEqual([false, true]);
  });

  it('makes a table without keys complete at once', () => {
    const lonely = fakeTable('public.lonely', 5);
    const lonelyFk = fk('public.lonely', 'public.lonely');
    const plan: PostDataPhase[] = [{ label: FOREIGN_KEY_PHASE, parallel: true, jobs: [lonelyFk] }];
    const schedule = new CopySchedule([lonely], [], [], plan, false);
    expect(plan[0]!.jobs).toEqual([]);
    schedule.tableCopied(lonely);
    expect(describeJob(schedule.next())).toBe('fk public.lonely_fk');
  });
});
