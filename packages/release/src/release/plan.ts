import { formatDuration, RelError } from '@rel/core';
import { type DockerClient, findContainers, validateTag } from '@rel/docker';
import type { RelConfig } from '../config/schema.js';
import { type LiveView, readLiveView } from '../environments.js';
import { requireNginx } from '../flows/switch.js';
import { currentUser, thisProcess } from '../lock.js';
import {
  type CiBuild,
  newReleaseId,
  RELEASE_STEPS,
  type ReleaseRecord,
  type ReleaseRunner,
  type ReleaseStepId,
  type ReleaseStepRecord,
} from './journal.js';

/** What an operator (or a pipeline) asks `rel release` for. */
export interface ReleaseRequest {
  /** The version of both components (the image tag), unless `backend`/`frontend` say otherwise. */
  version?: string;
  backend?: string;
  frontend?: string;
  /** The seed's single-component pipelines: only this component changes; the other keeps the live version. */
  only?: 'backend' | 'frontend';
  /** Copy the live database into the idle environment first. Default `release.replicate`. */
  replicate?: boolean;
  /** Watch production this long after the switch; 0 skips it. Default `release.monitor`. */
  monitorMs?: number;
  /** Default `release.monitorInterval`. */
  monitorIntervalMs?: number;
  /** Stop once the idle environment is verified, until `rel release promote`. */
  pauseBeforeSwitch?: boolean;
}

export interface ReleasePlan {
  view: LiveView;
  record: ReleaseRecord;
}

/**
 * Works out a release from the request and the live state, and the record it starts with: which environment it
 * goes to (the idle one, never the live one), which versions (the live one's for the component `only` leaves
 * alone), which steps run and which are skipped and why. Changes nothing. BAD_INPUT for what cannot be released.
 */
export async function planRelease(
  config: RelConfig,
  docker: DockerClient,
  request: ReleaseRequest,
  options: { ci?: CiBuild; command?: string } = {},
): Promise<ReleasePlan> {
  requireNginx(config);
  for (const [what, value] of [
    ['version', request.version],
    ['--backend version', request.backend],
    ['--frontend version', request.frontend],
  ] as const) {
    if (value !== undefined) validateTag(value, what);
  }
  const view = await readLiveView(config, docker);
  if (view.routed === undefined && view.state?.stateProblem) {
    throw new RelError('CONFIG', `cannot tell which environment is live: ${view.state.stateProblem}`);
  }
  if (view.routed === undefined && view.state?.mismatch) {
    throw new RelError(
      'STEP_FAILED',
      `cannot tell which environment is live: nginx routes to neither (a switch left half-done?); finish it with rel switch <env> first`,
    );
  }
  const versions = await releaseVersions(config, docker, request, view);
  const target = view.idle;
  const from = view.live ?? null;
  const replicate = request.replicate ?? config.release.replicate;
  const monitorMs = request.monitorMs ?? config.release.monitorMs;
  const monitorIntervalMs = request.monitorIntervalMs ?? config.release.monitorIntervalMs;
  const pauseBeforeSwitch = request.pauseBeforeSwitch ?? false;
  if (monitorMs > 0 && monitorIntervalMs > monitorMs) {
    throw new RelError(
      'BAD_INPUT',
      `the watch after the switch (${formatDuration(monitorMs)}) is shorter than the interval between its checks (${formatDuration(monitorIntervalMs)}): watch longer (--monitor) or check more often (--monitor-interval, release.monitorInterval)`,
    );
  }
  const now = new Date();
  const runner = runnerRecord(options.command ?? 'release', now);
  const checks = config.release.checks.length;
  const step = (id: ReleaseStepId, title: string, skipped?: string): ReleaseStepRecord => ({
    id,
    title,
    status: skipped === undefined ? 'pending' : 'skipped',
    attempts: 0,
    ...(skipped === undefined ? {} : { summary: skipped }),
  });
  const steps: ReleaseStepRecord[] = [
    step('pull', `pull the images of backend ${versions.backend} and frontend ${versions.frontend}`),
    step('deploy-backend', `deploy backend ${versions.backend} to ${target}`),
    step(
      'replicate',
      from ? `copy ${from}'s database into ${target}` : `copy the live database into ${target}`,
      !replicate
        ? 'not asked (--replicate, or release.replicate: true)'
        : from
          ? undefined
          : 'nothing is live to copy from (first release)',
    ),
    step('migrate', `migrate ${target}'s database`),
    step('deploy-frontend', `deploy frontend ${versions.frontend} to ${target}`),
    step('checks', `check ${target} before the switch (health${checks ? `, ${checks} check command(s)` : ''})`),
    step(
      'approval',
      'wait for approval (rel release promote)',
      pauseBeforeSwitch ? undefined : 'not asked (--pause-before-switch)',
    ),
    step('switch', `switch traffic ${from ? `from ${from} ` : ''}to ${target}`),
    step(
      'monitor',
      `watch ${target} for ${formatDuration(monitorMs)}, a check every ${formatDuration(monitorIntervalMs)}${
        from ? `; on a breach roll back to ${from}` : ''
      }`,
      monitorMs === 0 ? 'not asked (--monitor 0)' : undefined,
    ),
  ];
  if (steps.map((s) => s.id).join() !== RELEASE_STEPS.join()) throw new Error('release steps out of order');
  const record: ReleaseRecord = {
    schema: 1,
    id: newReleaseId(now),
    project: config.project,
    versions,
    ...(request.only ? { only: request.only } : {}),
    target,
    from,
    options: { replicate, monitorMs, monitorIntervalMs, pauseBeforeSwitch },
    ...(options.ci && Object.keys(options.ci).length > 0 ? { ci: options.ci } : {}),
    startedBy: { user: runner.user, host: runner.host },
    startedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    status: 'running',
    runner,
    runs: [runner],
    steps,
  };
  return { view, record };
}

