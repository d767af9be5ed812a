import { log } from '@rel/core';
import { describe } from './connection.js';
import { planPostData } from './dump-script.js';
import { checkOptions } from './options.js';
import { Checksums } from './phases/checksums.js';
import { createRun, followSignal, mib, type Run } from './phases/context.js';
import { copyRows } from './phases/copy.js';
import { dumpRestore, pickMethod } from './phases/dump-restore.js';
import { step, throwIfAborted } from './phases/errors.js';
import { freezeSource, unfreezeSource, type WriteFreeze, writeGap } from './phases/freeze.js';
import { Sessions } from './phases/pools.js';
import { postData } from './phases/post-data.js';
import { clearLeftovers, createNewDatabase, dropNewDatabase, type NewDatabase } from './phases/prepare.js';
import { createSchema } from './phases/schema.js';
import { type Snapshot, takeSnapshot } from './phases/snapshot.js';
import { runBeforeSwap, swap } from './phases/swap.js';
import { verify } from './phases/verify.js';
import type { ReplicateOptions, ReplicateResult, ReplicationMethod, TableReplication } from './types.js';

/** The state of one run, owned by the phases that change it. */
interface State {
  sessions: Sessions;
  checksums: Checksums;
  freeze: WriteFreeze;
  copy: NewDatabase;
}

/**
 * Copies the source database into a new database beside the target, verifies it, and swaps it in for the
 * target. See the package README for the guarantees. Throws a `RelError`: BAD_INPUT, UNREACHABLE, AUTH,
 * NOT_FOUND, ABORTED or STEP_FAILED; the target database is then as it was.
 *
 * Every phase lives in `phases/`; errors are sorted by `phases/errors.ts` (a lost connection is UNREACHABLE,
 * anything after the signal aborted is ABORTED, the rest STEP_FAILED naming the step), every message redacted.
 */
export async function replicateDatabase(options: ReplicateOptions): Promise<ReplicateResult> {
  const checked = checkOptions(options);
  const abort = followSignal(checked.options.signal);
  const run = createRun(checked, abort.controller.signal);
  const sessions = new Sessions(run);
  const state: State = {
    sessions,
    checksums: new Checksums(run),
    freeze: {},
    copy: { created: false, swapped: false },
  };
  // Stopping means closing every session: whatever query or stream was running fails at once.
  run.signal.addEventListener('abort', () => void sessions.closeWorkers(), { once: true });
  try {
    return await replicate(run, state);
  } finally {
    abort.detach();
    await sessions.closeWorkers();
    await unfreezeSource(run, sessions.sourceAdmin, () => sessions.connectSource(), state.freeze);
    await dropNewDatabase(run, sessions.maintenance, state.copy);
    await sessions.closeAdmin();
  }
}

