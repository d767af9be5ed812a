import { type EventSink, errorMessage, formatDuration, log, RelError } from '@rel/core';
import { readLiveView } from '../environments.js';
import type { MonitorLiveResult } from '../flows/monitor.js';
import type { ReleaseLock } from '../lock.js';
import { announce } from '../notify/announce.js';
import type { NotificationSeverity } from '../notify/targets.js';
import { RELEASE_STEP_PREFIX, type ReleaseContext, type ReleaseEvent, type ReleaseOutcome } from './context.js';
import { type ReleaseRecord, type ReleaseStatus, type ReleaseStepRecord, writeRecord } from './journal.js';
import { versionText } from './open.js';
import { describeLeft, STEP_RUNNERS } from './steps.js';

// The step loop of a release (start, resume and promote all end here): each unfinished step run in order, written
// to the journal before and after it, the release held, paused, interrupted or ended, and announced.

/**
 * Runs the release's unfinished steps in order, up to `context.until` when it is set (the release is then held:
 * the next command of a pipeline goes on). The lock is held until the watch after the switch (which takes it again
 * only to roll back, so an operator's own rollback is never refused meanwhile).
 */
export async function drive(
  context: ReleaseContext,
  record: ReleaseRecord,
  lock: ReleaseLock,
): Promise<ReleaseOutcome> {
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

export async function finish(context: ReleaseContext, record: ReleaseRecord, status: ReleaseStatus, outcome: string) {
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

export async function announceRelease(
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
export function releaseSink(sink: EventSink, id: string, step: string): EventSink {
  return (event) => {
    const tagged: ReleaseEvent = { ...event, release: { id, step } };
    sink(tagged);
  };
}
