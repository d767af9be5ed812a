import type pg from 'pg';
import { terminateSessions } from './databases.js';
import { quoteIdent } from './sql.js';

/**
 * The value a freeze writes: `default_transaction_read_only = 'tru'` (a valid spelling of true nobody types),
 * so that the next run recognises a freeze left behind by a run that was killed before it could undo it.
 */
const FREEZE_MARK = 'tru';

const TRUE_SPELLINGS = new Set(['on', 't', 'tr', 'tru', 'true', 'y', 'ye', 'yes', '1']);

export interface Freeze {
  /** Date.now() when the source became read-only. */
  startedAt: number;
  /** The source server's clock then: sessions that started after it connected read-only. */
  serverStartedAt: string;
  /** The database-level value before the freeze (`null`: none). */
  previous: string | null;
  /** Sessions ended so that they reconnect read-only. */
  terminated: number;
}

/** The database-level `default_transaction_read_only` of the current database, if set. */
async function readOnlySetting(client: pg.Client): Promise<string | null> {
  const { rows } = await client.query<{ value: string }>(
    `SELECT substr(c, length('default_transaction_read_only=') + 1) AS value
       FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) c
      WHERE s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
        AND c LIKE 'default_transaction_read_only=%'`,
  );
  return rows[0]?.value ?? null;
}

export function isReadOnlyValue(value: string | null): boolean {
  return value !== null && TRUE_SPELLINGS.has(value.trim().toLowerCase());
}

/**
 * Makes the database read-only for new sessions, then ends its other sessions so that they reconnect
 * read-only. `client` must be a session of that database that is itself writable (it sets
 * `default_transaction_read_only = off` for itself). A session can still opt out with
 * `SET default_transaction_read_only = off`: the freeze stops applications, not a determined client.
 * Undefined when the database is read-only already (then nothing is changed).
 */
export async function freezeDatabase(client: pg.Client, database: string): Promise<Freeze | undefined> {
  await client.query('SET default_transaction_read_only = off');
  const previous = await readOnlySetting(client);
  if (isReadOnlyValue(previous)) return undefined;
  const { rows } = await client.query<{ now: string }>('SELECT pg_catalog.clock_timestamp()::text AS now');
  await client.query(`ALTER DATABASE ${quoteIdent(database)} SET default_transaction_read_only = '${FREEZE_MARK}'`);
  const startedAt = Date.now();
  const terminated = await terminateSessions(client, database);
  return { startedAt, serverStartedAt: rows[0]!.now, previous, terminated };
}

/**
 * Undoes `freezeDatabase`: the previous database-level value comes back, and the sessions that connected
 * during the freeze (read-only for their whole life) are ended so that they reconnect writable. Returns how
 * long the database was frozen.
 */
export async function unfreezeDatabase(client: pg.Client, database: string, freeze: Freeze): Promise<number> {
  await client.query('SET default_transaction_read_only = off');
  if (freeze.previous === null) {
    await client.query(`ALTER DATABASE ${quoteIdent(database)} RESET default_transaction_read_only`);
  } else {
    await client.query(
      `ALTER DATABASE ${quoteIdent(database)} SET default_transaction_read_only = '${freeze.previous.replace(/'/g, "''")}'`,
    );
  }
  const frozenMs = Date.now() - freeze.startedAt;
  await terminateSessions(client, database, freeze.serverStartedAt);
  return frozenMs;
}

/**
 * A freeze left by a run that was killed: the mark is removed and the sessions that connected since (all of
 * them: the freeze ended the older ones) are ended so that they reconnect writable. True when there was one.
 */
export async function undoInterruptedFreeze(client: pg.Client, database: string): Promise<boolean> {
  await client.query('SET default_transaction_read_only = off');
  if ((await readOnlySetting(client)) !== FREEZE_MARK) return false;
  await client.query(`ALTER DATABASE ${quoteIdent(database)} RESET default_transaction_read_only`);
  await terminateSessions(client, database);
  return true;
}
