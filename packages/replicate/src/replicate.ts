import { PassThrough, Transform } from 'node:stream';
import { errorMessage, formatDuration, ignoreEvents, log, RelError, runStep } from '@rel/core';
import type pg from 'pg';
import {
  compareFingerprints,
  listExtensions,
  listLargeObjects,
  listTables,
  readDatabaseLocale,
  readSequences,
  type SequenceValue,
  type SourceTable,
  schemaFingerprint,
} from './catalog.js';
import { connect, describe, oneLine, redact, secretsOf, toolEnv } from './connection.js';
import {
  type CopyJob,
  copyLargeObjects,
  copyTable,
  hashLargeObjects,
  importSnapshot,
  nextSequenceValue,
  planCopies,
  runPool,
  setSequences,
  type TableChecksum,
  tableChecksum,
} from './copy.js';
import {
  carryDatabaseProperties,
  createDatabase,
  databaseState,
  dropDatabase,
  renameInto,
  setAllowConnections,
  terminateSessions,
} from './databases.js';
import {
  ATTACH_PHASE,
  type DumpStatement,
  FOREIGN_KEY_PHASE,
  INDEX_PHASE,
  type PostDataJob,
  type PostDataPhase,
  planPostData,
  referencedTable,
  settingName,
  splitDumpScript,
} from './dump-script.js';
import { type Freeze, freezeDatabase, undoInterruptedFreeze, unfreezeDatabase } from './freeze.js';
import { chooseMethod } from './method.js';
import { type CheckedOptions, checkOptions } from './options.js';
import { CHECKSUM_DESCRIPTION, newDatabaseName, oldDatabaseName, previousDatabaseName, quoteLiteral } from './sql.js';
import type {
  ReplicateOptions,
  ReplicateResult,
  ReplicationMethod,
  TableReplication,
  VerificationSummary,
} from './types.js';

type Progress = (message: string, extra?: { current?: number; total?: number; unit?: string }) => void;

/** Large objects handed to one worker at a time. */
const LARGE_OBJECT_BATCH = 200;
/** Pre-data statements sent in one round trip. */
const SCHEMA_BATCH = 200;
/** Error codes that mean a connection went away. */
const CONNECTION_LOST = /^(08|57P0)/;

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const rate = (bytes: number, ms: number) => `${mib((bytes * 1000) / Math.max(ms, 1))}/s`;
const lastLines = (text: string, count = 3) => text.trim().split('\n').slice(-count).join(' | ');

/** A session on the new database, with the pg_dump session settings it currently has. */
interface TargetSession {
  client: pg.Client;
  settings: Map<string, string>;
}

/**
 * Copies the source database into a new database beside the target, verifies it, and swaps it in for the
 * target. See the package README for the guarantees. Throws a `RelError`: BAD_INPUT, UNREACHABLE, AUTH,
 * NOT_FOUND, ABORTED or STEP_FAILED; the target database is then as it was.
 */
export async function replicateDatabase(options: ReplicateOptions): Promise<ReplicateResult> {
  const run = new Replication(checkOptions(options));
  try {
    return await run.run();
  } finally {
    await run.cleanup();
  }
}

class Replication {
  private readonly o: CheckedOptions;
  private readonly onEvent;
  private readonly secrets: string[];
  private readonly abort = new AbortController();
  private readonly newName: string;
  private readonly previousName: string;
  private readonly oldName: string;
  private readonly sourceWhere: string;
  private readonly newWhere: string;
  private readonly started = Date.now();

  private sourceAdmin?: pg.Client;
  private exporter?: pg.Client;
  private maintenance?: pg.Client;
  private sourceSessions: pg.Client[] = [];
  private targetSessions: TargetSession[] = [];
  private freeze?: Freeze;
  private frozenMs?: number;
  private newCreated = false;
  private swapped = false;
  /** Row counts and checksums of the source's tables at the snapshot, by quoted name, and their computations. */
  private readonly sourceChecks = new Map<string, TableChecksum>();
  private readonly sourcePending: Promise<void>[] = [];
  /**
   * Row counts and checksums of the copy, taken as soon as each table is in (post-data does not change rows:
   * indexes, constraints, triggers, rules, policies, comments, materialized views), or after beforeSwap.
   */
  private readonly copyChecks = new Map<string, TableChecksum>();
  private readonly removeAbortListener: () => void;

  constructor(options: CheckedOptions) {
    this.o = options;
    this.onEvent = options.options.onEvent ?? ignoreEvents;
    this.secrets = secretsOf(options.source, options.target);
    this.newName = newDatabaseName(options.target.database);
    this.previousName = previousDatabaseName(options.target.database);
    this.oldName = oldDatabaseName(options.target.database);
    this.sourceWhere = describe(options.source);
    this.newWhere = describe(options.target, this.newName);
    const signal = options.options.signal;
    const onAbort = () => this.abort.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.removeAbortListener = () => signal?.removeEventListener('abort', onAbort);
    // Stopping means closing every session: whatever query or stream was running fails at once.
    this.abort.signal.addEventListener('abort', () => void this.closeSessions(), { once: true });
  }

