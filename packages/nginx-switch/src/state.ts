import { readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorMessage, isEnvironment, RelError } from '@rel/core';
import { syncDirectory, writeFileAtomic } from './atomic-write.js';
import type { LiveState } from './types.js';

/**
 * Reads the state file. `undefined` when it does not exist (no switch recorded yet). RelError CONFIG when it
 * cannot be read or is not a valid state (it is only ever written atomically, so that means a hand edit).
 */
export async function readState(stateFile: string): Promise<LiveState | undefined> {
  let text: string;
  try {
    text = await readFile(stateFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RelError('CONFIG', `cannot read state file ${stateFile}: ${errorMessage(error)}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RelError('CONFIG', `state file ${stateFile} is not valid JSON: ${errorMessage(error)}`, { cause: error });
  }
  const problem = stateProblem(value);
  if (problem) throw new RelError('CONFIG', `state file ${stateFile} is not a rel switch state: ${problem}`);
  return value as LiveState;
}

function stateProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const state = value as Record<string, unknown>;
  if (!isEnvironment(state.live) && !(state.live === null && state.pending)) {
    return `"live" is ${JSON.stringify(state.live)}, expected "blue" or "green"`;
  }
  if (typeof state.since !== 'string') return '"since" is missing';
  if (state.previous !== null && !isEnvironment(state.previous)) return '"previous" must be "blue", "green" or null';
  if (state.method !== 'reload' && state.method !== 'socket') return '"method" must be "reload" or "socket"';
  if (state.pending !== undefined) {
    const pending = state.pending as Record<string, unknown> | null;
    if (typeof pending !== 'object' || pending === null || !isEnvironment(pending.to)) return '"pending.to" is invalid';
  }
  return undefined;
}

/** Writes the state file atomically (temp file, fsync, rename): it is valid JSON even after a crash. */
export async function writeState(stateFile: string, state: LiveState): Promise<void> {
  await writeFileAtomic(stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes the state file (back to "no switch recorded"); a missing file is fine. */
export async function removeState(stateFile: string): Promise<void> {
  try {
    await unlink(stateFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await syncDirectory(dirname(stateFile));
}
