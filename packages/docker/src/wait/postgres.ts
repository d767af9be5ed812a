import { isRelError, RelError } from '@rel/core';
import { oneLine } from '../client.js';
import { execInContainer } from '../exec.js';
import { WaitStrategy } from './strategy.js';

export interface PostgresWaitOptions {
  user: string;
  database: string;
  /** The port PostgreSQL listens on inside the container. Default 5432. */
  port?: number;
  /** Limit for one `pg_isready`. Default 5000 ms. */
  attemptTimeoutMs?: number;
}

/** `pg_isready -h 127.0.0.1` inside the container exits 0. Needs `pg_isready` in the image. */
export function forPostgres(options: PostgresWaitOptions): WaitStrategy {
  const { user, database, port = 5432, attemptTimeoutMs = 5000 } = options;
  for (const [what, value] of [
    ['user', user],
    ['database', database],
  ] as const) {
    // pg_isready reads a -d containing '=' as a connection string: allow plain names only.
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.$-]*$/.test(value)) {
      throw new RelError('BAD_INPUT', `invalid PostgreSQL ${what} ${JSON.stringify(value)} for Wait.forPostgres`);
    }
  }
  const cmd = ['pg_isready', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', database];
  return new WaitStrategy(`PostgreSQL to accept connections on port ${port}`, () => async (context) => {
    const result = await execInContainer(context.client, context.containerId, cmd, {
      timeoutMs: attemptTimeoutMs,
      signal: context.signal,
    }).catch((error: unknown) => {
      // Say, the container stopped between inspect and exec: "not yet", and the next attempt reports the exit.
      if (isRelError(error, 'STEP_FAILED')) throw new Error(error.message);
      throw error;
    });
    const output = oneLine(`${result.stdout} ${result.stderr}`);
    if (result.exitCode === 0) return true;
    if (result.exitCode === 3 || result.exitCode >= 126) {
      throw new RelError(
        'CONFIG',
        `pg_isready cannot run in container ${context.containerName} (exit code ${result.exitCode}): ${output}`,
      );
    }
    throw new Error(`pg_isready: ${output || `exit code ${result.exitCode}`}`);
  });
}
