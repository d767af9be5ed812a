import { errorMessage, log, RelError } from '@rel/core';
import type pg from 'pg';
import type { DatabaseLocale } from '../catalog.js';
import { oneLine, redact } from '../connection.js';
import {
  carryDatabaseProperties,
  createDatabase,
  type DatabaseState,
  databaseState,
  dropDatabase,
  setAllowConnections,
} from '../databases.js';
import { undoInterruptedFreeze } from '../freeze.js';
import type { Run } from './context.js';

/** What happened to the new database: dropped at the end unless it was swapped in. */
export interface NewDatabase {
  created: boolean;
  swapped: boolean;
}

/**
 * Undoes what an earlier run that was killed left behind: a freeze of the source, an `old` database, a
 * half-built copy, a target closed to connections. Returns the target's state (it need not exist).
 */
export async function clearLeftovers(run: Run, sourceAdmin: pg.Client, maintenance: pg.Client): Promise<DatabaseState> {
  const { names } = run;
  if (await undoInterruptedFreeze(sourceAdmin, run.options.source.database)) {
    log(
      run.onEvent,
      'warn',
      `an earlier run was killed while ${run.sourceWhere} was read-only: made it writable again`,
      'db:replicate:prepare',
    );
  }
  const targetState = await databaseState(maintenance, names.target);
  const leftover = await databaseState(maintenance, names.fresh);
  const old = await databaseState(maintenance, names.old);
  if (old.exists) await dropDatabase(maintenance, names.old);
  if (leftover.exists) {
    log(
      run.onEvent,
      'warn',
      `dropping ${names.fresh}, left by an earlier run that did not finish`,
      'db:replicate:prepare',
    );
    await dropDatabase(maintenance, names.fresh);
    // A run killed during the swap may have left the target closed to connections.
    if (targetState.exists && !targetState.allowConnections) {
      await setAllowConnections(maintenance, names.target, true);
      log(
        run.onEvent,
        'warn',
        `${names.target} was left closed to connections by that run: opened it again`,
        'db:replicate:prepare',
      );
    }
  }
  return targetState;
}

/**
 * Creates `<target>__rel_new` like the source (encoding, locale) and the target (owner, tablespace, then its
 * database-level settings, connection limit and privileges: what cannot be carried is logged as a warning).
 */
export async function createNewDatabase(
  run: Run,
  maintenance: pg.Client,
  locale: DatabaseLocale,
  targetState: DatabaseState,
  state: NewDatabase,
): Promise<void> {
  const { names } = run;
  try {
    await createDatabase(maintenance, names.fresh, locale, targetState);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const hint = code === '42501' ? ' (the target user needs CREATEDB, or to be superuser)' : '';
    throw new RelError(
      'STEP_FAILED',
      `cannot create ${run.newWhere}: ${oneLine(redact(errorMessage(error), run.secrets))}${hint}; ${names.target} is untouched`,
      { details: { where: run.newWhere, code } },
    );
  }
  state.created = true;
  if (targetState.exists) {
    for (const problem of await carryDatabaseProperties(maintenance, names.target, names.fresh)) {
      log(run.onEvent, 'warn', problem, 'db:replicate:prepare');
    }
  }
}

/** Drops the copy of a run that did not swap it in; a failure only warns (the next run drops it). */
export async function dropNewDatabase(run: Run, maintenance: pg.Client | undefined, state: NewDatabase): Promise<void> {
  if (!state.created || state.swapped || !maintenance) return;
  try {
    await dropDatabase(maintenance, run.names.fresh);
    log(run.onEvent, 'info', `dropped ${run.newWhere}; ${run.names.target} is untouched`, 'db:replicate');
  } catch (error) {
    log(
      run.onEvent,
      'warn',
      `could not drop ${run.newWhere} (${oneLine(redact(errorMessage(error), run.secrets))}): the next run drops it`,
      'db:replicate',
    );
  }
}
