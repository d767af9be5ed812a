// After nginx routes to the target: verify through the public URL(s), else switch back.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, RelError } from '@rel/core';
import { writeFileAtomic } from '../atomic-write.js';
import { reloadNginx, testNginxConfig } from '../nginx-process.js';
import { LIVE_LINK, pointLiveLink } from '../socket-route.js';
import type { Routing } from '../status.js';
import type { LiveState, SwitchMethod } from '../types.js';
import { type VerificationResult, verifyEnvironment } from '../verify.js';
import type { Fallback } from './apply.js';
import { settleState } from './record.js';
import { appendAudit, pick, RELOAD_SETTLE_MS, runPhase, type SwitchRun } from './run.js';

/** How long good answers must keep coming: `verifySettleMs`, else 500 ms for the reload method, 0 for socket. */
export function settleMsOf(run: SwitchRun, method: SwitchMethod): number {
  return run.options.verifySettleMs ?? (method === 'reload' ? RELOAD_SETTLE_MS : 0);
}

/**
 * Phase `verify`: the target answers through every URL, `verifyConsecutive` times in a row over the settle
 * time. Never throws: a failed verification, or an error on the way, is `ok: false` with what was seen.
 * Leaves nginx routed to the target and the state file's `pending` in place (a kill here: a rerun resumes).
 */
export async function verifyTarget(run: SwitchRun, method: SwitchMethod): Promise<VerificationResult> {
  const { options, target } = run;
  return runPhase(
    run,
    'verify',
    `verifying ${target} answers through ${run.urls.join(', ')}`,
    () =>
      verifyEnvironment({
        ...run.verifyOptions,
        settleMs: settleMsOf(run, method),
        ...pick(options, ['signal']),
        environment: target,
      }).catch(
        (error: unknown): VerificationResult => ({
          ok: false,
          environment: target,
          requests: 0,
          durationMs: 0,
          seen: 'nothing',
          reason: errorMessage(error),
        }),
      ),
    (result) => `${result.ok ? 'verified' : 'not verified'}: ${result.seen}`,
  );
}

/**
 * Phase `switch-back`, after a failed verification: routes nginx back to `fallback` (socket: the live link back,
 * or removed on a first switch; reload: the fallback config written, tested and reloaded, none of it cut short by
 * the caller's abort signal) and verifies the old environment answers; then records it in the state file
 * (without `pending`). Always throws STEP_FAILED saying what the target answered and how switching back went,
 * after an audit line (`switched-back`, or `failed` when the old environment does not verify either). If
 * switching back fails: STEP_FAILED saying so, nginx as that step left it and `pending` still in the state
 * file, so a rerun converges.
 */
export async function switchBack(
  run: SwitchRun,
  routing: Routing,
  fallback: Fallback,
  verification: VerificationResult,
  state: LiveState | undefined,
): Promise<never> {
  const { target } = run;
  const { method } = routing;
  const fallbackEnv = fallback.env;
  const saw = `${verification.reason}; got ${verification.seen}`;
  let back: VerificationResult | undefined;
  try {
    await runPhase(run, 'switch-back', `switching back to ${fallbackEnv ?? 'the old routing'}`, async () => {
      if (method === 'socket') {
        if (fallbackEnv) await pointLiveLink(routing.socket!.socketDir, fallbackEnv);
        else await unlink(join(routing.socket!.socketDir, LIVE_LINK)).catch(() => undefined);
      } else {
        await writeFileAtomic(routing.configPath, fallback.text);
        await testNginxConfig(run.testCommand, run.undoCommandOptions);
        await reloadNginx(run.reload, run.undoCommandOptions);
      }
      if (fallbackEnv) {
        back = await verifyEnvironment({
          ...run.verifyOptions,
          settleMs: settleMsOf(run, method),
          environment: fallbackEnv,
        });
      }
    });
  } catch (error) {
    const wrapped = new RelError(
      'STEP_FAILED',
      `${target} failed verification (${saw}) and switching back failed too: ${errorMessage(error)}`,
      { cause: error, details: { result: 'failed', from: fallbackEnv ?? null, to: target, method } },
    );
    await appendAudit(run, 'failed', wrapped);
    throw wrapped;
  }
  await settleState(run, fallbackEnv, state, method);
  const backOk = back === undefined || back.ok;
  const outcome = backOk
    ? `switched back to ${fallbackEnv ?? 'the old routing'}${back ? ', which answers' : ''}`
    : `switched back to ${fallbackEnv}, but it does not verify either (${back!.seen})`;
  const wrapped = new RelError('STEP_FAILED', `${target} failed verification: ${saw}; ${outcome}`, {
    details: {
      result: backOk ? 'switched-back' : 'failed',
      from: fallbackEnv ?? null,
      to: target,
      method,
      verification,
      ...(back ? { switchBackVerification: back } : {}),
    },
  });
  await appendAudit(run, backOk ? 'switched-back' : 'failed', wrapped);
  throw wrapped;
}
