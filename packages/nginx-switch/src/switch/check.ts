// The checks before a switch: nothing is touched until all of them pass.
import { dirname, join } from 'node:path';
import { errorMessage, log, RelError } from '@rel/core';
import { ensureWritableDir } from '../atomic-write.js';
import { lintReloadSafety } from '../lint.js';
import { readNginxPid } from '../nginx-process.js';
import { checkSocketListening } from '../socket-route.js';
import { readState } from '../state.js';
import { liveMismatch, type Routing, readRouting } from '../status.js';
import type { LintWarning, LiveMismatch, LiveState } from '../types.js';
import { checkNginxAnswers } from '../verify.js';
import type { TargetCheck } from './options.js';
import { pick, runPhase, type SwitchRun } from './run.js';

/** What the checks found. */
export interface CheckedRouting {
  routing: Routing;
  /** The state file; `undefined` when missing or unreadable (a `warn` event says which). */
  state: LiveState | undefined;
  warnings: LintWarning[];
  mismatch: LiveMismatch | undefined;
}

/**
 * Phase `check`: reads the config and works out the routing, checks that the state, audit, backup (and socket)
 * directories are writable, lints the config for reload safety (`warn` events), reads the state file (the config
 * wins when they disagree), checks the pid file names a running nginx and that nginx answers on every URL.
 * Sets `run.routing` and `run.auditReady` as it learns them. On failure: nothing touched (missing directories
 * may have been created); the audit log gets a `refused` line only once its directory is known to be writable.
 */
export async function checkBeforeSwitching(run: SwitchRun): Promise<CheckedRouting> {
  const { options, sink, target } = run;
  return runPhase(run, 'check', `checking before switching to ${target}`, async () => {
    const routing = await readRouting(options);
    run.routing = routing;
    await ensureWritableDir(run.stateDir, 'state directory');
    await ensureWritableDir(dirname(run.auditFile), 'audit log directory');
    await ensureWritableDir(run.backupDir, 'backup directory');
    if (routing.socket) await ensureWritableDir(routing.socket.socketDir, 'socket directory');
    run.auditReady = true;
    const warnings = lintReloadSafety(routing.text, { upstreams: options.upstreams, method: routing.method });
    for (const warning of warnings) log(sink, 'warn', `${warning.message}; fix: ${warning.fix}`, 'nginx:check');
    const state = await readState(run.stateFile).catch((error: unknown) => {
      log(sink, 'warn', `${errorMessage(error)}; relying on the nginx config`, 'nginx:check');
      return undefined;
    });
    const mismatch = liveMismatch(state, routing.live);
    if (mismatch) {
      log(
        sink,
        'warn',
        `state file says ${mismatch.state ?? 'unknown'} is live, the nginx config says ${mismatch.config ?? 'neither'} (${routing.detail}): going by the config`,
        'nginx:check',
      );
    }
    const pidFile = options.pidFile ?? (run.reload.kind === 'signal' ? run.reload.pidFile : undefined);
    if (pidFile !== undefined) await readNginxPid(pidFile);
    for (const url of run.urls) {
      await checkNginxAnswers(url, {
        ...pick(options, ['dispatcher', 'signal']),
        ...(options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs }),
      });
    }
    return { routing, state, warnings, mismatch };
  });
}

/**
 * Phase `check`, second part: in socket mode nginx listens on each of the target's sockets (else UNREACHABLE),
 * and the caller's `checkTarget` passes (else UNHEALTHY with its reason; skipped with `skipTargetCheck`).
 * On failure: nothing touched.
 */
export async function checkTargetCanTakeTraffic(run: SwitchRun, routing: Routing): Promise<void> {
  const { options, target } = run;
  await runPhase(run, 'check', `checking ${target} can take traffic`, async () => {
    if (routing.socket) {
      for (const file of Object.values(routing.socket.sockets)) {
        const path = join(routing.socket.socketDir, target, file);
        await checkSocketListening(path).catch((error: unknown) => {
          throw new RelError(
            'UNREACHABLE',
            `${target}'s internal nginx server is not up: ${errorMessage(error)}; add it (renderSocketRoutingConfig) and reload nginx once`,
          );
        });
      }
    }
    if (options.skipTargetCheck || !options.checkTarget) return;
    let check: TargetCheck;
    try {
      check = await options.checkTarget(target);
    } catch (error) {
      check = { ok: false, reason: errorMessage(error) };
    }
    if (!check.ok) {
      throw new RelError('UNHEALTHY', `${target} is not healthy: ${check.reason ?? 'the target check failed'}`);
    }
  });
}

/** Who left a switch unfinished, from the state file's `pending`. */
export function describePending(state: LiveState | undefined): string {
  const pending = state?.pending;
  if (!pending) return 'an earlier run';
  return `pid ${pending.pid} on ${pending.host} (started ${pending.startedAt})`;
}
