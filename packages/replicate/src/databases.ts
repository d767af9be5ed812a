import { sleep } from '@rel/core';
import type pg from 'pg';
import type { DatabaseLocale } from './catalog.js';
import { quoteIdent, quoteLiteral } from './sql.js';

/** Database-level facts of the target server, for the names a run uses. */
export interface DatabaseState {
  exists: boolean;
  allowConnections: boolean;
  owner: string | null;
  /** Its tablespace, when not the server's default one. */
  tablespace: string | null;
}

export async function databaseState(client: pg.Client, name: string): Promise<DatabaseState> {
  const { rows } = await client.query<{ allow: boolean; owner: string; tablespace: string | null }>(
    `SELECT d.datallowconn AS allow, pg_catalog.pg_get_userbyid(d.datdba) AS owner,
            nullif(t.spcname, 'pg_default') AS tablespace
       FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace
      WHERE d.datname = $1`,
    [name],
  );
  const row = rows[0];
  return {
    exists: row !== undefined,
    allowConnections: row?.allow ?? false,
    owner: row?.owner ?? null,
    tablespace: row?.tablespace ?? null,
  };
}

/** Drops a database, ending its sessions first (`WITH (FORCE)`, PostgreSQL 13+). */
export async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

/**
 * Creates the database the copy is built in: from template0, with the source's encoding and locale, owned
 * by the owner of the database it will replace (when there is one), in its tablespace.
 */
export async function createDatabase(
  client: pg.Client,
  name: string,
  locale: DatabaseLocale,
  like: Pick<DatabaseState, 'owner' | 'tablespace'>,
): Promise<void> {
  const { owner, tablespace } = like;
  const parts = [
    `CREATE DATABASE ${quoteIdent(name)} WITH TEMPLATE template0`,
    `ENCODING ${quoteLiteral(locale.encoding)}`,
    `LC_COLLATE ${quoteLiteral(locale.collate)} LC_CTYPE ${quoteLiteral(locale.ctype)}`,
  ];
  if (locale.provider === 'i' && locale.icuLocale) {
    parts.push(`LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(locale.icuLocale)}`);
  }
  if (owner) parts.push(`OWNER ${quoteIdent(owner)}`);
  if (tablespace) parts.push(`TABLESPACE ${quoteIdent(tablespace)}`);
  await client.query(parts.join(' '));
}

/** GUCs whose values are lists (pg_dump splits and quotes them one by one). */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'local_preload_libraries',
  'shared_preload_libraries',
]);

/** `"$user", public` -> `['$user', 'public']`: the elements of a stored list setting. */
export function splitSettingList(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') {
        current += '"';
        i++;
      } else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim() !== '' || out.length > 0) out.push(current.trim());
  return out;
}

/** `ALTER DATABASE x SET name = value` from a stored `name=value` setting, values always as literals. */
export function alterDatabaseSet(database: string, setting: string): string | undefined {
  const eq = setting.indexOf('=');
  if (eq <= 0) return undefined;
  const name = setting.slice(0, eq);
  const value = setting.slice(eq + 1);
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) return undefined;
  const values = LIST_SETTINGS.has(name.toLowerCase()) ? splitSettingList(value) : [value];
  return `ALTER DATABASE ${quoteIdent(database)} SET ${name} TO ${values.map(quoteLiteral).join(', ')}`;
}

/**
 * Gives the new database the database-level settings (`ALTER DATABASE ... SET`), connection limit and
 * privileges of the database it replaces: those belong to the target environment, not to the source.
 * Returns what could not be carried over.
 */
