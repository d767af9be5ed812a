import { type EventSink, errorMessage, ignoreEvents, log, RelError, runStep } from '@rel/core';
import type pg from 'pg';
import { backupDatabase, restoreDatabase } from './backup.js';
import { type DatabaseSession, openSession, redact } from './connection.js';
import { ensureHistoryTables, readChecksums, readHistory, recordApplied } from './history.js';
import { lintMigrations } from './lint.js';
import { acquireMigrationLock } from './lock.js';
import { loadIdempotentScript, loadSqlFolder, withTransactionMode } from './sources.js';
import { lineColumnAt, offsetOfPosition, type SqlStatement, trimStatement } from './sql-text.js';
import type {
  BackupDatabaseOptions,
  BackupResult,
  DatabaseConnection,
  MigrateResult,
  Migration,
  MigrationPlan,
  MigrationSource,
} from './types.js';

export interface PlanMigrationsOptions {
  connection: DatabaseConnection;
  source: MigrationSource;
  /** `application_name` of the session. Default `rel db migrate (<host> pid <pid>)`. */
  applicationName?: string;
  onEvent?: EventSink;
}

export interface MigrateDatabaseOptions extends PlanMigrationsOptions {
  /**
   * Back up the database before the first pending migration runs (nothing is backed up when nothing is
   * pending), and restore it automatically if a migration that ran outside a transaction fails.
   * Default `false`: no backup.
   */
  backup?: Omit<BackupDatabaseOptions, 'onEvent' | 'signal'> | false;
  /** Restores the backup after a failed non-transactional migration. Default: `restoreDatabase` with `backup.exec`. */
  restore?: (backup: BackupResult) => Promise<void>;
  /** How long to wait for another run's migration lock on the same database. Default 60000 ms. */
  lockWaitMs?: number;
  /** PostgreSQL `lock_timeout` of every statement, ms (0 = none). Default 5000. */
  lockTimeoutMs?: number;
  /** PostgreSQL `statement_timeout`, ms (0 = none). Default 0. */
  statementTimeoutMs?: number;
  /** Plan and lint only; change nothing (no lock, no backup, no tables created). Default false. */
  dryRun?: boolean;
  /** `"ProductVersion"` recorded for SQL-folder migrations. Default `'rel-sql-folder'`. */
  productVersion?: string;
  /** Pass `--verbose` to a bundle. Default false. */
  verbose?: boolean;
  /** Stops before the next migration (the running one finishes or rolls back) with ABORTED. */
  signal?: AbortSignal;
}

interface LoadedSource {
  migrations: Migration[] | undefined;
  preamble: SqlStatement[];
  /** The source's ids, when known. */
  ids: string[] | undefined;
}

async function loadSource(source: MigrationSource): Promise<LoadedSource> {
  switch (source.kind) {
    case 'sql-folder': {
      const migrations = await loadSqlFolder(source.dir);
      return { migrations, preamble: [], ids: migrations.map((m) => m.id) };
    }
    case 'idempotent-script': {
      const script = await loadIdempotentScript(source.file);
      return { migrations: script.migrations, preamble: script.preamble, ids: script.migrations.map((m) => m.id) };
    }
    case 'bundle':
      return {
        migrations: undefined,
        preamble: [],
        ids: source.migrations ? [...source.migrations].sort() : undefined,
      };
    default:
      throw new RelError(
        'BAD_INPUT',
        `unknown migration source ${JSON.stringify((source as { kind?: unknown }).kind)}`,
      );
  }
}

function shortSha(sha: string): string {
  return sha.slice(0, 12);
}

