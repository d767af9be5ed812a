import { type EventSink, errorMessage, formatDuration, log, RelError, type RelEvent } from '@rel/core';
import type { DockerClient } from '@rel/docker';
import type { RelConfig } from '../config/schema.js';
import { readLiveView } from '../environments.js';
import type { MonitorLiveResult } from '../flows/monitor.js';
import { acquireReleaseLock, type ReleaseLock } from '../lock.js';
import { announce } from '../notify/announce.js';
import type { NotificationSeverity } from '../notify/targets.js';
import {
  type CiBuild,
  findRecord,
  type ReleaseRecord,
  type ReleaseStatus,
  type ReleaseStepId,
  type ReleaseStepRecord,
  writeRecord,
} from './journal.js';
import { describeOpenRelease, findOpenRelease, type OpenRelease, refuseOpenRelease, versionText } from './open.js';
import { planRelease, type ReleaseRequest, runnerRecord } from './plan.js';
import { describeLeft, STEP_RUNNERS } from './steps.js';

export interface ReleaseContext {
  config: RelConfig;
  docker: DockerClient;
  /** Every event of the release; each carries `release: { id, step }`. */
  onEvent: EventSink;
  /** Aborting it interrupts the release: the step under way stops, the journal says where, `resume` goes on. */
  signal?: AbortSignal;
  /** The CI build running this command (Jenkins' BUILD_URL and friends), for the record and notifications. */
  ci?: CiBuild;
  /**
   * For crash tests: this process kills itself with SIGKILL as that step starts (its start written to the
   * journal), so a test can prove that `resume` converges from exactly there.
   */
  crashAtStep?: ReleaseStepId;
  /**
   * Stop after this step (done or skipped) and hold the release: status `held`, resumed by `resumeRelease` (or
   * `promoteRelease` after the approval). A pipeline runs one step or a few per stage this way; the journal ties
   * its stages into one release, and another release is refused meanwhile.
   */
  until?: ReleaseStepId;
}

/** How a run of a release ended (this run: a paused or interrupted release goes on later). */
export interface ReleaseOutcome {
  record: ReleaseRecord;
  status: ReleaseStatus;
  /** One line. */
  message: string;
  /** The step that failed, and why. */
  failure?: { step: string; code: string; message: string; left?: string };
  /** The watch after the switch, when it ran in this run. */
  monitor?: MonitorLiveResult;
}

/** What every event of a release carries besides the event itself. */
export interface ReleaseEventContext {
  release: { id: string; step: string };
}

export type ReleaseEvent = RelEvent & ReleaseEventContext;

/** Release-level step events use this step name (the flows' own steps keep theirs): `release/deploy-backend`. */
export const RELEASE_STEP_PREFIX = 'release/';

/**
 * `rel release`: takes the release lock, refuses while another release is open, records the new release and
 * runs it: pull, deploy backend, replicate, migrate, deploy frontend, checks, (approval), switch, monitor, each
 * step written to the journal before and after it runs.
 */
export async function startRelease(
  context: ReleaseContext,
  request: ReleaseRequest,
  options: { command?: string } = {},
): Promise<ReleaseOutcome> {
  const { config } = context;
  const command = options.command ?? 'release';
  await using lock = await takeLock(
    context,
    `${command} ${request.version ?? request.backend ?? request.frontend ?? ''}`,
  );
  await refuseOpenRelease(config.stateDir);
  const { record } = await planRelease(config, context.docker, request, {
    ...(context.ci ? { ci: context.ci } : {}),
    command,
  });
  await writeRecord(config.stateDir, record);
  log(
    releaseSink(context.onEvent, record.id, 'release'),
    'info',
    `release ${record.id}: ${versionText(record)} to ${record.target} (journal ${config.stateDir}/releases/${record.id}.json)`,
  );
  await announceRelease(
    context,
    record,
    'info',
    'started',
    `Release ${versionText(record)} to ${record.target} started.`,
  );
  // awaited: `await using` releases the lock as this function returns
  return await drive(context, record, lock);
}