export async function carryDatabaseProperties(client: pg.Client, from: string, to: string): Promise<string[]> {
  const problems: string[] = [];
  const statements: string[] = [];
  const { rows: db } = await client.query<{ connlimit: number; has_acl: boolean }>(
    'SELECT datconnlimit AS connlimit, datacl IS NOT NULL AS has_acl FROM pg_catalog.pg_database WHERE datname = $1',
    [from],
  );
  if (!db[0]) return problems;
  if (db[0].connlimit !== -1) statements.push(`ALTER DATABASE ${quoteIdent(to)} CONNECTION LIMIT ${db[0].connlimit}`);
  if (db[0].has_acl) {
    const { rows: acl } = await client.query<{ grantee: string | null; privilege: string; grantable: boolean }>(
      `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END AS grantee,
              a.privilege_type AS privilege, a.is_grantable AS grantable
         FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a WHERE d.datname = $1`,
      [from],
    );
    statements.push(`REVOKE ALL ON DATABASE ${quoteIdent(to)} FROM PUBLIC`);
    for (const entry of acl) {
      if (!/^[A-Z ]+$/.test(entry.privilege)) continue;
      statements.push(
        `GRANT ${entry.privilege} ON DATABASE ${quoteIdent(to)} TO ${entry.grantee === null ? 'PUBLIC' : quoteIdent(entry.grantee)}${entry.grantable ? ' WITH GRANT OPTION' : ''}`,
      );
    }
  }
  const { rows: settings } = await client.query<{ role: string | null; config: string[] }>(
    `SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(s.setrole) END AS role, s.setconfig AS config
       FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
    [from],
  );
  for (const row of settings) {
    if (row.role !== null) {
      problems.push(
        `settings of role ${row.role} in database ${from} (ALTER ROLE ... IN DATABASE) are not carried over`,
      );
      continue;
    }
    for (const setting of row.config) {
      const sql = alterDatabaseSet(to, setting);
      if (sql) statements.push(sql);
      else problems.push(`database setting ${setting.split('=')[0]} of ${from} is not carried over`);
    }
  }
  for (const sql of statements) {
    try {
      await client.query(sql);
    } catch (error) {
      problems.push(`${sql}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** Ends every other session of `database` on this server; waits up to 5 s for each to go. */
export async function terminateSessions(client: pg.Client, database: string, since?: string): Promise<number> {
  const { rows } = await client.query<{ ended: string }>(
    `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid, 5000))::text AS ended
       FROM pg_catalog.pg_stat_activity
      WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend'
        AND ($2::timestamptz IS NULL OR backend_start >= $2::timestamptz)`,
    [database, since ?? null],
  );
  return Number(rows[0]!.ended);
}

export async function setAllowConnections(client: pg.Client, database: string, allow: boolean): Promise<void> {
  await client.query(`ALTER DATABASE ${quoteIdent(database)} ALLOW_CONNECTIONS ${allow}`);
}

/**
 * Puts `fresh` in the place of `target` in one transaction: `previous` (if it exists) becomes `old` (dropped
 * afterwards by the caller), `target` becomes `previous`, `fresh` becomes `target`; a failure renames nothing.
 * Sessions still on `target` or `previous` are ended again and the renames retried for up to `timeoutMs` (a
 * session may be on its way out); any other failure (a session on `fresh`...) fails at once.
 */
export async function renameInto(
  client: pg.Client,
  names: { fresh: string; target: string; previous: string; old: string; targetExists: boolean },
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const previousExists = names.targetExists && (await databaseState(client, names.previous)).exists;
      await client.query('BEGIN');
      if (previousExists) {
        await client.query(`ALTER DATABASE ${quoteIdent(names.previous)} RENAME TO ${quoteIdent(names.old)}`);
      }
      if (names.targetExists) {
        await client.query(`ALTER DATABASE ${quoteIdent(names.target)} RENAME TO ${quoteIdent(names.previous)}`);
      }
      await client.query(`ALTER DATABASE ${quoteIdent(names.fresh)} RENAME TO ${quoteIdent(names.target)}`);
      await client.query('COMMIT');
      return;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      // 55006 object_in_use: 'database "x" is being accessed by other users'.
      const message = (error as Error).message ?? '';
      const retry =
        (error as { code?: string }).code === '55006' &&
        (message.includes(`"${names.target}"`) || message.includes(`"${names.previous}"`)) &&
        Date.now() < deadline;
      if (!retry) throw error;
      await terminateSessions(client, names.target);
      await terminateSessions(client, names.previous);
      await sleep(200);
    }
  }
}