async function inspect(session: DatabaseSession, source: MigrationSource, loaded: LoadedSource, onEvent: EventSink) {
  const history = await readHistory(session.client);
  const applied = new Set(history);
  const migrations = loaded.migrations?.map((m) => withTransactionMode(m, session.serverVersionNum));
  if (migrations) {
    const recorded = await readChecksums(session.client);
    const drift = migrations
      .filter((m) => applied.has(m.id) && recorded.has(m.id) && recorded.get(m.id) !== m.checksum)
      .map((m) => ({ migrationId: m.id, file: m.file, recorded: recorded.get(m.id)!, current: m.checksum }));
    if (drift.length > 0) {
      const list = drift.map(
        (d) => `${d.migrationId} (applied sha256 ${shortSha(d.recorded)}, now ${shortSha(d.current)})`,
      );
      throw new RelError(
        'STEP_FAILED',
        `migration drift: ${drift.length === 1 ? 'an applied migration was' : 'applied migrations were'} changed afterwards: ${list.join(', ')}; nothing was run`,
        { details: { drift } },
      );
    }
  }
  const ids = loaded.ids;
  const known = new Set(ids ?? []);
  const pendingMigrations = migrations?.filter((m) => !applied.has(m.id)) ?? [];
  const plan: MigrationPlan = {
    source: source.kind,
    pending: migrations ? pendingMigrations.map((m) => m.id) : (ids?.filter((id) => !applied.has(id)) ?? []),
    alreadyApplied: ids ? ids.filter((id) => applied.has(id)) : history,
    unknown: ids ? history.filter((id) => !known.has(id)) : [],
    nonTransactional: pendingMigrations
      .filter((m) => m.nonTransactional)
      .map((m) => ({ migrationId: m.id, reason: m.nonTransactional! })),
    warnings: lintMigrations(pendingMigrations),
  };
  for (const id of plan.unknown) {
    plan.warnings.push({
      migrationId: id,
      rule: 'unknown-migration',
      message: `the history table lists ${id}, which this source does not have (applied by a newer version?)`,
    });
  }
  for (const warning of plan.warnings) {
    const where = warning.line === undefined ? '' : ` (line ${warning.line})`;
    log(
      onEvent,
      'warn',
      `${warning.migrationId}${where}: ${warning.message}${warning.statement ? `: ${warning.statement}` : ''}`,
    );
  }
  for (const { migrationId, reason } of plan.nonTransactional) {
    log(
      onEvent,
      'warn',
      `${migrationId} runs outside a transaction (${reason}): a failure part-way is undone only by restoring the backup`,
    );
  }
  return { plan, pendingMigrations };
}

/**
 * Lists the pending migrations of `source` on the database and lints them (heavy locks, table rewrites,
 * data loss, renames). Reports drift as an error. Changes nothing.
 */
export async function planMigrations(options: PlanMigrationsOptions): Promise<MigrationPlan> {
  const { onEvent = ignoreEvents } = options;
  const loaded = await loadSource(options.source);
  const session = await openSession(
    options.connection,
    options.applicationName ? { applicationName: options.applicationName } : {},
  );
  try {
    return (await inspect(session, options.source, loaded, onEvent)).plan;
  } finally {
    await session.close();
  }
}

interface PgError extends Error {
  code?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
}

/** Where in the file PostgreSQL's error points: its `position` in the statement, or inside a DO block. */
function errorOffset(error: PgError, statement: SqlStatement): number {
  if (error.position) return statement.offset + offsetOfPosition(statement.text, Number(error.position));
  if (error.internalPosition && error.internalQuery) {
    const at = statement.text.indexOf(error.internalQuery);
    if (at >= 0) return statement.offset + at + offsetOfPosition(error.internalQuery, Number(error.internalPosition));
  }
  return statement.offset;
}

class MigrationFailure extends Error {
  constructor(
    readonly migration: Migration,
    readonly statement: SqlStatement | undefined,
    readonly pgError: unknown,
    readonly partiallyApplied: boolean,
  ) {
    super(errorMessage(pgError));
  }
}

async function applyMigration(client: pg.Client, migration: Migration, record: (client: pg.Client) => Promise<void>) {
  const inTransaction = !migration.nonTransactional;
  let current: SqlStatement | undefined;
  let ran = 0;
  try {
    if (inTransaction) await client.query('BEGIN');
    for (const statement of migration.statements) {
      current = statement;
      await client.query(statement.text);
      ran++;
    }
    current = undefined;
    if (!inTransaction) await client.query('BEGIN');
    await record(client);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    // A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind: any failure outside a transaction counts.
    throw new MigrationFailure(migration, current, error, !inTransaction && (ran > 0 || current !== undefined));
  }
}

function failureDetails(failure: MigrationFailure, secrets: string[]) {
  const { migration, statement } = failure;
  const pgError = failure.pgError as PgError;
  const message = redact(errorMessage(pgError), secrets);
  const position = statement ? lineColumnAt(migration.fileText, errorOffset(pgError, statement)) : undefined;
  return {
    message,
    details: {
      migrationId: migration.id,
      file: migration.file,
      ...(position ? { line: position.line, column: position.column } : {}),
      ...(statement ? { statement: trimStatement(statement.text) } : {}),
      ...(pgError.code ? { pgCode: pgError.code } : {}),
      postgresMessage: message,
    },
    where: position ? `${migration.file}:${position.line}:${position.column}` : migration.file,
  };
}

