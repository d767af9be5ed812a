import { type Environment, isEnvironment, otherEnvironment, RelError } from '@rel/core';
import { type DockerClient, findContainers } from '@rel/docker';
import type { LiveEnvironment } from '@rel/nginx-switch';
import type { RelConfig } from './config/schema.js';
import { readLive } from './flows/switch.js';
import { describeOpenRelease, findOpenRelease } from './release/open.js';

/** Which environment takes the traffic, as nginx routes it, and whether it serves. */
export interface LiveView {
  /** The environment nginx routes to; undefined when it routes to neither (or there is no nginx section). */
  routed: Environment | undefined;
  /** Whether `routed` runs an API container: an environment nginx routes to but that runs nothing is not live. */
  serving: boolean;
  /** The live environment: `routed` when it serves, else undefined (nothing is live yet). */
  live: Environment | undefined;
  /** The idle environment: the one nginx does not route to (blue when it routes to neither). */
  idle: Environment;
  /** What rel recorded (since when, the environment before, a switch left half-done). */
  state: LiveEnvironment | undefined;
}

/** Reads nginx's routing and the engine: which environment is live, which is idle. */
export async function readLiveView(config: RelConfig, docker: DockerClient): Promise<LiveView> {
  const state = await readLive(config);
  const routed = state?.live;
  const serving =
    routed !== undefined &&
    (await findContainers(docker, { project: config.project, environment: routed, role: 'api' })).some(
      (c) => c.state === 'running',
    );
  return {
    routed,
    serving,
    live: serving ? routed : undefined,
    idle: routed ? otherEnvironment(routed) : 'blue',
    state,
  };
}

/** What an operator may type for an environment: `blue`, `green`, or `idle` and `live` (resolved from nginx). */
export type EnvironmentName = Environment | 'idle' | 'live';

/** Checks an environment name without reading anything; anything else is one BAD_INPUT line naming it. */
export function parseEnvironmentName(value: string | undefined, what = 'environment'): EnvironmentName {
  if (isEnvironment(value) || value === 'idle' || value === 'live') return value;
  const shown = value === undefined ? 'nothing' : JSON.stringify(value);
  throw new RelError('BAD_INPUT', `unknown ${what} ${shown}: expected blue, green, idle or live`);
}

/** `blue`/`green` as they are; `idle`/`live` resolved (reading `view` only then); anything else BAD_INPUT. */
export async function resolveEnvironment(
  value: string | undefined,
  view: () => Promise<LiveView>,
  what = 'environment',
): Promise<Environment> {
  const name = parseEnvironmentName(value, what);
  if (isEnvironment(name)) return name;
  const v = await view();
  if (name === 'idle') return v.idle;
  if (v.live) return v.live;
  throw new RelError(
    'BAD_INPUT',
    v.routed
      ? `nothing is live yet: nginx routes to ${v.routed}, which runs no API (name blue or green)`
      : 'nothing is live yet: nginx routes to neither environment (name blue or green)',
  );
}

export interface TargetGuardOptions {
  config: RelConfig;
  docker: DockerClient;
  env: Environment;
  /** What the operator asked for, for the message: `deploy backend`. */
  action: string;
  /** Allow the live environment (and an environment a release is using). */
  force: boolean;
  /** The live view, if read already. */
  view?: LiveView;
}

/**
 * The single-step commands that replace what an environment runs (deploy, migrate, restore, replicate into it)
 * refuse the live environment unless forced, and refuse to change environments under an open release (paused
 * for approval, or watching production with the other environment as its way back).
 */
export async function guardTarget(options: TargetGuardOptions): Promise<LiveView> {
  const { config, docker, env, action, force } = options;
  const view = options.view ?? (await readLiveView(config, docker));
  if (force) return view;
  if (view.live === env) {
    throw new RelError(
      'BAD_INPUT',
      `refusing to ${action} ${env}: it is the live environment (nginx routes its traffic to it); use the idle environment ${otherEnvironment(env)} ("idle"), or pass --force if you mean to change production`,
    );
  }
  const open = await findOpenRelease(config.stateDir);
  if (open && open.record.status !== 'interrupted') {
    throw new RelError(
      'LOCKED',
      `refusing to ${action} ${env}: ${describeOpenRelease(open)}; pass --force to do it all the same`,
      { details: { release: open.record.id } },
    );
  }
  return view;
}
