import { RelError } from '@rel/core';

function shown(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Throws BAD_INPUT: `invalid <what> <value>: <expected>`. */
export function badInput(what: string, value: unknown, expected: string): never {
  throw new RelError('BAD_INPUT', `invalid ${what} ${shown(value)}: ${expected}`);
}

/** A finite number > 0 (or Infinity when `allowInfinity`). */
export function positiveNumber(what: string, value: unknown, options: { allowInfinity?: boolean } = {}): number {
  const ok =
    typeof value === 'number' &&
    value > 0 &&
    (Number.isFinite(value) || (options.allowInfinity === true && value === Number.POSITIVE_INFINITY));
  if (!ok) badInput(what, value, 'expected a number greater than 0');
  return value;
}

/** An integer >= `min`. */
export function integerAtLeast(what: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    badInput(what, value, `expected an integer >= ${min}`);
  }
  return value;
}

export function nonEmptyName(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\r\n]/.test(value)) {
    badInput(what, value, 'expected a non-empty one-line string');
  }
  return value;
}
