import { RelError } from './errors.js';

export const ENVIRONMENTS = ['blue', 'green'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export function isEnvironment(value: unknown): value is Environment {
  return value === 'blue' || value === 'green';
}

/** Parses an environment name typed by an operator; anything but `blue` or `green` is BAD_INPUT. */
export function parseEnvironment(value: unknown, what = 'environment'): Environment {
  if (isEnvironment(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  throw new RelError('BAD_INPUT', `unknown ${what} ${shown}: expected "blue" or "green"`);
}

export function otherEnvironment(env: Environment): Environment {
  return env === 'blue' ? 'green' : 'blue';
}