  async run(): Promise<ReplicateResult> {
    const t0 = Date.now();
    const prepared = await this.step('db:replicate:prepare', `preparing to copy ${this.sourceWhere}`, () =>
      this.prepare(),
    );
    const { method, reason, snapshotId, tables, sequences, largeObjects, sourceVersion } = prepared;
    const t1 = Date.now();
    let preDone = t1;
    let tableResults: TableReplication[];
    let postDone: number;
    if (method === 'copy') {
      const post = await this.step(
        'db:replicate:schema',
        `creating the schema of ${this.newWhere}`,
        () => this.createSchema(snapshotId),
        (statements) => `created the schema of ${this.newWhere} (${statements.pre} statements)`,
      );
      preDone = Date.now();
      const phases = planPostData(post.statements, new Map(tables.map((table) => [table.dumpName, table.bytes])));
      tableResults = await this.step(
        'db:replicate:copy',
        `copying ${tables.length} tables and ${largeObjects.length} large objects (and indexing each table once copied)`,
        (progress) =>
          this.copyRows(snapshotId, tables, sequences, largeObjects, phases, progress, sourceVersion >= 140000),
        (copied) =>
          `copied ${copied.reduce((sum, t) => sum + t.rows, 0)} rows (${mib(copied.reduce((sum, t) => sum + t.bytes, 0))}) in ${copied.length} tables`,
      );
      const copyDone = Date.now();
      await this.step(
        'db:replicate:post-data',
        'building the remaining constraints, triggers and the rest',
        (progress) => this.postData(phases, progress),
      );
      postDone = Date.now();
      return this.finish(prepared, tableResults, {
        prepareMs: t1 - t0,
        schemaMs: preDone - t1,
        copyMs: copyDone - preDone,
        postDataMs: postDone - copyDone,
      });
    }
    await this.openSourceSessions(snapshotId);
    this.sourceChecksums(tables);
    await this.step(
      'db:replicate:dump-restore',
      `copying with pg_dump | pg_restore (${reason})`,
      (progress) => this.dumpRestore(snapshotId, progress),
      (bytes) => `pg_dump | pg_restore moved ${mib(bytes)}`,
    );
    postDone = Date.now();
    tableResults = tables.map((table) => ({ name: table.dumpName, rows: 0, bytes: 0, ms: 0 }));
    return this.finish(prepared, tableResults, {
      prepareMs: t1 - t0,
      schemaMs: 0,
      copyMs: postDone - t1,
      postDataMs: 0,
    });
  }

  private async finish(
    prepared: Awaited<ReturnType<Replication['prepare']>>,
    tableResults: TableReplication[],
    durations: { prepareMs: number; schemaMs: number; copyMs: number; postDataMs: number },
  ): Promise<ReplicateResult> {
    const { method, reason, snapshotAt, tables, sequences, largeObjects } = prepared;
    const beforeSwap = this.o.options.beforeSwap;
    if (beforeSwap) {
      await this.closeTargetSessions();
      this.copyChecks.clear();
      try {
        await beforeSwap({ ...this.o.target, database: this.newName });
      } catch (error) {
        throw new RelError(
          'STEP_FAILED',
          `beforeSwap failed: ${oneLine(redact(errorMessage(error), this.secrets))}; ${this.o.target.database} is untouched`,
          { cause: error },
        );
      }
      this.throwIfAborted();
    }
    const verifyStarted = Date.now();
    const { summary, rows } = await this.step(
      'db:replicate:verify',
      `verifying ${this.newWhere} against the source at the snapshot`,
      (progress) => this.verify(tables, sequences, largeObjects, progress),
      ({ summary: s }) =>
        `verified ${s.schemaObjects} schema objects, ${s.tables} tables (${s.rows} rows), ${s.sequences} sequences, ${s.largeObjects} large objects`,
    );
    for (const table of tableResults) if (method === 'dump-restore') table.rows = rows.get(table.name) ?? 0;
    const verifyDone = Date.now();
    const previous = await this.step(
      'db:replicate:swap',
      `swapping ${this.newName} in for ${this.o.target.database}`,
      () => this.swap(),
      (kept) =>
        kept
          ? `${describe(this.o.target)} now holds the copy; the replaced database is kept as ${kept}`
          : `${describe(this.o.target)} now holds the copy`,
    );
    const swapDone = Date.now();
    await this.unfreeze();
    const writeGap = this.writeGap(snapshotAt);
    log(this.onEvent, 'info', writeGap, 'db:replicate:swap');
    return {
      method,
      reason,
      source: this.sourceWhere,
      target: describe(this.o.target),
      snapshotAt,
      writeGap,
      ...(this.frozenMs !== undefined ? { frozenMs: this.frozenMs } : {}),
      tables: tableResults,
      sequences: sequences.length,
      largeObjects: largeObjects.length,
      verified: summary,
      ...(previous ? { previousDatabase: previous } : {}),
      durations: {
        ...durations,
        verifyMs: verifyDone - verifyStarted,
        swapMs: swapDone - verifyDone,
        totalMs: Date.now() - this.started,
      },
    };
  }

  private writeGap(snapshotAt: string): string {
    if (this.frozenMs !== undefined) {
      return (
        `the source was read-only for ${formatDuration(this.frozenMs)}, from before the snapshot (${snapshotAt}) until ` +
        'the swap: the copy holds every write the source accepted until then; writes accepted after that are not in it'
      );
    }
    return (
      `the copy holds the source as of ${snapshotAt}: writes the source accepted after that instant ` +
      '(during the copy, verification and swap) are not in it (freezeWrites closes this gap)'
    );
  }

  // ---- steps

