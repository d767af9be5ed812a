import { RelError } from '@rel/core';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** A memory size: `512MiB`, `800M` (binary, as Docker says it), `1GB` (decimal), `1048576` (bytes). */
export function parseSize(text: string, what = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  const bytes = match && factor !== undefined ? Math.round(Number(match[1]) * factor) : Number.NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new RelError(
      'BAD_INPUT',
      `${what}: ${JSON.stringify(text)} is not a size (expected for example 512MiB, 800M, 1GB or bytes)`,
    );
  }
  return bytes;
}

/** A share: `50%` or `0.5`, more than 0. */
export function parseShare(text: string, what = 'share'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const value = match ? Number(match[1]) / (match[2] ? 100 : 1) : Number.NaN;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RelError(
      'BAD_INPUT',
      `${what}: ${JSON.stringify(text)} is not a share (expected for example 50% or 0.5)`,
    );
  }
  return value;
}

/** A whole number option (`--threshold 3`): BAD_INPUT naming it unless it is `min` or more (and `max` or less). */
export function parseWholeNumber(text: string, what: string, min: number, max?: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || (max !== undefined && n > max)) {
    const expected = max === undefined ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
    throw new RelError('BAD_INPUT', `invalid ${what} ${JSON.stringify(text)}: expected ${expected}`);
  }
  return n;
}