/** `rel release resume`: the interrupted or held release (or `id`) goes on from its first unfinished step. */
export async function resumeRelease(
  context: ReleaseContext,
  options: { id?: string; command?: string } = {},
): Promise<ReleaseOutcome> {
  const command = options.command ?? 'resume';
  await using lock = await takeLock(context, `release ${command}`);
  const record = await openRecord(context, options.id, 'resume', ['interrupted', 'held']);
  return await drive(context, restarted(record, command), lock);
}

/**
 * `rel release promote`: the release paused before its switch (or `id`) is approved and goes on. `approvedBy`
 * names who approved it when that is not this process's user (a pipeline's `input` step answers for a person).
 */
export async function promoteRelease(
  context: ReleaseContext,
  options: { id?: string; approvedBy?: string; command?: string } = {},
): Promise<ReleaseOutcome> {
  const command = options.command ?? 'promote';
  await using lock = await takeLock(context, `release ${command}`);
  const record = restarted(await openRecord(context, options.id, 'promote', ['paused']), command);
  record.approval = {
    by: options.approvedBy?.trim() || record.runner.user,
    host: record.runner.host,
    at: record.runner.at,
    ...(context.ci ? { ci: context.ci } : {}),
  };
  return await drive(context, record, lock);
}

/** `rel release abort`: ends the paused, held or interrupted release (or `id`); live traffic is not touched. */
export async function abortRelease(
  context: ReleaseContext,
  options: { id?: string; reason?: string; command?: string } = {},
): Promise<ReleaseOutcome> {
  const command = options.command ?? 'abort';
  await using _lock = await takeLock(context, `release ${command}`);
  const record = restarted(await openRecord(context, options.id, 'abort', ['paused', 'held', 'interrupted']), command);
  const switched = record.steps.find((s) => s.id === 'switch')?.status === 'done';
  for (const step of record.steps) {
    if (step.status === 'pending' || step.status === 'running') {
      step.status = 'skipped';
      step.summary = `not run: the release was aborted${options.reason ? ` (${options.reason})` : ''}`;
    }
  }
  const left = await describeLeft(context.config, context.docker, record);
  const message = `release ${record.id} aborted${options.reason ? `: ${options.reason}` : ''}; ${
    switched ? 'it had switched already, ' : ''
  }${left}`;
  await finish(context, record, 'aborted', message);
  await announceRelease(context, record, 'info', 'aborted', message);
  return { record, status: 'aborted', message };
}

async function takeLock(context: ReleaseContext, command: string): Promise<ReleaseLock> {
  return acquireReleaseLock({
    stateDir: context.config.stateDir,
    project: context.config.project,
    command,
    onEvent: context.onEvent,
  });
}

function openDetails(open: OpenRelease) {
  return { details: { release: open.record.id, status: open.record.status } };
}

/** The open release, which must be in one of `allowed`; else BAD_INPUT (nothing to do) or LOCKED (running). */
async function openRecord(
  context: ReleaseContext,
  id: string | undefined,
  verb: 'resume' | 'promote' | 'abort',
  allowed: ReleaseStatus[],
): Promise<ReleaseRecord> {
  const { stateDir } = context.config;
  const open = await findOpenRelease(stateDir);
  if (id !== undefined) {
    const named = await findRecord(stateDir, id);
    if (open?.record.id !== named.id) {
      throw new RelError(
        'BAD_INPUT',
        `cannot ${verb} release ${named.id}: it ended ${named.status}${named.outcome ? ` (${named.outcome})` : ''}`,
      );
    }
  }
  const what = {
    resume: 'interrupted or held',
    promote: 'paused for approval',
    abort: 'paused, held or interrupted',
  }[verb];
  if (!open)
    throw new RelError('BAD_INPUT', `nothing to ${verb}: no release is ${what} (rel history lists the releases)`);
  if (open.record.status === 'running') {
    throw new RelError('LOCKED', `cannot ${verb}: ${describeOpenRelease(open)}`, openDetails(open));
  }
  if (!allowed.includes(open.record.status)) {
    throw new RelError('BAD_INPUT', `nothing to ${verb}: ${describeOpenRelease(open)}`, openDetails(open));
  }
  return open.record;
}

function restarted(record: ReleaseRecord, command: string): ReleaseRecord {
  const runner = runnerRecord(command);
  return { ...record, status: 'running', runner, runs: [...record.runs, runner], updatedAt: runner.at };
}

