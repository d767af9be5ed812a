import { formatDuration } from '@rel/core';
import type { SequenceValue, SourceTable } from '../catalog.js';
import { type CopyJob, copyLargeObjects, copyTable, planCopies, setSequences } from '../copy.js';
import type { PostDataPhase } from '../dump-script.js';
import type { TableReplication } from '../types.js';
import type { Checksums } from './checksums.js';
import { mib, type Progress, type Run, rate } from './context.js';
import { CopySchedule, type CopyWork } from './copy-schedule.js';
import { guard, throwIfAborted } from './errors.js';
import type { Sessions } from './pools.js';
import { runPostDataJob } from './post-data.js';

/** What the copy step copies: the snapshot's contents. */
export interface CopyInput {
  snapshotId: string;
  tables: SourceTable[];
  sequences: SequenceValue[];
  largeObjects: string[];
  /** The source can scan a page range (PostgreSQL 14 and later): a big table may be split. */
  canSplit: boolean;
}

/** How rows, large objects and sequences are moved (fakes in unit tests). */
export interface Copier {
  copyTable: typeof copyTable;
  copyLargeObjects: typeof copyLargeObjects;
  setSequences: typeof setSequences;
}

const COPIER: Copier = { copyTable, copyLargeObjects, setSequences };

/**
 * Copies the rows, one table per worker at a time, largest first. As soon as a table is in, its indexes and
 * keys are built (the first post-data phase, as pg_restore --jobs overlaps data and indexes; those jobs are
 * taken out of `phases`) and it is checksummed on both sides while its pages are cached. Then the sequences.
 * Returns the tables in the snapshot's order.
 */
export async function copyRows(
  run: Run,
  sessions: Sessions,
  checksums: Checksums,
  input: CopyInput,
  phases: PostDataPhase[],
  progress: Progress,
  copier: Copier = COPIER,
): Promise<TableReplication[]> {
  const { tables, sequences, largeObjects } = input;
  const { parallel } = run.options;
  await sessions.openSource(input.snapshotId);
  await sessions.openTarget();
  const results: TableReplication[] = [];
  let copiedBytes = 0;
  const copies = planCopies(tables, parallel, input.canSplit, run.options.splitTableBytes);
  /** Parts still to copy, rows, bytes and start of the tables copied in parts. */
  const parts = new Map<string, { left: number; rows: number; bytes: number; started: number }>();
  for (const job of copies) {
    if (job.part?.index !== 1) continue;
    parts.set(job.table.dumpName, { left: job.part.count, rows: 0, bytes: 0, started: 0 });
    progress(
      `copying ${job.table.dumpName} (${mib(job.table.bytes)}) as ${job.part.count} page ranges at once (without FREEZE)`,
    );
  }
  // After beforeSwap the copy is checksummed anyway: no point doing it now too.
  const schedule = new CopySchedule(tables, copies, largeObjects, phases, run.options.options.beforeSwap === undefined);
  let running = 0;
  let failed = false;
  let wakeUp: (() => void)[] = [];
  const wake = () => {
    for (const resolve of wakeUp) resolve();
    wakeUp = [];
  };
  let largeObjectsDone = 0;
  let indexesDone = 0;
  let foreignKeysDone = 0;
  /** The source checksum a worker's source session is busy with. */
  const sourceBusy: Promise<void>[] = [];

  const copyOne = async ({ table, part }: CopyJob, worker: number) => {
    await sourceBusy[worker];
    const source = sessions.source[worker]!;
    const target = sessions.target[worker]!.client;
    const started = Date.now();
    const split = parts.get(table.dumpName);
    if (split && split.started === 0) split.started = started;
    const name = part ? `${table.dumpName} (part ${part.index} of ${part.count})` : table.dumpName;
    let lastReport = started;
    let bytes = 0;
    const piece = await guard(run, `copying ${name}`, () =>
      copier.copyTable(
        source,
        target,
        table,
        (chunk) => {
          bytes += chunk;
          copiedBytes += chunk;
          const now = Date.now();
          if (now - lastReport >= 1000) {
            lastReport = now;
            progress(`copying ${name}: ${mib(bytes)} (${rate(bytes, now - started)})`, {
              current: copiedBytes,
              unit: 'bytes',
            });
          }
        },
        part,
      ),
    );
    let done = piece;
    if (split) {
      split.rows += piece.rows;
      split.bytes += piece.bytes;
      if (--split.left > 0) return;
      done = { rows: split.rows, bytes: split.bytes, ms: Date.now() - split.started };
    }
    results.push({ name: table.dumpName, rows: done.rows, bytes: done.bytes, ms: done.ms });
    progress(
      `copied ${table.dumpName}: ${done.rows} rows, ${mib(done.bytes)} in ${formatDuration(done.ms)} (${rate(done.bytes, done.ms)})`,
      { current: results.length, total: tables.length, unit: 'tables' },
    );
    // Checksummed on the source now, while its pages are cached; the worker goes on with the target meanwhile.
    sourceBusy[worker] = checksums.onSource(source, table);
    schedule.tableCopied(table);
  };

  const runJob = async (job: CopyWork, w: number) => {
    if ('table' in job) {
      await copyOne(job, w);
    } else if ('largeObjects' in job) {
      await sourceBusy[w];
      const bytes = await guard(run, `copying large objects to ${run.newWhere}`, () =>
        copier.copyLargeObjects(sessions.source[w]!, sessions.target[w]!.client, job.largeObjects),
      );
      largeObjectsDone += job.largeObjects.length;
      copiedBytes += bytes;
      progress(`copied ${largeObjectsDone} of ${largeObjects.length} large objects`, {
        current: largeObjectsDone,
        total: largeObjects.length,
        unit: 'large objects',
      });
    } else if ('index' in job) {
      await runPostDataJob(run, sessions.target[w]!, job.index, 'db:replicate:copy');
      if (job.index.type === 'FK CONSTRAINT') {
        foreignKeysDone++;
      } else {
        indexesDone++;
        schedule.keyBuilt(job.index);
      }
    } else {
      await checksums.onCopy(sessions.target[w]!.client, job.checksum);
    }
  };

  const worker = async (w: number) => {
    for (;;) {
      if (failed) return;
      throwIfAborted(run);
      const job = schedule.next();
      if (job === undefined) {
        // Running jobs may queue more: a copied table its keys and checksum, a key the foreign keys it allows.
        if (running === 0) return;
        await new Promise<void>((resolve) => wakeUp.push(resolve));
        continue;
      }
      running++;
      try {
        await runJob(job, w);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        running--;
        wake();
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, w) => worker(w)));
  await Promise.all(sourceBusy);
  if (indexesDone > 0) progress(`built ${indexesDone} indexes and keys of copied tables`);
  if (foreignKeysDone > 0) progress(`added ${foreignKeysDone} foreign keys between copied tables`);
  // Not reached when a job failed; then the step fails anyway.
  schedule.returnLeftovers();
  if (sequences.length > 0) {
    await guard(run, 'setting sequences', () => copier.setSequences(sessions.target[0]!.client, sequences));
    progress(`set ${sequences.length} sequences to the source's values`);
  }
  const order = new Map(tables.map((table, i) => [table.dumpName, i]));
  return results.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
}
