// Applying SQL migrations one by one, each in its transaction with its history row; a failure named to its line, or undone from the backup.
import { type EventSink, errorMessage, log, RelError, redact, runStep } from '@rel/core';
import type pg from 'pg';
import type { DatabaseSession } from './connection.js';
import { ensureHistoryTables, recordApplied } from './history.js';
import type { MigrateDatabaseOptions } from './migrate.js';
import type { LoadedSource } from './plan.js';
import { restoreDatabase } from './restore.js';
import { lineColumnAt, offsetOfPosition, type SqlStatement, trimStatement } from './sql-text.js';
import type { BackupResult, Migration, MigrationSource } from './types.js';

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

export async function runMigrations(
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
