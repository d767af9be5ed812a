import { type EventSink, formatDuration, ignoreEvents, isRelError, log, pollUntil, RelError } from '@rel/core';
import type pg from 'pg';

/** The advisory lock key pair of migration runs: `'rel'` as an integer, and 1. Advisory locks are per database. */
export const MIGRATION_LOCK_KEY = [0x72656c, 1] as const;

export interface LockHolder {
  pid: number;
  applicationName: string;
  user: string | null;
  clientAddress: string | null;
  backendStart: Date | null;
  queryStart: Date | null;
}

export interface MigrationLockOptions {
  /** How long to wait for another run to finish. Default 60000 ms. */
  waitMs?: number;
  /** Pause between attempts. Default 500 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
  onEvent?: EventSink;
}

/** Who holds the migration lock of the client's database, if anyone. */
export async function findMigrationLockHolder(client: pg.Client): Promise<LockHolder | undefined> {
  const result = await client.query(
    `SELECT a.pid, a.application_name, a.usename, host(a.client_addr) AS client_addr, a.backend_start, a.query_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid AND l.objid = $2::int::oid
        AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [...MIGRATION_LOCK_KEY],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    pid: row.pid,
    applicationName: row.application_name ?? '',
    user: row.usename,
    clientAddress: row.client_addr,
    backendStart: row.backend_start,
    queryStart: row.query_start,
  };
}

export function describeHolder(holder: LockHolder): string {
  const name = holder.applicationName ? JSON.stringify(holder.applicationName) : 'a session without application_name';
  const since = holder.backendStart ? `, connected since ${holder.backendStart.toISOString()}` : '';
  const query = holder.queryStart ? `, last query at ${holder.queryStart.toISOString()}` : '';
  return `${name} (pid ${holder.pid}${holder.clientAddress ? ` from ${holder.clientAddress}` : ''}${since}${query})`;
}

/**
 * Takes the session-level advisory lock of migration runs on the client's database, polling
 * `pg_try_advisory_lock` until `waitMs`; then a LOCKED error names the holder. Returns the release function.
 */
export async function acquireMigrationLock(
  client: pg.Client,
  options: MigrationLockOptions = {},
): Promise<() => Promise<void>> {
  const { waitMs = 60_000, intervalMs = 500, signal, onEvent = ignoreEvents } = options;
  let reported = false;
  const started = Date.now();
  try {
    await pollUntil(
      async () => {
        const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
          ...MIGRATION_LOCK_KEY,
        ]);
        if (result.rows[0]!.ok) return true;
        if (!reported) {
          reported = true;
          const holder = await findMigrationLockHolder(client);
          log(
            onEvent,
            'info',
            `waiting for the migration lock held by ${holder ? describeHolder(holder) : 'another session'}`,
          );
        }
        return undefined;
      },
      { timeoutMs: waitMs, intervalMs, waitingFor: 'the migration lock', ...(signal ? { signal } : {}) },
    );
  } catch (error) {
    if (!isRelError(error, 'TIMEOUT')) throw error;
    const holder = await findMigrationLockHolder(client).catch(() => undefined);
    throw new RelError(
      'LOCKED',
      `another migration run holds the lock on this database: ${holder ? describeHolder(holder) : 'a session that just ended'}; waited ${formatDuration(Date.now() - started)}`,
      { details: { holder } },
    );
  }
  return async () => {
    await client.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK_KEY]).catch(() => {});
  };
}