/**
 * Runs the release's unfinished steps in order, up to `context.until` when it is set (the release is then held:
 * the next command of a pipeline goes on). The lock is held until the watch after the switch (which takes it again
 * only to roll back, so an operator's own rollback is never refused meanwhile).
 */
async function drive(context: ReleaseContext, record: ReleaseRecord, lock: ReleaseLock): Promise<ReleaseOutcome> {
  await refuseChangedLive(context, record);
  await writeRecord(context.config.stateDir, record);
  const run: DriveState = {};
  const last = record.steps.at(-1);
  for (const step of record.steps) {
    if (step.status !== 'done' && step.status !== 'skipped') {
      const ended = await runStep(context, record, step, lock, run);
      if (ended) return ended;
    }
    if (step.id === context.until && step !== last) {
      const message = `release ${record.id} held after step ${step.id}, as asked: rel release resume goes on, rel release abort ends it`;
      await save(context, record, 'held', message);
      return { record, status: 'held', message };
    }
  }
  const message = `release ${record.id}: ${versionText(record)} is live on ${record.target}${
    record.options.monitorMs > 0 ? ' and passed its watch' : ''
  }`;
  await finish(context, record, 'succeeded', message);
  await announceRelease(context, record, 'info', 'succeeded', message);
  return { record, status: 'succeeded', message, ...(run.monitor ? { monitor: run.monitor } : {}) };
}

/** What one run of the release learnt on the way: the watch's result, for the outcome. */
interface DriveState {
  monitor?: MonitorLiveResult;
}

