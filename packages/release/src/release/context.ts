import type { EventSink, RelEvent } from '@rel/core';
import type { DockerClient } from '@rel/docker';
import type { RelConfig } from '../config/schema.js';
import type { MonitorLiveResult } from '../flows/monitor.js';
import type { CiBuild, ReleaseRecord, ReleaseStatus, ReleaseStepId } from './journal.js';

// What a release runs with and what it ends with: shared by the commands (run.ts) and the step loop (drive.ts).

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
