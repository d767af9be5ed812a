// Planning a run: the source's migrations loaded, the history table read, drift refused, the pending ones linted.
import { type EventSink, ignoreEvents, log, RelError } from '@rel/core';
import { type DatabaseSession, openSession } from './connection.js';
import { readChecksums, readHistory } from './history.js';
import { lintMigrations } from './lint.js';
import { loadIdempotentScript, loadSqlFolder, withTransactionMode } from './sources.js';
import type { SqlStatement } from './sql-text.js';
import type { DatabaseConnection, Migration, MigrationPlan, MigrationSource } from './types.js';

export interface PlanMigrationsOptions {
  connection: DatabaseConnection;
  source: MigrationSource;
  /** `application_name` of the session. Default `rel db migrate (<host> pid <pid>)`. */
  applicationName?: string;
  onEvent?: EventSink;
}

export interface LoadedSource {
  migrations: Migration[] | undefined;
  preamble: SqlStatement[];
  /** The source's ids, when known. */
  ids: string[] | undefined;
}

export async function loadSource(source: MigrationSource): Promise<LoadedSource> {
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

export async function inspect(
  session: DatabaseSession,
  source: MigrationSource,
  loaded: LoadedSource,
  onEvent: EventSink,
) {
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