/**
 * Applies the pending migrations of `source`: connects, takes the migration lock (waiting up to
 * `lockWaitMs`, then LOCKED naming the holder), refuses drift, lints, backs up, applies each migration in
 * its own transaction with its history row and checksum (outside a transaction when it must, with a warning),
 * and verifies the history table. On failure the migration is rolled back, or the backup restored when a
 * non-transactional migration had started; the STEP_FAILED error names the migration, the statement,
 * PostgreSQL's message and the line and column in the file.
 */
export async function migrateDatabase(options: MigrateDatabaseOptions): Promise<MigrateResult> {
  const started = Date.now();
  const { source, onEvent = ignoreEvents, signal, dryRun = false, productVersion = 'rel-sql-folder' } = options;
  const loaded = await loadSource(source);
  const session = await openSession(options.connection, {
    ...(options.applicationName ? { applicationName: options.applicationName } : {}),
    lockTimeoutMs: options.lockTimeoutMs ?? 5000,
    statementTimeoutMs: options.statementTimeoutMs ?? 0,
  });
  const { client } = session;
  let release: (() => Promise<void>) | undefined;
  try {
    if (!dryRun) {
      release = await acquireMigrationLock(client, {
        waitMs: options.lockWaitMs ?? 60_000,
        onEvent,
        ...(signal ? { signal } : {}),
      });
    }
    const { plan, pendingMigrations } = await inspect(session, source, loaded, onEvent);
    const result = (applied: string[], backup?: BackupResult): MigrateResult => ({
      applied,
      pending: plan.pending,
      alreadyApplied: plan.alreadyApplied,
      ...(backup ? { backup } : {}),
      warnings: plan.warnings,
      dryRun,
      durationMs: Date.now() - started,
    });
    const nothingPending =
      source.kind === 'bundle' ? loaded.ids !== undefined && plan.pending.length === 0 : plan.pending.length === 0;
    if (dryRun || nothingPending) {
      log(
        onEvent,
        'info',
        nothingPending ? 'no pending migrations' : `${plan.pending.length} pending: ${plan.pending.join(', ')}`,
      );
      return result([]);
    }
    const backup = options.backup
      ? await backupDatabase({ ...options.backup, onEvent, ...(signal ? { signal } : {}) })
      : undefined;
    const applied =
      source.kind === 'bundle'
        ? await runBundle(session, source, options, onEvent)
        : await runMigrations(
            session,
            source,
            loaded,
            pendingMigrations,
            { ...options, productVersion, onEvent },
            backup,
          );
    await verifyHistory(client, loaded.ids, onEvent);
    return result(applied, backup);
  } finally {
    await release?.();
    await session.close();
  }
}

async function runMigrations(
  session: DatabaseSession,
  source: MigrationSource,
  loaded: LoadedSource,
  pending: Migration[],
  options: MigrateDatabaseOptions & { productVersion: string; onEvent: EventSink },
  backup: BackupResult | undefined,
): Promise<string[]> {
  const { client } = session;
  const { onEvent, signal } = options;
  const applied: string[] = [];
  return runStep(
    onEvent,
    'db:migrate',
    `applying ${pending.length} migration${pending.length === 1 ? '' : 's'}`,
    async (progress) => {
      await ensureHistoryTables(client);
      for (const statement of loaded.preamble) await client.query(statement.text);
      for (const [index, migration] of pending.entries()) {
        if (signal?.aborted) {
          throw new RelError('ABORTED', `stopped before ${migration.id}; applied: ${applied.join(', ') || 'none'}`);
        }
        progress(`${migration.id}${migration.nonTransactional ? ' (outside a transaction)' : ''}`, {
          current: index + 1,
          total: pending.length,
        });
        try {
          await applyMigration(client, migration, (c) =>
            recordApplied(c, {
              id: migration.id,
              checksum: migration.checksum,
              source: source.kind,
              productVersion: options.productVersion,
            }),
          );
        } catch (error) {
          if (!(error instanceof MigrationFailure)) throw error;
          throw await failedMigration(error, session, options, backup, applied, onEvent);
        }
        applied.push(migration.id);
      }
      return applied;
    },
    (ids) => `applied ${ids.length}: ${ids.join(', ')}`,
  );
}

