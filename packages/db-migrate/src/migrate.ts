import { type EventSink, ignoreEvents, log, RelError, redact, runStep } from '@rel/core';
import type pg from 'pg';
import { runMigrations } from './apply.js';
import { backupDatabase } from './backup.js';
import { type DatabaseSession, openSession } from './connection.js';
import { readHistory } from './history.js';
import { acquireMigrationLock } from './lock.js';
import { inspect, loadSource, type PlanMigrationsOptions } from './plan.js';
import type { BackupDatabaseOptions, BackupResult, MigrateResult, MigrationSource } from './types.js';

// Planning (load the source, read the history, lint) is plan.js's; applying SQL migrations, apply.js's.
export { type PlanMigrationsOptions, planMigrations } from './plan.js';

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