  private async prepare() {
    const { source, target, maintenanceDatabase } = this.o;
    this.sourceAdmin = await connect(source, { secrets: this.secrets });
    this.maintenance = await connect(target, { database: maintenanceDatabase, secrets: this.secrets });
    this.throwIfAborted();
    if (await undoInterruptedFreeze(this.sourceAdmin, source.database)) {
      log(
        this.onEvent,
        'warn',
        `an earlier run was killed while ${this.sourceWhere} was read-only: made it writable again`,
        'db:replicate:prepare',
      );
    }
    const targetState = await databaseState(this.maintenance, target.database);
    const leftover = await databaseState(this.maintenance, this.newName);
    const old = await databaseState(this.maintenance, this.oldName);
    if (old.exists) await dropDatabase(this.maintenance, this.oldName);
    if (leftover.exists) {
      log(
        this.onEvent,
        'warn',
        `dropping ${this.newName}, left by an earlier run that did not finish`,
        'db:replicate:prepare',
      );
      await dropDatabase(this.maintenance, this.newName);
      // A run killed during the swap may have left the target closed to connections.
      if (targetState.exists && !targetState.allowConnections) {
        await setAllowConnections(this.maintenance, target.database, true);
        log(
          this.onEvent,
          'warn',
          `${target.database} was left closed to connections by that run: opened it again`,
          'db:replicate:prepare',
        );
      }
    }
    if (this.o.freezeWrites) {
      this.freeze = await freezeDatabase(this.sourceAdmin, source.database);
      if (this.freeze) {
        log(
          this.onEvent,
          'info',
          `${this.sourceWhere} is read-only now; ended ${this.freeze.terminated} session(s) so that they reconnect read-only`,
          'db:replicate:prepare',
        );
      } else {
        log(this.onEvent, 'info', `${this.sourceWhere} is read-only already: left as it is`, 'db:replicate:prepare');
      }
    }
    this.exporter = await connect(source, { secrets: this.secrets });
    await this.exporter.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await this.exporter.query<{ id: string; at: Date }>(
      'SELECT pg_catalog.pg_export_snapshot() AS id, statement_timestamp() AS at',
    );
    const snapshotId = rows[0]!.id;
    const sourceVersion = Number(
      (await this.exporter.query<{ v: string }>(`SELECT pg_catalog.current_setting('server_version_num') AS v`))
        .rows[0]!.v,
    );
    const snapshotAt = rows[0]!.at.toISOString();
    const sequences = await readSequences(this.exporter);
    const tables = await listTables(this.exporter);
    const largeObjects = await listLargeObjects(this.exporter);
    const extensions = await listExtensions(this.exporter);
    const locale = await readDatabaseLocale(this.exporter);
    // Like pg_dump: no table can be dropped or altered on the source while it is being copied.
    if (tables.length > 0) {
      await this.exporter.query(`SET LOCAL lock_timeout = '30s'`);
      try {
        for (let i = 0; i < tables.length; i += 500) {
          const names = tables.slice(i, i + 500).map((table) => table.qualified);
          await this.exporter.query(`LOCK TABLE ${names.join(', ')} IN ACCESS SHARE MODE`);
        }
      } catch (error) {
        if ((error as { code?: string }).code === '55P03') {
          throw new RelError(
            'STEP_FAILED',
            `a table of ${this.sourceWhere} stays locked by another session (a migration?): ${oneLine(errorMessage(error))}`,
          );
        }
        throw error;
      }
      await this.exporter.query(`SET LOCAL lock_timeout = 0`);
    }
    const { method, reason } = chooseMethod(extensions, this.o.options.forceMethod);
    log(
      this.onEvent,
      'info',
      method === 'copy'
        ? `method: parallel COPY streams (${reason})`
        : `method: pg_dump | pg_restore, because ${reason}`,
      'db:replicate:prepare',
    );
    this.throwIfAborted();
    try {
      await createDatabase(this.maintenance, this.newName, locale, targetState);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const hint = code === '42501' ? ' (the target user needs CREATEDB, or to be superuser)' : '';
      throw new RelError(
        'STEP_FAILED',
        `cannot create ${this.newWhere}: ${oneLine(redact(errorMessage(error), this.secrets))}${hint}; ${target.database} is untouched`,
        { details: { where: this.newWhere, code } },
      );
    }
    this.newCreated = true;
    if (targetState.exists) {
      for (const problem of await carryDatabaseProperties(this.maintenance, target.database, this.newName)) {
        log(this.onEvent, 'warn', problem, 'db:replicate:prepare');
      }
    }
    return {
      method: method as ReplicationMethod,
      reason,
      snapshotId,
      snapshotAt,
      tables,
      sequences,
      largeObjects,
      sourceVersion,
    };
  }

  /** pg_dump's pre-data section applied to the new database; returns the post-data statements for later. */
  private async createSchema(snapshotId: string): Promise<{ pre: number; statements: DumpStatement[] }> {
    const common = ['--no-password', '--encoding=UTF8', `--snapshot=${snapshotId}`];
    const [pre, post] = await Promise.all([
      this.pgDump([...common, '--section=pre-data', '--blobs'], 'pre-data'),
      this.pgDump([...common, '--section=post-data'], 'post-data'),
    ]);
    const preStatements = splitDumpScript(pre);
    // A session of its own: the script's SET statements must not stay in the sessions that load rows.
    const client = await connect(this.o.target, { database: this.newName, secrets: this.secrets });
    const closeOnAbort = () => void client.end().catch(() => {});
    this.abort.signal.addEventListener('abort', closeOnAbort, { once: true });
    try {
      await this.applyPreData(client, preStatements);
    } finally {
      this.abort.signal.removeEventListener('abort', closeOnAbort);
      await client.end().catch(() => {});
    }
    return { pre: preStatements.length, statements: splitDumpScript(post) };
  }