async function failedMigration(
  failure: MigrationFailure,
  session: DatabaseSession,
  options: MigrateDatabaseOptions,
  backup: BackupResult | undefined,
  applied: string[],
  onEvent: EventSink,
): Promise<RelError> {
  const { message, details, where } = failureDetails(failure, session.secrets);
  const statement = details.statement ? ` in: ${details.statement}` : '';
  const earlier = applied.length > 0 ? ` (applied before it and kept: ${applied.join(', ')})` : '';
  if (!failure.partiallyApplied) {
    return new RelError(
      'STEP_FAILED',
      `migration ${failure.migration.id} failed at ${where}: ${message}${statement}; rolled back${earlier}`,
      { cause: failure.pgError, details: { ...details, rolledBack: true, restored: false, applied } },
    );
  }
  const what = `migration ${failure.migration.id} failed outside a transaction at ${where}: ${message}${statement}`;
  if (!backup) {
    log(onEvent, 'error', `${what}; no backup was taken, the database may be partly migrated`);
    return new RelError('STEP_FAILED', `${what}; no backup was taken: the database may be partly migrated`, {
      cause: failure.pgError,
      details: { ...details, rolledBack: false, restored: false, applied },
    });
  }
  log(onEvent, 'warn', `${what}; restoring the backup ${backup.file}`);
  try {
    const backupOptions = options.backup as Exclude<MigrateDatabaseOptions['backup'], false | undefined>;
    if (options.restore) await options.restore(backup);
    else {
      await restoreDatabase({
        exec: backupOptions.exec,
        file: backup.file,
        database: backupOptions.database,
        user: backupOptions.user,
        sha256: backup.sha256,
        onEvent,
      });
    }
  } catch (restoreError) {
    return new RelError(
      'STEP_FAILED',
      `${what}; restoring the backup ${backup.file} failed too: ${errorMessage(restoreError)}; the database may be partly migrated`,
      {
        cause: failure.pgError,
        details: { ...details, rolledBack: false, restored: false, restoreError: errorMessage(restoreError), applied },
      },
    );
  }
  const undone = applied.length > 0 ? ` (this also undid ${applied.join(', ')})` : '';
  return new RelError('STEP_FAILED', `${what}; the database was restored from the backup ${backup.file}${undone}`, {
    cause: failure.pgError,
    details: { ...details, rolledBack: false, restored: true, backup: backup.file, applied: [] },
  });
}

async function runBundle(
  session: DatabaseSession,
  source: Extract<MigrationSource, { kind: 'bundle' }>,
  options: MigrateDatabaseOptions,
  onEvent: EventSink,
): Promise<string[]> {
  const { client, secrets } = session;
  return runStep(
    onEvent,
    'db:migrate',
    'running the migration bundle',
    async (progress) => {
      const before = new Set(await readHistory(client));
      const outcome = await source.run({
        verbose: options.verbose ?? false,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      for (const line of `${outcome.stdout}\n${outcome.stderr}`.split('\n')) {
        if (line.trim() !== '') log(onEvent, 'debug', `efbundle: ${redact(line, secrets)}`);
      }
      const applied = (await readHistory(client)).filter((id) => !before.has(id));
      if (outcome.exitCode !== 0) {
        const tail = redact(`${outcome.stderr}\n${outcome.stdout}`, secrets).trim().split('\n').slice(-5).join(' | ');
        throw new RelError(
          'STEP_FAILED',
          `migration bundle failed (exit ${outcome.exitCode}): ${tail}; applied before it failed: ${applied.join(', ') || 'none'}`,
          { details: { exitCode: outcome.exitCode, applied } },
        );
      }
      progress(`bundle applied ${applied.length}`);
      return applied;
    },
    (ids) => `bundle applied ${ids.length}: ${ids.join(', ') || 'nothing'}`,
  );
}

/** After a run, the history table must hold every id of the source; ids it does not know are a warning. */
async function verifyHistory(client: pg.Client, ids: string[] | undefined, onEvent: EventSink): Promise<void> {
  if (!ids) return;
  await runStep(onEvent, 'db:verify', 'checking the migration history', async () => {
    const history = new Set(await readHistory(client));
    const missing = ids.filter((id) => !history.has(id));
    if (missing.length > 0) {
      throw new RelError('STEP_FAILED', `after migrating, the history table lacks ${missing.join(', ')}`, {
        details: { missing },
      });
    }
    const known = new Set(ids);
    const extra = [...history].filter((id) => !known.has(id));
    if (extra.length > 0)
      log(onEvent, 'warn', `the history table also lists ${extra.join(', ')}, unknown to this source`);
  });
}
