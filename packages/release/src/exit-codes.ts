import type { RelErrorCode } from '@rel/core';
import type { ReleaseStatus } from './release/journal.js';

/** The documented exit codes of `rel` and `rel-jenkins` (a pipeline maps them to build results). */
export const EXIT = {
  /** Everything asked for was done. */
  OK: 0,
  /** A step failed; the output says what was undone and what state was left. */
  STEP_FAILED: 1,
  /** Bad arguments or configuration; nothing was changed. */
  BAD_INPUT: 2,
  /** Another rel command holds the release lock; nothing was changed. */
  LOCKED: 3,
  /** Production failed and traffic was rolled back. */
  ROLLED_BACK: 4,
  /** The release is paused before its switch, awaiting approval (`rel release promote` or `abort`). */
  PAUSED: 5,
  /** Interrupted (SIGINT/SIGTERM); the release is resumable. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeFor(code: RelErrorCode): ExitCode {
  switch (code) {
    case 'BAD_INPUT':
    case 'CONFIG':
      return EXIT.BAD_INPUT;
    case 'LOCKED':
      return EXIT.LOCKED;
    case 'ROLLED_BACK':
      return EXIT.ROLLED_BACK;
    case 'ABORTED':
      return EXIT.INTERRUPTED;
    default:
      return EXIT.STEP_FAILED;
  }
}

/**
 * The exit code of a release run that ended this way: 0 for succeeded, aborted and held (as asked), 5 paused, 4
 * rolled back, 1 failed, 130 interrupted.
 */
export function exitCodeForRelease(status: ReleaseStatus): ExitCode {
  switch (status) {
    case 'paused':
      return EXIT.PAUSED;
    case 'rolled-back':
      return EXIT.ROLLED_BACK;
    case 'interrupted':
      return EXIT.INTERRUPTED;
    case 'failed':
      return EXIT.STEP_FAILED;
    default:
      return EXIT.OK;
  }
}
