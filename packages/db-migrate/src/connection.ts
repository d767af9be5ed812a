import { RelError } from '@rel/core';
import {
  applicationName as applicationNameOf,
  connectPostgres,
  type DatabaseConnection,
  type PostgresSession,
} from '@rel/postgres';

export { redact } from '@rel/core';

export interface ConnectOptions {
  /** `application_name` of the session, shown in pg_stat_activity. Default `rel db migrate (<host> pid <pid>)`. */
  applicationName?: string;
  /** PostgreSQL `lock_timeout` for each statement, ms; 0 = none. Default 5000. */
  lockTimeoutMs?: number;
  /** PostgreSQL `statement_timeout`, ms; 0 = none. Default 0. */
  statementTimeoutMs?: number;
}

/** A session of this library: `@rel/postgres`'s. */
export type DatabaseSession = PostgresSession;

export function defaultApplicationName(): string {
  return applicationNameOf('rel db migrate');
}

/** A value ADO.NET's connection-string builder writes as it is: no quote, `=`, `;`, white space or control character. */
const PLAIN_VALUE = /^[^"'=;\s\p{Cc}]*$/u;

/**
 * A connection string in ADO.NET's syntax, which Npgsql (and so an EF Core bundle) parses, written as
 * `DbConnectionStringBuilder` writes one: `key=value` pairs joined by `;`, `=` in a key doubled, and a value
 * holding a quote, `=`, `;`, white space or a control character quoted: in single quotes when it holds a `"`
 * and no `'`, else in double quotes with each `"` doubled.
 */
export function adoConnectionString(pairs: ReadonlyArray<readonly [key: string, value: string]>): string {
  return pairs
    .map(([key, value]) => {
      if (!/^(?![;\s])[^\p{Cc}]+(?<!\s)$/u.test(key))
        throw new RelError('BAD_INPUT', `invalid connection-string key ${JSON.stringify(key)}`);
      if (value.includes('\0'))
        throw new RelError('BAD_INPUT', `the connection-string value of ${key} holds a NUL character`);
      return `${key.replaceAll('=', '==')}=${quoteAdoValue(value)}`;
    })
    .join(';');
}

function quoteAdoValue(value: string): string {
  if (PLAIN_VALUE.test(value)) return value;
  if (value.includes('"') && !value.includes("'")) return `'${value}'`;
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * A PostgreSQL password file (`PGPASSFILE`) holding one password for any host, port, database and user:
 * `*:*:*:*:<password>`, with `\` and `:` escaped by a `\`. Npgsql trims each line and libpq-style readers take
 * a line at a time, so a password with a line break, a NUL or white space at its end cannot be written: CONFIG.
 */
export function pgpassFile(password: string): string {
  if (/[\r\n\0]/.test(password) || /\s$/u.test(password)) {
    throw new RelError(
      'CONFIG',
      'the database password cannot go into a password file (PGPASSFILE): it holds a line break or a NUL, or ends in white space',
    );
  }
  return `*:*:*:*:${password.replace(/[\\:]/g, (c) => `\\${c}`)}\n`;
}

/**
 * Connects, names the session (`application_name`) and sets `lock_timeout` and `statement_timeout`.
 * A function given as `connection` must return a connected client; this session ends it on close.
 */
export async function openSession(
  connection: DatabaseConnection,
  options: ConnectOptions = {},
): Promise<DatabaseSession> {
  const { applicationName = defaultApplicationName(), lockTimeoutMs = 5000, statementTimeoutMs = 0 } = options;
  return connectPostgres(connection, {
    applicationName,
    settings: {
      lock_timeout: `${Math.max(0, Math.round(lockTimeoutMs))}ms`,
      statement_timeout: `${Math.max(0, Math.round(statementTimeoutMs))}ms`,
    },
    missingDatabase: 'CONFIG',
  });
}
