// The state file's part of a switch: intent and backup before nginx changes, the outcome after.
import type { Environment } from '@rel/core';
import { currentHost } from '../audit.js';
import { createBackup } from '../backup.js';
import { removeState, writeState } from '../state.js';
import type { Routing } from '../status.js';
import type { BackupEntry, LiveState, SwitchMethod } from '../types.js';
import { runPhase, type SwitchRun } from './run.js';

/** A state for `live`, keeping `since` and `previous` when `live` is what the old state said. */
export function liveState(
  live: Environment | null,
  old: LiveState | undefined,
  method: SwitchMethod,
  versions: Partial<Record<Environment, string>> | undefined,
): LiveState {
  const same = old !== undefined && old.live === live;
  const mergedVersions = { ...old?.versions, ...versions };
  return {
    live,
    since: same ? old.since : new Date().toISOString(),
    previous: same ? old.previous : (old?.live ?? null),
    ...(Object.keys(mergedVersions).length > 0 ? { versions: mergedVersions } : {}),
    method,
  };
}

/**
 * The target is live already and no switch is pending: rewrites the state file only if it names another
 * environment (returns true then). On failure: the state file as it was (it is replaced atomically).
 */
export async function repairStateOfLiveTarget(
  run: SwitchRun,
  state: LiveState | undefined,
  method: SwitchMethod,
): Promise<boolean> {
  if (state?.live === run.target) return false;
  await writeState(run.stateFile, liveState(run.target, state, method, run.options.versions));
  return true;
}

/**
 * Phase `backup`: records the intent (the state file's `pending`: from, to, pid, host), then backs up the config
 * (and in socket mode where the live link points) into the backup directory, keeping the newest `keepBackups`.
 * Sets `run.backup`. On failure: nginx untouched; the state file may hold `pending`, which a rerun finds with the
 * config unchanged and switches as usual.
 */
export async function recordIntentAndBackUp(
  run: SwitchRun,
  routing: Routing,
  state: LiveState | undefined,
): Promise<BackupEntry> {
  const { options, target } = run;
  const originalLink = routing.socket?.linkTarget === null ? null : routing.live;
  return runPhase(
    run,
    'backup',
    `backing up ${routing.configPath}`,
    async () => {
      await writeState(run.stateFile, {
        ...liveState(run.from ?? null, state, routing.method, state?.versions),
        pending: {
          from: run.from ?? null,
          to: target,
          startedAt: new Date().toISOString(),
          pid: process.pid,
          host: currentHost(),
        },
      });
      const backup = await createBackup({
        backupDir: run.backupDir,
        configFile: routing.configPath,
        configText: routing.text,
        ...(routing.socket ? { liveLink: originalLink } : {}),
        ...(options.keepBackups === undefined ? {} : { keep: options.keepBackups }),
      });
      run.backup = backup;
      return backup;
    },
    (entry) => `backed up to ${entry.configPath}`,
  );
}

/**
 * After a failed or undone switch: records `live` (else what the state said) as live without `pending`, or
 * removes the state file when neither names an environment (a first switch). On failure: the state file as it
 * was, `pending` included, so a rerun converges.
 */
export async function settleState(
  run: SwitchRun,
  live: Environment | undefined,
  state: LiveState | undefined,
  method: SwitchMethod,
): Promise<void> {
  const recorded = live ?? state?.live ?? null;
  if (recorded === null) {
    await removeState(run.stateFile);
    return;
  }
  await writeState(run.stateFile, liveState(recorded, state, method, state?.versions));
}

/**
 * Phase `record`: the target is live since now, the previous one `run.from`, versions merged, no `pending`.
 * On failure: nginx routes to the target, the state file still holds `pending`: a rerun finds the target live
 * and the switch pending, verifies again and records.
 */
export async function recordLive(run: SwitchRun, state: LiveState | undefined, method: SwitchMethod): Promise<void> {
  const { target } = run;
  await runPhase(run, 'record', `recording ${target} as live`, async () => {
    await writeState(run.stateFile, {
      ...liveState(target, state, method, run.options.versions),
      since: new Date().toISOString(),
      previous: run.from ?? null,
    });
  });
}
