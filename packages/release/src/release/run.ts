import { log, RelError } from '@rel/core';
import { acquireReleaseLock, type ReleaseLock } from '../lock.js';
import type { ReleaseContext, ReleaseOutcome } from './context.js';
import { announceRelease, drive, finish, releaseSink } from './drive.js';
import { findRecord, type ReleaseRecord, type ReleaseStatus, writeRecord } from './journal.js';
import { describeOpenRelease, findOpenRelease, type OpenRelease, refuseOpenRelease, versionText } from './open.js';
import { planRelease, type ReleaseRequest, runnerRecord } from './plan.js';
import { describeLeft } from './steps.js';

export type { ReleaseContext, ReleaseEvent, ReleaseEventContext, ReleaseOutcome } from './context.js';
export { RELEASE_STEP_PREFIX } from './context.js';

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
