import { errorMessage, log, RelError } from '@rel/core';
import { describe, oneLine, redact } from '../connection.js';
import { databaseState, dropDatabase, renameInto, setAllowConnections, terminateSessions } from '../databases.js';
import type { Checksums } from './checksums.js';
import type { Run } from './context.js';
import { failure, throwIfAborted } from './errors.js';
import type { Sessions } from './pools.js';
import type { NewDatabase } from './prepare.js';

/**
 * The caller's `beforeSwap(newDatabase)`, on the complete copy with no session of this run on it. The copy's
 * checksums taken so far are forgotten: verify takes them again, after whatever the hook changed.
 */
export async function runBeforeSwap(run: Run, sessions: Sessions, checksums: Checksums): Promise<void> {
  const beforeSwap = run.options.options.beforeSwap;
  if (!beforeSwap) return;
  await sessions.closeTarget();
  checksums.copy.clear();
  try {
    await beforeSwap({ ...run.options.target, database: run.names.fresh });
  } catch (error) {
    throw new RelError(
      'STEP_FAILED',
      `beforeSwap failed: ${oneLine(redact(errorMessage(error), run.secrets))}; ${run.names.target} is untouched`,
      { cause: error },
    );
  }
  throwIfAborted(run);
}

/**
 * Stops the consumer, closes the target to new sessions and ends its sessions, renames (target -> previous,
 * new -> target, in one transaction), and starts the consumer again, also when anything after stopping it
 * failed. Returns the name the replaced database is kept under.
 */
export async function swap(run: Run, sessions: Sessions, state: NewDatabase): Promise<string | undefined> {
  await sessions.closeTarget();
  await sessions.closeSource();
  const maintenance = sessions.maintenance!;
  const { names } = run;
  const { target } = run.options;
  const { stopConsumer, startConsumer } = run.options.options;
  let stopped = false;
  let closed = false;
  let kept: string | undefined;
  let failed: unknown;
  try {
    if (stopConsumer) {
      stopped = true;
      await stopConsumer();
    }
    const targetState = await databaseState(maintenance, names.target);
    if (targetState.exists) {
      await setAllowConnections(maintenance, names.target, false);
      closed = true;
      await terminateSessions(maintenance, names.target);
      await terminateSessions(maintenance, names.previous);
    }
    await renameInto(maintenance, { ...names, targetExists: targetState.exists });
    state.swapped = true;
    closed = false;
    await dropDatabase(maintenance, names.old).catch((error: unknown) =>
      log(run.onEvent, 'warn', `could not drop ${names.old} (the next run drops it): ${oneLine(errorMessage(error))}`),
    );
    if (targetState.exists) {
      kept = names.previous;
      await setAllowConnections(maintenance, names.previous, targetState.allowConnections).catch((error: unknown) =>
        log(run.onEvent, 'warn', `${names.previous} stays closed to connections: ${oneLine(errorMessage(error))}`),
      );
    }
  } catch (error) {
    failed = error;
  }
  if (closed) await setAllowConnections(maintenance, names.target, true).catch(() => {});
  if (stopped && startConsumer) {
    try {
      await startConsumer();
    } catch (error) {
      const message = `startConsumer failed: ${oneLine(redact(errorMessage(error), run.secrets))}`;
      if (failed === undefined) {
        throw new RelError(
          'STEP_FAILED',
          `${describe(target)} holds the copy${kept ? ` (the replaced database is kept as ${kept})` : ''}, but ${message}`,
          { cause: error },
        );
      }
      log(run.onEvent, 'error', message, 'db:replicate:swap');
    }
  }
  if (failed !== undefined) {
    const error = failure(run, failed, `swapping ${names.fresh} in for ${names.target}`);
    const restarted = stopped && startConsumer ? ' and its consumer was started again' : '';
    throw new RelError(error.code, `${error.message}; ${names.target} is untouched${restarted}`, {
      cause: failed,
      ...(error.details ? { details: error.details } : {}),
    });
  }
  return kept;
}