async function replicate(run: Run, state: State): Promise<ReplicateResult> {
  const { sessions, checksums } = state;
  const t0 = Date.now();
  // 1. Snapshot (after clearing what a killed run left, and the freeze), the method, the new database.
  const { snapshot, method, reason } = await step(
    run,
    'db:replicate:prepare',
    `preparing to copy ${run.sourceWhere}`,
    () => prepare(run, state),
  );
  const { tables, sequences, largeObjects } = snapshot;
  const t1 = Date.now();
  let results: TableReplication[];
  let durations: { prepareMs: number; schemaMs: number; copyMs: number; postDataMs: number };
  if (method === 'copy') {
    // 2. Schema: pg_dump's pre-data now, its post-data kept for after the rows.
    const schema = await step(
      run,
      'db:replicate:schema',
      `creating the schema of ${run.newWhere}`,
      () => createSchema(run, snapshot.id, () => sessions.connectNew()),
      (done) => `created the schema of ${run.newWhere} (${done.pre} statements)`,
    );
    const t2 = Date.now();
    const phases = planPostData(schema.statements, new Map(tables.map((table) => [table.dumpName, table.bytes])));
    // 3. Copy: rows, large objects and sequences; each table's indexes, keys and checksums once it is in.
    results = await step(
      run,
      'db:replicate:copy',
      `copying ${tables.length} tables and ${largeObjects.length} large objects (and indexing each table once copied)`,
      (progress) =>
        copyRows(
          run,
          sessions,
          checksums,
          { snapshotId: snapshot.id, tables, sequences, largeObjects, canSplit: snapshot.sourceVersion >= 140000 },
          phases,
          progress,
        ),
      (copied) =>
        `copied ${copied.reduce((sum, t) => sum + t.rows, 0)} rows (${mib(copied.reduce((sum, t) => sum + t.bytes, 0))}) in ${copied.length} tables`,
    );
    const t3 = Date.now();
    // 4. Post-data: what the copy step did not build.
    await step(run, 'db:replicate:post-data', 'building the remaining constraints, triggers and the rest', (progress) =>
      postData(run, sessions, phases, progress),
    );
    durations = { prepareMs: t1 - t0, schemaMs: t2 - t1, copyMs: t3 - t2, postDataMs: Date.now() - t3 };
  } else {
    // 2-4. The fallback: pg_dump | pg_restore on the snapshot, the source checksummed meanwhile.
    await sessions.openSource(snapshot.id);
    checksums.allOnSource(sessions, tables);
    await step(
      run,
      'db:replicate:dump-restore',
      `copying with pg_dump | pg_restore (${reason})`,
      (progress) => dumpRestore(run, snapshot.id, progress),
      (bytes) => `pg_dump | pg_restore moved ${mib(bytes)}`,
    );
    results = tables.map((table) => ({ name: table.dumpName, rows: 0, bytes: 0, ms: 0 }));
    durations = { prepareMs: t1 - t0, schemaMs: 0, copyMs: Date.now() - t1, postDataMs: 0 };
  }
  await runBeforeSwap(run, sessions, checksums);
  // 5. Verify, before anything is swapped.
  const t4 = Date.now();
  const { summary, rows } = await step(
    run,
    'db:replicate:verify',
    `verifying ${run.newWhere} against the source at the snapshot`,
    (progress) => verify(run, sessions, checksums, snapshot, progress),
    ({ summary: s }) =>
      `verified ${s.schemaObjects} schema objects, ${s.tables} tables (${s.rows} rows), ${s.sequences} sequences, ${s.largeObjects} large objects`,
  );
  if (method === 'dump-restore') for (const table of results) table.rows = rows.get(table.name) ?? 0;
  // 6. Swap.
  const t5 = Date.now();
  const target = describe(run.options.target);
  const previous = await step(
    run,
    'db:replicate:swap',
    `swapping ${run.names.fresh} in for ${run.names.target}`,
    () => swap(run, sessions, state.copy),
    (kept) =>
      kept ? `${target} now holds the copy; the replaced database is kept as ${kept}` : `${target} now holds the copy`,
  );
  const t6 = Date.now();
  await unfreezeSource(run, sessions.sourceAdmin, () => sessions.connectSource(), state.freeze);
  const gap = writeGap(snapshot.at, state.freeze.frozenMs);
  log(run.onEvent, 'info', gap, 'db:replicate:swap');
  return {
    method,
    reason,
    source: run.sourceWhere,
    target,
    snapshotAt: snapshot.at,
    writeGap: gap,
    ...(state.freeze.frozenMs !== undefined ? { frozenMs: state.freeze.frozenMs } : {}),
    tables: results,
    sequences: sequences.length,
    largeObjects: largeObjects.length,
    verified: summary,
    ...(previous ? { previousDatabase: previous } : {}),
    durations: { ...durations, verifyMs: t5 - t4, swapMs: t6 - t5, totalMs: Date.now() - run.started },
  };
}

/** The prepare step: leftovers of killed runs, the freeze, the snapshot, the method, the new database. */
async function prepare(
  run: Run,
  state: State,
): Promise<{ snapshot: Snapshot; method: ReplicationMethod; reason: string }> {
  const { sourceAdmin, maintenance } = await state.sessions.openAdmin();
  throwIfAborted(run);
  const targetState = await clearLeftovers(run, sourceAdmin, maintenance);
  await freezeSource(run, sourceAdmin, state.freeze);
  const snapshot = await takeSnapshot(run, await state.sessions.openExporter());
  const { method, reason } = pickMethod(run, snapshot.extensions);
  throwIfAborted(run);
  await createNewDatabase(run, maintenance, snapshot.locale, targetState, state.copy);
  return { snapshot, method, reason };
}
