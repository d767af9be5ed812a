import { formatDuration, RelError } from '@rel/core';
import { processState } from '../lock.js';
import { isFinal, listRecords, type ReleaseRecord } from './journal.js';

/** A release that has not ended: one at a time per project. */
export interface OpenRelease {
  /** Its record; `status` is `interrupted` when it says running but its runner is gone. */
  record: ReleaseRecord;
  /** The step it is at (running, paused before, or interrupted in). */
  step: string | undefined;
}

/**
 * The project's open release, if any: running (its runner alive), paused for approval, held between a pipeline's
 * stages, or interrupted (its runner gone, or stopped by a signal). A damaged record is an error naming its file: it may be the open release.
 */
export async function findOpenRelease(stateDir: string): Promise<OpenRelease | undefined> {
  const { records, damaged } = await listRecords(stateDir);
  if (damaged.length > 0) throw new RelError('CONFIG', damaged[0]!.message, { details: { file: damaged[0]!.file } });
  const open = records.find((r) => !isFinal(r));
  if (!open) return undefined;
  const record: ReleaseRecord =
    open.status === 'running' && processState(open.runner) === 'gone' ? { ...open, status: 'interrupted' } : open;
  const step = record.steps.find((s) => s.status === 'running' || s.status === 'pending')?.id;
  return { record, step };
}

/** LOCKED, naming the open release, when the project has one: another release cannot start meanwhile. */
export async function refuseOpenRelease(stateDir: string): Promise<void> {
  const open = await findOpenRelease(stateDir);
  if (open) {
    throw new RelError('LOCKED', `another release is open: ${describeOpenRelease(open)}`, {
      details: { release: open.record.id, status: open.record.status },
    });
  }
}

/** One line for a refusal: which release, what it is doing, who runs it, and what to do about it. */
export function describeOpenRelease(open: OpenRelease): string {
  const r = open.record;
  const what = `release ${r.id} (${versionText(r)} to ${r.target})`;
  const ago = (at: string) => {
    const ms = Date.now() - Date.parse(at);
    return Number.isNaN(ms) ? '' : `, ${formatDuration(Math.max(0, ms))} ago`;
  };
  switch (r.status) {
    case 'paused':
      return `${what} is paused awaiting approval since ${r.updatedAt}${ago(r.updatedAt)}: rel release promote, or rel release abort`;
    case 'held': {
      const build = r.ci?.buildUrl ? ` by build ${r.ci.buildUrl}` : '';
      return `${what} is held after step ${heldAfter(r) ?? '?'}${build} since ${r.updatedAt}${ago(r.updatedAt)}, between the stages of a pipeline: rel release resume goes on, rel release abort ends it`;
    }
    case 'interrupted':
      return `${what} was interrupted at step ${open.step ?? '?'} (its runner, pid ${r.runner.pid} on ${r.runner.host}, is gone): rel release resume, or rel release abort`;
    default:
      return `${what} is running (step ${open.step ?? '?'}; "${r.runner.command}" pid ${r.runner.pid} on ${r.runner.host}, user ${r.runner.user}, since ${r.runner.at}${ago(r.runner.at)})`;
  }
}

/** The last step that finished (done or skipped) before the first unfinished one. */
function heldAfter(r: ReleaseRecord): string | undefined {
  const next = r.steps.findIndex((s) => s.status === 'pending' || s.status === 'running');
  return next > 0 ? r.steps[next - 1]!.id : undefined;
}

/** What a release changes, in words: `v2`, `backend v2` (one component), or `backend v2, frontend v3`. */
export function versionText(r: Pick<ReleaseRecord, 'versions' | 'only'>): string {
  const { backend, frontend } = r.versions;
  if (r.only) return `${r.only} ${r.versions[r.only]}`;
  return backend === frontend ? backend : `backend ${backend}, frontend ${frontend}`;
}
