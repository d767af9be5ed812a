// Routing nginx to an environment: rewrite, test and reload the config, or flip the live symlink.
import { type Environment, errorMessage, log, RelError } from '@rel/core';
import { writeFileAtomic } from '../atomic-write.js';
import { routeConfig } from '../config-edit.js';
import { reloadNginx, testNginxConfig } from '../nginx-process.js';
import { LIVE_LINK, pointLiveLink } from '../socket-route.js';
import type { Routing } from '../status.js';
import type { LiveState, ReloadMethod } from '../types.js';
import type { SwitchTrafficOptions } from './options.js';
import { settleState } from './record.js';
import { appendAudit, asRelError, pick, runPhase, type SwitchRun } from './run.js';

/** What nginx is told to go back to if the target fails: the original bytes, or the old link. */
export interface Fallback {
  /** The environment live before; `undefined` on a first switch (nothing to go back to but the old config). */
  env: Environment | undefined;
  /** Reload method: the config text that routes to `env`. */
  text: string;
}

/**
 * Where to go back to. A fresh switch goes back to the config as it was. A resumed one (a previous run stopped
 * after routing to the target) goes back to `run.from`: the config routed there again.
 */
export function fallbackOf(run: SwitchRun, routing: Routing, resumed: boolean): Fallback {
  if (!resumed) return { env: routing.live, text: routing.text };
  return { env: run.from, text: routeBack(routing, run.options, run.from!) };
}

/**
 * Phases `flip` (socket: point the live link at `env`), or `write` (only when `text` is given), `test` and
 * `reload` (reload method). On failure: whatever the failed step left (the caller undoes it).
 */
async function routeTo(run: SwitchRun, routing: Routing, env: Environment, text: string | undefined): Promise<void> {
  if (routing.method === 'socket') {
    await runPhase(run, 'flip', `pointing ${LIVE_LINK} at ${env}`, () => pointLiveLink(routing.socket!.socketDir, env));
    return;
  }
  if (text !== undefined) {
    await runPhase(run, 'write', `writing ${routing.configPath}`, () => writeFileAtomic(routing.configPath, text));
  }
  await runPhase(run, 'test', `testing the nginx config (${run.testCommand.join(' ')})`, () =>
    testNginxConfig(run.testCommand, run.commandOptions),
  );
  await runPhase(run, 'reload', `reloading nginx (${describeReload(run.reload)})`, () =>
    reloadNginx(run.reload, run.commandOptions),
  );
}

/**
 * Routes nginx to the target: socket, flips the live link; reload, rewrites the upstream servers (and the
 * environment header), tests the config and reloads (a config already routed there is not rewritten). Returns what
 * changed. On failure it undoes and throws the error, its message saying what was undone, after a `failed` audit
 * line: the config file's original bytes are back (nginx not reloaded with them) or the live link points back
 * at `fallback.env`, and unless the run was resumed the state file names the old environment, without `pending`.
 * If undoing fails too, the message names the backup. Killed half-way: the config may route to the target with
 * `pending` in the state file; a rerun resumes the switch.
 */
export async function applyRouting(
  run: SwitchRun,
  routing: Routing,
  fallback: Fallback,
  resumed: boolean,
  state: LiveState | undefined,
): Promise<string[]> {
  const { options, target } = run;
  const { method } = routing;
  const changes: string[] = [];
  try {
    if (method === 'socket') {
      await routeTo(run, routing, target, undefined);
      changes.push(`${routing.socket!.socketDir}/${LIVE_LINK} -> ${target}`);
    } else {
      const routed = routeConfig(routing.text, {
        upstreams: options.upstreams,
        addresses: options.addresses ?? {},
        target,
        ...pick(options, ['header']),
        source: routing.configPath,
      });
      if (routed.droppedComments > 0) {
        log(
          run.sink,
          'warn',
          `rewriting drops ${routed.droppedComments} comment(s) that follow the last directive of a block (nginx-conf keeps only comments before a directive); the original is in ${run.backup!.configPath}`,
        );
      }
      changes.push(...routed.changes);
      await routeTo(run, routing, target, routed.changed ? routed.text : undefined);
    }
    return changes;
  } catch (error) {
    const failure = asRelError(error);
    let undone: string;
    try {
      if (method === 'reload') {
        await writeFileAtomic(routing.configPath, routing.text);
        undone = `${routing.configPath} restored, nginx not reloaded`;
      } else {
        if (fallback.env) await pointLiveLink(routing.socket!.socketDir, fallback.env);
        undone = `${LIVE_LINK} left at ${fallback.env ?? 'where it was'}`;
      }
      if (!resumed) {
        await settleState(run, fallback.env, state, method);
        undone += `; ${fallback.env ?? 'the old routing'} still serving`;
      }
    } catch (undoError) {
      undone = `undoing failed too: ${errorMessage(undoError)}; the backup is ${run.backup?.configPath}`;
    }
    const wrapped = new RelError(failure.code, `${failure.message} (${undone})`, {
      cause: error,
      details: { result: 'failed', from: fallback.env ?? null, to: target, method, backup: run.backup?.configPath },
    });
    await appendAudit(run, 'failed', wrapped);
    throw wrapped;
  }
}

/** The config routed to `env` (reload method); socket mode keeps the config as it is. */
function routeBack(routing: Routing, options: SwitchTrafficOptions, env: Environment): string {
  if (routing.method === 'socket') return routing.text;
  return routeConfig(routing.text, {
    upstreams: options.upstreams,
    addresses: options.addresses ?? {},
    target: env,
    ...pick(options, ['header']),
    source: routing.configPath,
  }).text;
}

/** The reload method for messages: the command, the signal and pid file, or the docker command. */
export function describeReload(reload: ReloadMethod): string {
  if (reload.kind === 'command') return reload.command.join(' ');
  if (reload.kind === 'signal') return `SIGHUP to the pid in ${reload.pidFile}`;
  return `${reload.dockerBin ?? 'docker'} kill -s HUP ${reload.container}`;
}
