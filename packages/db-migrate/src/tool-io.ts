// What goes into the PostgreSQL tools' argument lists (names checked) and what comes back (their last lines).
import { RelError } from '@rel/core';

/** Database and user names that are safe in file names and argument lists. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

export function checkName(value: string, what: string): void {
  if (!NAME.test(value)) {
    throw new RelError(
      'BAD_INPUT',
      `invalid ${what} ${JSON.stringify(value)}: expected letters, digits, _ . - (up to 63)`,
    );
  }
}

/** The last lines of a tool's output, joined with ` | `: for one-line messages. */
export function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}