  private async applyPreData(client: pg.Client, preStatements: DumpStatement[]): Promise<void> {
    for (let i = 0; i < preStatements.length; i += SCHEMA_BATCH) {
      const batch = preStatements.slice(i, i + SCHEMA_BATCH);
      try {
        await client.query(`${batch.map((statement) => statement.sql).join(';\n')};`);
      } catch (error) {
        const objects = batch.flatMap((s) => (s.entry ? [`${s.entry.type} ${s.entry.name}`] : []));
        throw new RelError(
          'STEP_FAILED',
          `applying the source's schema to ${this.newWhere} failed: ${oneLine(errorMessage(error))} (in: ${[...new Set(objects)].slice(0, 3).join(', ')}...)`,
          { cause: error },
        );
      }
    }
  }

  /**
   * Copies the rows, one table per worker at a time, largest first. As soon as a table is in, its indexes and
   * keys are built (the first post-data phase, as pg_restore --jobs overlaps data and indexes; those jobs are
   * taken out of `phases`) and it is checksummed on both sides while its pages are cached.
   */
  private async copyRows(
    snapshotId: string,
    tables: SourceTable[],
    sequences: SequenceValue[],
    largeObjects: string[],
    phases: PostDataPhase[],
    progress: Progress,
    canSplit: boolean,
  ): Promise<TableReplication[]> {
    await this.openSourceSessions(snapshotId);
    await this.openTargetSessions();
    const results: TableReplication[] = [];
    let copiedBytes = 0;
    type Job = CopyJob | { largeObjects: string[] } | { index: PostDataJob } | { checksum: SourceTable };
    const copies: Job[] = planCopies(tables, this.o.parallel, canSplit, this.o.splitTableBytes);
    /** Parts still to copy, rows, bytes and start of the tables copied in parts. */
    const parts = new Map<string, { left: number; rows: number; bytes: number; started: number }>();
    for (const job of copies) {
      if (!('part' in job) || job.part === undefined) continue;
      if (job.part.index === 1) {
        parts.set(job.table.dumpName, { left: job.part.count, rows: 0, bytes: 0, started: 0 });
        progress(
          `copying ${job.table.dumpName} (${mib(job.table.bytes)}) as ${job.part.count} page ranges at once (without FREEZE)`,
        );
      }
    }
    for (let i = 0; i < largeObjects.length; i += LARGE_OBJECT_BATCH) {
      copies.push({ largeObjects: largeObjects.slice(i, i + LARGE_OBJECT_BATCH) });
    }
    // Index and key jobs wait for their table; those whose table is not copied here wait for the post-data step.
    const first = phases[0]?.label === INDEX_PHASE ? phases[0] : undefined;
    const copied = new Set(tables.map((table) => table.dumpName));
    const waiting = new Map<string, PostDataJob[]>();
    if (first) {
      first.jobs = first.jobs.filter((job) => {
        if (job.table === undefined || !copied.has(job.table)) return true;
        waiting.set(job.table, [...(waiting.get(job.table) ?? []), job]);
        return false;
      });
    }
    // Foreign keys between copied tables wait for both tables and their keys (not for the other tables).
    const keysLeft = new Map([...waiting].map(([table, jobs]) => [table, jobs.length]));
    const keysDone = new Set<string>();
    let foreignKeys: PostDataJob[] = [];
    const fkPhase = phases.find((phase) => phase.label === FOREIGN_KEY_PHASE);
    if (fkPhase && !phases.some((phase) => phase.label === ATTACH_PHASE)) {
      fkPhase.jobs = fkPhase.jobs.filter((job) => {
        const referenced = referencedTable(job);
        if (job.table === undefined || referenced === undefined) return true;
        if (!copied.has(job.table) || !copied.has(referenced)) return true;
        foreignKeys.push(job);
        return false;
      });
    }
    const ready: ({ index: PostDataJob } | { checksum: SourceTable })[] = [];
    const sortReady = () => {
      // Biggest tables first; a table's indexes before its checksum (a stable sort keeps that order).
      const size = (job: (typeof ready)[number]) =>
        sizeOf.get('index' in job ? job.index.table! : job.checksum.dumpName) ?? 0;
      ready.sort((a, b) => size(b) - size(a));
    };
    const keysBuilt = (table: string) => {
      keysDone.add(table);
      const now = foreignKeys.filter((job) => keysDone.has(job.table!) && keysDone.has(referencedTable(job)!));
      if (now.length === 0) return;
      foreignKeys = foreignKeys.filter((job) => !now.includes(job));
      ready.push(...now.map((index) => ({ index })));
      sortReady();
    };
    // After beforeSwap the copy is checksummed anyway: no point doing it now too.
    const checksumEarly = this.o.options.beforeSwap === undefined;
    const sizeOf = new Map(tables.map((table) => [table.dumpName, table.bytes]));
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
    const sourceBusy: Promise<void>[] = [];

    const copyOne = async ({ table, part }: CopyJob, worker: number) => {
      await sourceBusy[worker];
      const source = this.sourceSessions[worker]!;
      const target = this.targetSessions[worker]!.client;
      const started = Date.now();
      const split = parts.get(table.dumpName);
      if (split && split.started === 0) split.started = started;
      const name = part ? `${table.dumpName} (part ${part.index} of ${part.count})` : table.dumpName;
      let lastReport = started;
      let bytes = 0;
      const piece = await this.guard(`copying ${name}`, () =>
        copyTable(
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
      sourceBusy[worker] = this.sourceChecksum(source, table);
      ready.push(...(waiting.get(table.dumpName) ?? []).map((index) => ({ index })));
      if (checksumEarly) ready.push({ checksum: table });
      sortReady();
      if (!keysLeft.get(table.dumpName)) keysBuilt(table.dumpName);
    };

    const worker = async (w: number) => {
      for (;;) {
        if (failed) return;
        this.throwIfAborted();
        // Copies first: the biggest table, which bounds the whole, starts at once.
        const job: Job | undefined = copies.shift() ?? ready.shift();
        if (job === undefined) {
          // Running jobs may queue more: a copied table its keys and checksum, a key the foreign keys it allows.
          if (running === 0) return;
          await new Promise<void>((resolve) => wakeUp.push(resolve));
          continue;
        }
        running++;
        try {
          if ('table' in job) {
            await copyOne(job, w);
          } else if ('largeObjects' in job) {
            await sourceBusy[w];
            const bytes = await this.guard(`copying large objects to ${this.newWhere}`, () =>
              copyLargeObjects(this.sourceSessions[w]!, this.targetSessions[w]!.client, job.largeObjects),
            );
            largeObjectsDone += job.largeObjects.length;
            copiedBytes += bytes;
            progress(`copied ${largeObjectsDone} of ${largeObjects.length} large objects`, {
              current: largeObjectsDone,
              total: largeObjects.length,
              unit: 'large objects',
            });
          } else if ('index' in job) {
            await this.runPostDataJob(this.targetSessions[w]!, job.index, 'db:replicate:copy');
            if (job.index.type === 'FK CONSTRAINT') {
              foreignKeysDone++;
            } else {
              indexesDone++;
              const table = job.index.table!;
              const left = keysLeft.get(table)! - 1;
              keysLeft.set(table, left);
              if (left === 0) keysBuilt(table);
            }
          } else {
            await this.copyChecksum(this.targetSessions[w]!.client, job.checksum);
          }
        } catch (error) {
          failed = true;
          throw error;
        } finally {
          running--;
          wake();
        }
      }
    };
    await Promise.all(Array.from({ length: this.o.parallel }, (_, w) => worker(w)));
    await Promise.all(sourceBusy);
    if (indexesDone > 0) progress(`built ${indexesDone} indexes and keys of copied tables`);
    if (foreignKeysDone > 0) progress(`added ${foreignKeysDone} foreign keys between copied tables`);
    // Not reached when a job failed; then the step fails anyway.
    if (fkPhase && foreignKeys.length > 0) fkPhase.jobs.push(...foreignKeys);
    if (sequences.length > 0) {
      await this.guard('setting sequences', () => setSequences(this.targetSessions[0]!.client, sequences));
      progress(`set ${sequences.length} sequences to the source's values`);
    }
    const order = new Map(tables.map((table, i) => [table.dumpName, i]));
    return results.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  }

  /** The post-data jobs the copy step did not run, phase by phase. */
  private async postData(phases: PostDataPhase[], progress: Progress): Promise<void> {
    await this.openTargetSessions();
    for (const phase of phases) {
      if (phase.jobs.length === 0) continue;
      const started = Date.now();
      let done = 0;
      const runJob = async (job: PostDataJob, worker: number) => {
        this.throwIfAborted();
        await this.runPostDataJob(this.targetSessions[worker]!, job, 'db:replicate:post-data');
        done++;
      };
      if (phase.parallel) await runPool(phase.jobs, this.o.parallel, runJob);
      else for (const job of phase.jobs) await runJob(job, 0);
      progress(`${phase.label}: ${done} done in ${formatDuration(Date.now() - started)}`, {
        current: done,
        total: phase.jobs.length,
      });
    }
  }

  private async runPostDataJob(session: TargetSession, job: PostDataJob, step: string): Promise<void> {
    const started = Date.now();
    const wanted = new Map(job.settings.map((sql) => [settingName(sql)!, sql]));
    for (const [name] of session.settings) {
      if (!wanted.has(name)) await session.client.query(`RESET ${name}`);
    }
    for (const [name, sql] of wanted) if (session.settings.get(name) !== sql) await session.client.query(sql);
    session.settings = wanted;
    for (const sql of job.statements) {
      for (let attempt = 1; ; attempt++) {
        try {
          await session.client.query(sql);
          break;
        } catch (error) {
          // Foreign keys built at once may deadlock on the tables they share: PostgreSQL cancels one; run it again.
          if ((error as { code?: string }).code === '40P01' && attempt < 5) continue;
          throw this.failure(error, `creating ${job.type.toLowerCase()} ${job.name} on ${this.newWhere}`);
        }
      }
    }
    log(this.onEvent, 'debug', `${job.type.toLowerCase()} ${job.name}: ${formatDuration(Date.now() - started)}`, step);
  }

  private async dumpRestore(snapshotId: string, progress: Progress): Promise<number> {
    const pipe = new PassThrough({ highWaterMark: 1 << 20 });
    let bytes = 0;
    let lastReport = Date.now();
    const started = lastReport;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        const now = Date.now();
        if (now - lastReport >= 1000) {
          lastReport = now;
          progress(`pg_dump | pg_restore: ${mib(bytes)} (${rate(bytes, now - started)})`, {
            current: bytes,
            unit: 'bytes',
          });
        }
        done(null, chunk);
      },
    });
    meter.pipe(pipe);
    const stopDump = new AbortController();
    const onAbort = () => stopDump.abort();
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const dump = this.o
        .execSource(['pg_dump', '--no-password', '--format=custom', '--compress=0', `--snapshot=${snapshotId}`], {
          stdout: meter,
          env: toolEnv(this.o.source),
          signal: stopDump.signal,
        })
        .finally(() => {
          if (!meter.writableEnded) meter.end();
        });
      const restore = this.o
        .execTarget(['pg_restore', '--no-password', '--exit-on-error', `--dbname=${this.newName}`], {
          stdin: pipe,
          env: toolEnv(this.o.target, this.newName),
          signal: this.abort.signal,
        })
        .finally(() => {
          // pg_restore stopped (done or failed): pg_dump must not block on a full pipe.
          pipe.resume();
        });
      const [restored, dumped] = await Promise.all([
        restore.then((result) => {
          if (result.exitCode !== 0) stopDump.abort();
          return result;
        }),
        dump.catch((error: unknown) => {
          if (stopDump.signal.aborted) return { exitCode: -1, stdout: '', stderr: 'stopped' };
          throw error;
        }),
      ]);
      this.throwIfAborted();
      // A pg_dump that failed on its own is the cause (pg_restore then only saw a truncated archive).
      if (dumped.exitCode !== 0 && !stopDump.signal.aborted) {
        throw new RelError(
          'STEP_FAILED',
          `pg_dump of ${this.sourceWhere} failed (exit ${dumped.exitCode}): ${redact(lastLines(dumped.stderr), this.secrets)}`,
        );
      }
      if (restored.exitCode !== 0) {
        throw new RelError(
          'STEP_FAILED',
          `pg_restore into ${this.newWhere} failed (exit ${restored.exitCode}): ${redact(lastLines(restored.stderr), this.secrets)}`,
        );
      }
      return bytes;
    } finally {
      this.abort.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Checksums one table on a source session (at the snapshot), into `sourceChecks`. Never rejects: see verify. */
  private sourceChecksum(client: pg.Client, table: SourceTable): Promise<void> {
    const work = this.guard(`checksumming ${table.dumpName} on ${this.sourceWhere}`, () =>
      tableChecksum(client, table),
    ).then((checksum) => {
      this.sourceChecks.set(table.qualified, checksum);
    });
    this.sourcePending.push(work);
    return work.catch(() => {}); // the failure is reported by verify, which awaits sourcePending
  }

  private async copyChecksum(client: pg.Client, table: SourceTable): Promise<void> {
    this.copyChecks.set(
      table.qualified,
      await this.guard(`checksumming ${table.dumpName} on ${this.newWhere}`, () => tableChecksum(client, table)),
    );
  }

  /** Row counts and checksums of every table on the source, at the snapshot (while pg_dump | pg_restore runs). */
  private sourceChecksums(tables: SourceTable[]): void {
    const work = runPool(tables, this.o.parallel, async (table, worker) => {
      this.throwIfAborted();
      await this.sourceChecksum(this.sourceSessions[worker]!, table);
    });
    this.sourcePending.push(work);
    work.catch(() => {});
  }

  private async verify(
    tables: SourceTable[],
    sequences: SequenceValue[],
    largeObjects: string[],
    progress: Progress,
  ): Promise<{ summary: VerificationSummary; rows: Map<string, number> }> {
    await this.openTargetSessions();
    const target = this.targetSessions[0]!.client;
    const [sourceSchema, copySchema] = await this.guard('comparing schemas', () =>
      Promise.all([schemaFingerprint(this.exporter!), schemaFingerprint(target)]),
    );
    const diff = compareFingerprints(sourceSchema, copySchema);
    if (diff.onlyInSource.length > 0 || diff.onlyInCopy.length > 0) {
      const show = (items: string[]) => (items.length === 0 ? 'nothing' : items.slice(0, 3).join('; '));
      throw new RelError(
        'STEP_FAILED',
        `verification failed: the schema of ${this.newWhere} differs from the source's: only in the source: ${show(diff.onlyInSource)}; only in the copy: ${show(diff.onlyInCopy)} (${diff.onlyInSource.length + diff.onlyInCopy.length} differences)`,
        { details: { onlyInSource: diff.onlyInSource.slice(0, 50), onlyInCopy: diff.onlyInCopy.slice(0, 50) } },
      );
    }
    progress(`schema: ${sourceSchema.length} objects equal`);

    const copyChecks = this.copyChecks;
    const missing = tables.filter((table) => !copyChecks.has(table.qualified));
    let checked = 0;
    await runPool(missing, this.o.parallel, async (table, worker) => {
      this.throwIfAborted();
      await this.copyChecksum(this.targetSessions[worker]!.client, table);
      checked++;
      if (checked % 10 === 0 || checked === missing.length) {
        progress(`checksummed ${checked} of ${missing.length} tables`, {
          current: checked,
          total: missing.length,
          unit: 'tables',
        });
      }
    });
    await Promise.all(this.sourcePending);
    const sourceChecks = this.sourceChecks;
    const mismatches: string[] = [];
    let rows = 0;
    const rowCounts = new Map<string, number>();
    for (const table of tables) {
      const a = sourceChecks.get(table.qualified)!;
      const b = copyChecks.get(table.qualified)!;
      rowCounts.set(table.dumpName, b.rows);
      rows += b.rows;
      if (a.rows !== b.rows || a.checksum !== b.checksum) {
        mismatches.push(
          `table ${table.dumpName}: the source has ${a.rows} rows (checksum ${a.checksum}), the copy ${b.rows} rows (checksum ${b.checksum})`,
        );
      }
    }
    if (mismatches.length > 0) {
      throw new RelError(
        'STEP_FAILED',
        `verification failed: ${mismatches[0]}${mismatches.length > 1 ? ` (and ${mismatches.length - 1} more tables)` : ''}; ${this.o.target.database} is untouched`,
        { details: { mismatches: mismatches.slice(0, 50) } },
      );
    }
    progress(`rows: ${tables.length} tables, ${rows} rows equal`);

    const copySequences = await this.guard('reading sequences of the copy', () => readSequences(target));
    const copyByName = new Map(copySequences.map((seq) => [seq.qualified, seq]));
    for (const seq of sequences) {
      const copy = copyByName.get(seq.qualified);
      const expected = nextSequenceValue(seq);
      const actual = copy ? nextSequenceValue(copy) : undefined;
      // pg_dump reads sequences a little after the snapshot: ahead is harmless, behind would reuse values.
      const behind = actual === undefined || (BigInt(seq.increment) > 0n ? actual < expected : actual > expected);
      if (behind) {
        throw new RelError(
          'STEP_FAILED',
          `verification failed: sequence ${seq.qualified} would next give ${actual ?? 'nothing'} in the copy, ${expected} on the source; ${this.o.target.database} is untouched`,
        );
      }
    }

    const copyObjects = await this.guard('listing large objects of the copy', () => listLargeObjects(target));
    if (copyObjects.join(',') !== largeObjects.join(',')) {
      throw new RelError(
        'STEP_FAILED',
        `verification failed: the source has ${largeObjects.length} large objects, the copy ${copyObjects.length}; ${this.o.target.database} is untouched`,
      );
    }
    if (largeObjects.length > 0) {
      const [a, b] = await this.guard('comparing large objects', () =>
        Promise.all([hashLargeObjects(this.exporter!, largeObjects), hashLargeObjects(target, largeObjects)]),
      );
      for (const oid of largeObjects) {
        if (a.get(oid) !== b.get(oid)) {
          throw new RelError(
            'STEP_FAILED',
            `verification failed: large object ${oid} differs (md5 ${a.get(oid)} on the source, ${b.get(oid)} in the copy); ${this.o.target.database} is untouched`,
          );
        }
      }
    }
    return {
      summary: {
        schemaObjects: sourceSchema.length,
        tables: tables.length,
        rows,
        sequences: sequences.length,
        largeObjects: largeObjects.length,
        checksum: CHECKSUM_DESCRIPTION,
      },
      rows: rowCounts,
    };
  }

  /**
   * Stops the consumer, closes the target to new sessions and ends its sessions, renames (target -> previous,
   * new -> target, in one transaction), and starts the consumer again, also when anything after stopping it
   * failed. Returns the name the replaced database is kept under.
   */
  private async swap(): Promise<string | undefined> {
    await this.closeTargetSessions();
    await this.closeSourceSessions();
    const maintenance = this.maintenance!;
    const { target } = this.o;
    const { stopConsumer, startConsumer } = this.o.options;
    let stopped = false;
    let closed = false;
    let kept: string | undefined;
    let failure: unknown;
    try {
      if (stopConsumer) {
        stopped = true;
        await stopConsumer();
      }
      const state = await databaseState(maintenance, target.database);
      if (state.exists) {
        await setAllowConnections(maintenance, target.database, false);
        closed = true;
        await terminateSessions(maintenance, target.database);
        await terminateSessions(maintenance, this.previousName);
      }
      await renameInto(maintenance, {
        fresh: this.newName,
        target: target.database,
        previous: this.previousName,
        old: this.oldName,
        targetExists: state.exists,
      });
      this.swapped = true;
      closed = false;
      await dropDatabase(maintenance, this.oldName).catch((error: unknown) =>
        log(
          this.onEvent,
          'warn',
          `could not drop ${this.oldName} (the next run drops it): ${oneLine(errorMessage(error))}`,
        ),
      );
      if (state.exists) {
        kept = this.previousName;
        await setAllowConnections(maintenance, this.previousName, state.allowConnections).catch((error: unknown) =>
          log(
            this.onEvent,
            'warn',
            `${this.previousName} stays closed to connections: ${oneLine(errorMessage(error))}`,
          ),
        );
      }
    } catch (error) {
      failure = error;
    }
    if (closed) await setAllowConnections(maintenance, target.database, true).catch(() => {});
    if (stopped && startConsumer) {
      try {
        await startConsumer();
      } catch (error) {
        const message = `startConsumer failed: ${oneLine(redact(errorMessage(error), this.secrets))}`;
        if (failure === undefined) {
          throw new RelError(
            'STEP_FAILED',
            `${describe(target)} holds the copy${kept ? ` (the replaced database is kept as ${kept})` : ''}, but ${message}`,
            { cause: error },
          );
        }
        log(this.onEvent, 'error', message, 'db:replicate:swap');
      }
    }
    if (failure !== undefined) {
      const error = this.failure(failure, `swapping ${this.newName} in for ${target.database}`);
      const restarted = stopped && startConsumer ? ' and its consumer was started again' : '';
      throw new RelError(error.code, `${error.message}; ${target.database} is untouched${restarted}`, {
        cause: failure,
        ...(error.details ? { details: error.details } : {}),
      });
    }
    return kept;
  }

  // ---- sessions

  private async openSourceSessions(snapshotId: string): Promise<void> {
    while (this.sourceSessions.length < this.o.parallel) {
      const client = await connect(this.o.source, { secrets: this.secrets });
      this.sourceSessions.push(client);
      await importSnapshot(client, snapshotId);
    }
  }

  private async openTargetSessions(): Promise<void> {
    while (this.targetSessions.length < this.o.parallel) {
      const client = await connect(this.o.target, { database: this.newName, secrets: this.secrets });
      const session = { client, settings: new Map<string, string>() };
      this.targetSessions.push(session);
      await this.applySessionSettings(session);
    }
  }

  /** Settings of the sessions that load the new database: it is thrown away if the server crashes meanwhile. */
  private async applySessionSettings(session: TargetSession): Promise<void> {
    await session.client.query(
      `SET synchronous_commit = off; SET maintenance_work_mem = ${quoteLiteral(this.o.maintenanceWorkMem)}`,
    );
    session.settings = new Map();
  }

  private async closeTargetSessions(): Promise<void> {
    const sessions = this.targetSessions;
    this.targetSessions = [];
    await Promise.all(sessions.map((session) => session.client.end().catch(() => {})));
  }

  private async closeSourceSessions(): Promise<void> {
    const sessions = [...this.sourceSessions, ...(this.exporter ? [this.exporter] : [])];
    this.sourceSessions = [];
    this.exporter = undefined;
    await Promise.all(sessions.map((client) => client.end().catch(() => {})));
  }

  private async closeSessions(): Promise<void> {
    await Promise.all([this.closeTargetSessions(), this.closeSourceSessions()]);
  }

  // ---- failure and cleanup

  private async unfreeze(): Promise<void> {
    const freeze = this.freeze;
    if (!freeze) return;
    this.freeze = undefined;
    const undo = (client: pg.Client) => unfreezeDatabase(client, this.o.source.database, freeze);
    try {
      this.frozenMs = await undo(this.sourceAdmin!).catch(async () => {
        // The session may be gone (the source restarted): once more with a new one.
        const client = await connect(this.o.source, { secrets: this.secrets });
        try {
          return await undo(client);
        } finally {
          await client.end().catch(() => {});
        }
      });
      log(
        this.onEvent,
        'info',
        `${this.sourceWhere} is writable again after ${formatDuration(this.frozenMs)}`,
        'db:replicate',
      );
    } catch (error) {
      log(
        this.onEvent,
        'error',
        `could not make ${this.sourceWhere} writable again (${oneLine(redact(errorMessage(error), this.secrets))}): run ALTER DATABASE ${this.o.source.database} RESET default_transaction_read_only`,
        'db:replicate',
      );
    }
  }

  async cleanup(): Promise<void> {
    this.removeAbortListener();
    await this.closeSessions();
    await this.unfreeze();
    if (this.newCreated && !this.swapped && this.maintenance) {
      try {
        await dropDatabase(this.maintenance, this.newName);
        log(this.onEvent, 'info', `dropped ${this.newWhere}; ${this.o.target.database} is untouched`, 'db:replicate');
      } catch (error) {
        log(
          this.onEvent,
          'warn',
          `could not drop ${this.newWhere} (${oneLine(redact(errorMessage(error), this.secrets))}): the next run drops it`,
          'db:replicate',
        );
      }
    }
    await Promise.all(
      [this.sourceAdmin, this.maintenance].map((client) => client?.end().catch(() => {}) ?? Promise.resolve()),
    );
  }

  private throwIfAborted(): void {
    if (this.abort.signal.aborted) {
      throw new RelError(
        'ABORTED',
        `replication of ${this.sourceWhere} stopped; ${this.o.target.database} is untouched`,
      );
    }
  }

  /** Any error as a one-line RelError that names what was being done and carries no secret. */
  private failure(error: unknown, doing: string): RelError {
    if (this.abort.signal.aborted) {
      return new RelError(
        'ABORTED',
        `replication of ${this.sourceWhere} stopped while ${doing}; ${this.o.target.database} is untouched`,
      );
    }
    if (error instanceof RelError) return error;
    const code = (error as { code?: string })?.code;
    const message = oneLine(redact(errorMessage(error), this.secrets));
    const lost =
      (code !== undefined && (CONNECTION_LOST.test(code) || /^E[A-Z]+$/.test(code))) ||
      /Connection terminated|ECONNRESET|ECONNREFUSED|socket|premature close/i.test(message);
    // disk_full: the copy is dropped right after, which gives the space back.
    const full =
      code === '53100' ? ` (disk full); ${this.o.target.database} is untouched, the partial copy is dropped` : '';
    return new RelError(lost ? 'UNREACHABLE' : 'STEP_FAILED', `${doing} failed: ${message}${full}`, {
      cause: error,
      details: { ...(code ? { code } : {}) },
    });
  }

  private async guard<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.failure(error, doing);
    }
  }

  private step<T>(
    step: string,
    message: string,
    fn: (progress: Progress) => Promise<T>,
    finishMessage?: (result: T) => string,
  ): Promise<T> {
    return runStep(
      this.onEvent,
      step,
      message,
      async (progress) => {
        this.throwIfAborted();
        try {
          return await fn(progress);
        } catch (error) {
          throw this.failure(error, message);
        }
      },
      finishMessage,
    );
  }

  private async pgDump(args: string[], what: string): Promise<string> {
    const result = await this.o.execSource(['pg_dump', ...args], {
      env: toolEnv(this.o.source),
      signal: this.abort.signal,
    });
    if (result.exitCode !== 0) {
      throw new RelError(
        'STEP_FAILED',
        `pg_dump (${what}) of ${this.sourceWhere} failed (exit ${result.exitCode}): ${redact(lastLines(result.stderr), this.secrets)}`,
      );
    }
    return result.stdout;
  }
}
