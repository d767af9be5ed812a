import type { RelErrorCode } from '@rel/core';

/** The documented exit codes of `rel`. */
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
  /** Interrupted (SIGINT/SIGTERM). */
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