/** Runs one unfinished step; returns the run's outcome when the release stops here (paused, interrupted, ended). */
async function runStep(
  context: ReleaseContext,
  record: ReleaseRecord,
  step: ReleaseStepRecord,
  lock: ReleaseLock,
  run: DriveState,
): Promise<ReleaseOutcome | undefined> {
  const { config, docker } = context;
  if (step.id === 'approval') {
    if (!record.approval) {
      step.summary = `awaiting approval since ${new Date().toISOString()}`;
      const message = `release ${record.id} is paused before the switch: ${record.target} runs ${versionText(record)}, verified; rel release promote switches traffic, rel release abort ends it`;
      await save(context, record, 'paused', message);
      return { record, status: 'paused', message };
    }
    step.status = 'done';
    step.summary = `approved by ${record.approval.by} on ${record.approval.host} at ${record.approval.at}`;
    step.finishedAt = record.approval.at;
    await writeRecord(config.stateDir, record);
    log(context.onEvent, 'info', step.summary, 'approval');
    return undefined;
  }
  if (context.signal?.aborted) {
    // stopped between steps (a step that finished despite the signal): the next one does not start
    const message = `release ${record.id} interrupted before step ${step.id}: rel release resume goes on from there, rel release abort ends it`;
    await save(context, record, 'interrupted', message);
    return { record, status: 'interrupted', message };
  }
  if (step.id === 'monitor') await lock.release();
  const onEvent = releaseSink(context.onEvent, record.id, step.id);
  const started = Date.now();
  step.status = 'running';
  step.attempts += 1;
  step.startedAt = new Date(started).toISOString();
  delete step.error;
  delete step.left;
  await writeRecord(config.stateDir, record);
  const name = `${RELEASE_STEP_PREFIX}${step.id}`;
  onEvent({ type: 'step:start', step: name, message: step.title, at: started });
  const failed = (at: number, error: { code: string; message: string }) =>
    onEvent({ type: 'step:fail', step: name, message: step.title, at, durationMs: at - started, error });
  if (context.crashAtStep === step.id) process.kill(process.pid, 'SIGKILL');
  try {
    const outcome = await STEP_RUNNERS[step.id]({
      config,
      docker,
      record,
      onEvent,
      notificationFields: notificationFields(record),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const at = Date.now();
    Object.assign(step, {
      finishedAt: new Date(at).toISOString(),
      durationMs: at - started,
      summary: outcome.summary,
      ...(outcome.changed === undefined ? {} : { changed: outcome.changed }),
    });
    run.monitor = outcome.monitor ?? run.monitor;
    if (outcome.rolledBack) {
      step.status = 'failed';
      step.error = { code: 'ROLLED_BACK', message: outcome.summary };
      failed(at, step.error);
      const message = `release ${record.id} rolled back: ${outcome.summary}`;
      await finish(context, record, 'rolled-back', message);
      return {
        record,
        status: 'rolled-back',
        message,
        failure: { step: step.id, ...step.error },
        ...(run.monitor ? { monitor: run.monitor } : {}),
      };
    }
    step.status = 'done';
    await writeRecord(config.stateDir, record);
    onEvent({ type: 'step:finish', step: name, message: outcome.summary, at, durationMs: at - started });
    return undefined;
  } catch (error) {
    const at = Date.now();
    const code = error instanceof RelError ? error.code : 'STEP_FAILED';
    const text = errorMessage(error);
    failed(at, { code, message: text });
    if (context.signal?.aborted || code === 'ABORTED') {
      step.status = 'pending';
      step.summary = `interrupted after ${formatDuration(at - started)}`;
      const message = `release ${record.id} interrupted at step ${step.id}: rel release resume goes on from there, rel release abort ends it`;
      await save(context, record, 'interrupted', message);
      return { record, status: 'interrupted', message };
    }
    step.status = 'failed';
    step.finishedAt = new Date(at).toISOString();
    step.durationMs = at - started;
    step.error = { code, message: text };
    step.left = await describeLeft(config, docker, record);
    const message = `release ${record.id} failed at step ${step.id}: ${text}; ${step.left}`;
    await finish(context, record, 'failed', message);
    await announceRelease(context, record, step.id === 'monitor' ? 'critical' : 'warning', 'failed', message, {
      step: step.id,
    });
    return {
      record,
      status: 'failed',
      message,
      failure: { step: step.id, code, message: text, left: step.left },
      ...(run.monitor ? { monitor: run.monitor } : {}),
    };
  }
}

/**
 * Before going on with a release that waited (paused, interrupted): its target must not have become live by
 * other means while steps before the switch remain (they would replace what serves production).
 */
async function refuseChangedLive(context: ReleaseContext, record: ReleaseRecord): Promise<void> {
  const before = record.steps.slice(
    0,
    record.steps.findIndex((s) => s.id === 'switch'),
  );
  if (record.runs.length <= 1 || before.every((s) => s.status === 'done' || s.status === 'skipped')) return;
  const view = await readLiveView(context.config, context.docker);
  if (view.live === record.target) {
    throw new RelError(
      'STEP_FAILED',
      `release ${record.id} goes to ${record.target}, which has become live since (switched by hand?); its remaining steps would change production: rel release abort, then release again`,
    );
  }
}

async function save(context: ReleaseContext, record: ReleaseRecord, status: ReleaseStatus, outcome: string) {
  record.status = status;
  record.outcome = outcome;
  record.updatedAt = new Date().toISOString();
  await writeRecord(context.config.stateDir, record);
}

async function finish(context: ReleaseContext, record: ReleaseRecord, status: ReleaseStatus, outcome: string) {
  const now = new Date();
  record.finishedAt = now.toISOString();
  record.durationMs = now.getTime() - Date.parse(record.startedAt);
  await save(context, record, status, outcome);
}

function notificationFields(record: ReleaseRecord): Record<string, string> {
  return {
    release: record.id,
    version: versionText(record),
    ...(record.ci?.buildUrl ? { build: record.ci.buildUrl } : {}),
    ...(record.ci?.jobName ? { job: record.ci.jobName } : {}),
  };
}

async function announceRelease(
  context: ReleaseContext,
  record: ReleaseRecord,
  severity: NotificationSeverity,
  event: 'started' | 'succeeded' | 'failed' | 'aborted',
  text: string,
  extra: Record<string, string> = {},
): Promise<void> {
  await announce(
    context.config,
    {
      severity,
      title: `${context.config.project}: release ${versionText(record)} ${event}`,
      text,
      event: `release-${event}`,
      environment: record.target,
      ...(record.from ? { from: record.from } : {}),
      to: record.target,
      fields: { ...notificationFields(record), ...extra },
    },
    releaseSink(context.onEvent, record.id, 'notify'),
  );
}

/** A sink that adds the release id and step to every event: another program can follow a release by them. */
function releaseSink(sink: EventSink, id: string, step: string): EventSink {
  return (event) => {
    const tagged: ReleaseEvent = { ...event, release: { id, step } };
    sink(tagged);
  };
}
