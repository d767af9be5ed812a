import { log, otherEnvironment } from '@rel/core';
import { applyRouting, fallbackOf } from './switch/apply.js';
import { checkBeforeSwitching, checkTargetCanTakeTraffic, describePending } from './switch/check.js';
import { switchBack, verifyTarget } from './switch/confirm.js';
import type { SwitchResult, SwitchTrafficOptions } from './switch/options.js';
import { recordIntentAndBackUp, recordLive, repairStateOfLiveTarget } from './switch/record.js';
import { appendAudit, refuseOnFailure, startSwitch } from './switch/run.js';

export type { SwitchResult, SwitchTrafficOptions, TargetCheck } from './switch/options.js';
export { RELOAD_SETTLE_MS } from './switch/run.js';

/**
 * Moves traffic to `target`: checks (config, upstreams, writable state, nginx running, target health) before
 * touching anything, records the intent in the state file, backs up, applies (reload: rewrite upstreams +
 * header, `nginx -t`, reload; socket: flip the live symlink), verifies through the public URL and, if that
 * fails, switches back and throws STEP_FAILED. Records the state and appends an audit line. A run stopped at
 * any point (even SIGKILL) leaves the old or the new routing complete and a valid state file; running it
 * again converges. Each phase (in `switch/`) says what it leaves behind when it fails.
 */
export async function switchTraffic(options: SwitchTrafficOptions): Promise<SwitchResult> {
  const run = startSwitch(options);
  const { target, sink, durations } = run;
  const { routing, state, warnings, mismatch } = await refuseOnFailure(run, () => checkBeforeSwitching(run));
  const { method } = routing;
  run.from = routing.live;

  if (routing.live === target && !state?.pending) {
    const stateRepaired = await repairStateOfLiveTarget(run, state, method);
    log(sink, 'info', `${target} is already live (${routing.detail})`);
    await appendAudit(run, 'unchanged');
    const result = { changed: false, from: target, to: target, method, ...(mismatch ? { mismatch } : {}) };
    return { ...result, resumed: false, stateRepaired, warnings, changes: [], durations };
  }

  // A previous run stopped after routing to the target: finish it (reload again, verify, record).
  const resumed = routing.live === target;
  if (resumed) {
    run.from = otherEnvironment(target);
    log(sink, 'info', `finishing the switch to ${target} that ${describePending(state)} left unfinished`);
  }
  await refuseOnFailure(run, () => checkTargetCanTakeTraffic(run, routing));

  // From here on nginx may change; a rerun finds `pending` in the state file and converges.
  const backup = await recordIntentAndBackUp(run, routing, state);
  const fallback = fallbackOf(run, routing, resumed);
  const changes = await applyRouting(run, routing, fallback, resumed, state);
  const verification = await verifyTarget(run, method);
  if (!verification.ok) await switchBack(run, routing, fallback, verification, state);
  await recordLive(run, state, method);
  await appendAudit(run, 'switched');
  return {
    changed: true,
    from: run.from,
    to: target,
    method,
    ...(mismatch ? { mismatch } : {}),
    resumed,
    stateRepaired: false,
    backup,
    verification,
    warnings,
    changes,
    durations,
  };
}