export function runnerRecord(command: string, now = new Date()): ReleaseRunner {
  return { user: currentUser(), ...thisProcess(), command, at: now.toISOString() };
}

async function releaseVersions(
  config: RelConfig,
  docker: DockerClient,
  request: ReleaseRequest,
  view: LiveView,
): Promise<{ backend: string; frontend: string }> {
  const { only, version } = request;
  let backend = request.backend ?? version;
  let frontend = request.frontend ?? version;
  if (only) {
    const other = only === 'backend' ? 'frontend' : 'backend';
    if (request[other] !== undefined) {
      throw new RelError('BAD_INPUT', `--only ${only} keeps the live ${other}: drop --${other}, or drop --only`);
    }
    if (!view.live) {
      throw new RelError(
        'BAD_INPUT',
        `--only ${only}: nothing is live to keep the ${other} of; the first release needs both (rel release <version>)`,
      );
    }
    const role = other === 'backend' ? 'api' : 'client';
    const running = (await findContainers(docker, { project: config.project, environment: view.live, role })).find(
      (c) => c.state === 'running' && c.version,
    );
    if (!running) {
      throw new RelError(
        'BAD_INPUT',
        `--only ${only}: ${view.live} (live) runs no ${other} to keep; release both (rel release <version>)`,
      );
    }
    if (other === 'backend') backend = running.version;
    else frontend = running.version;
  }
  if (backend === undefined || frontend === undefined) {
    const missing = backend === undefined ? 'backend' : 'frontend';
    throw new RelError(
      'BAD_INPUT',
      `no ${missing} version: give one version for both (rel release v2), or --backend and --frontend`,
    );
  }
  validateTag(backend, 'backend version');
  validateTag(frontend, 'frontend version');
  return { backend, frontend };
}

/** The steps a release would run, one line each, for --dry-run. */
export function describePlan(plan: ReleasePlan): string[] {
  const { record, view } = plan;
  const live = view.live
    ? `${view.live}${view.state?.since ? ` since ${view.state.since}` : ''}`
    : view.routed
      ? `nothing (nginx routes to ${view.routed}, which runs no API)`
      : 'nothing';
  return [
    `live: ${live}; the release goes to ${record.target}, the idle environment`,
    ...record.steps.map((s, i) => `  ${i + 1}. ${s.status === 'skipped' ? `(skipped: ${s.summary}) ` : ''}${s.title}`),
  ];
}
