import { errorMessage, formatDuration, log } from '@rel/core';
import type pg from 'pg';
import { oneLine, redact } from '../connection.js';
import { type Freeze, freezeDatabase, unfreezeDatabase } from '../freeze.js';
import type { Run } from './context.js';

/** The freeze of the source (`freezeWrites`) while it is on, and how long it lasted once undone. */
export interface WriteFreeze {
  freeze?: Freeze;
  frozenMs?: number;
}

/** With `freezeWrites`: makes the source read-only, before the snapshot (unless it is read-only already). */
export async function freezeSource(run: Run, sourceAdmin: pg.Client, state: WriteFreeze): Promise<void> {
  if (!run.options.freezeWrites) return;
  state.freeze = await freezeDatabase(sourceAdmin, run.options.source.database);
  if (state.freeze) {
    log(
      run.onEvent,
      'info',
      `${run.sourceWhere} is read-only now; ended ${state.freeze.terminated} session(s) so that they reconnect read-only`,
      'db:replicate:prepare',
    );
  } else {
    log(run.onEvent, 'info', `${run.sourceWhere} is read-only already: left as it is`, 'db:replicate:prepare');
  }
}

/**
 * Undoes the freeze, once (after the swap, or on failure): on `sourceAdmin`, or on a new session when that one
 * is gone (the source restarted). Never throws: a freeze that cannot be undone is logged as an error saying
 * how to undo it by hand.
 */
export async function unfreezeSource(
  run: Run,
  sourceAdmin: pg.Client | undefined,
  connectSource: () => Promise<pg.Client>,
  state: WriteFreeze,
): Promise<void> {
  const freeze = state.freeze;
  if (!freeze) return;
  state.freeze = undefined;
  const database = run.options.source.database;
  const undo = (client: pg.Client) => unfreezeDatabase(client, database, freeze);
  try {
    const retry = async () => {
      // The session may be gone (the source restarted): once more with a new one.
      const client = await connectSource();
      try {
        return await undo(client);
      } finally {
        await client.end().catch(() => {});
      }
    };
    state.frozenMs = await (sourceAdmin ? undo(sourceAdmin) : Promise.reject(new Error('no session'))).catch(retry);
    log(
      run.onEvent,
      'info',
      `${run.sourceWhere} is writable again after ${formatDuration(state.frozenMs)}`,
      'db:replicate',
    );
  } catch (error) {
    log(
      run.onEvent,
      'error',
      `could not make ${run.sourceWhere} writable again (${oneLine(redact(errorMessage(error), run.secrets))}): run ALTER DATABASE ${database} RESET default_transaction_read_only`,
      'db:replicate',
    );
  }
}

/** What the copy holds and what it misses, said out loud (`result.writeGap`). */
export function writeGap(snapshotAt: string, frozenMs: number | undefined): string {
  if (frozenMs !== undefined) {
    return (
      `the source was read-only for ${formatDuration(frozenMs)}, from before the snapshot (${snapshotAt}) until ` +
      'the swap: the copy holds every write the source accepted until then; writes accepted after that are not in it'
    );
  }
  return (
    `the copy holds the source as of ${snapshotAt}: writes the source accepted after that instant ` +
    '(during the copy, verification and swap) are not in it (freezeWrites closes this gap)'
  );
}
