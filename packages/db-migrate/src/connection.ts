import { hostname } from 'node:os';
import { errorMessage, RelError } from '@rel/core';
import pg from 'pg';
import type { DatabaseConnection } from './types.js';

export interface ConnectOptions {
  /** `application_name` of the session, shown in pg_stat_activity. Default `rel db migrate (<host> pid <pid>)`. */
  applicationName?: string;
  /** PostgreSQL `lock_timeout` for each statement, ms; 0 = none. Default 5000. */
  lockTimeoutMs?: number;
  /** PostgreSQL `statement_timeout`, ms; 0 = none. Default 0. */
  statementTimeoutMs?: number;
}

export interface DatabaseSession {
  client: pg.Client;
  /** `host:port/database`, for messages. */
  where: string;
  /** Strings that must never appear in a message (the password, the connection string). */
  secrets: string[];
  serverVersionNum: number;
  close(): Promise<void>;
}

export function defaultApplicationName(): string {
  return `rel db migrate (${hostname()} pid ${process.pid})`.slice(0, 63);
}

function describeConfig(config: pg.ClientConfig): { where: string; secrets: string[] } {
  const secrets: string[] = [];
  if (typeof config.password === 'string' && config.password !== '') secrets.push(config.password);
  let host = config.host ?? process.env.PGHOST ?? 'localhost';
  let port = String(config.port ?? process.env.PGPORT ?? 5432);
  let database = config.database ?? process.env.PGDATABASE ?? config.user ?? '';
  if (config.connectionString) {
    secrets.push(config.connectionString);
    try {
      const url = new URL(config.connectionString);
      if (url.password) secrets.push(decodeURIComponent(url.password), url.password);
      host = url.hostname || host;
      port = url.port || port;
      database = url.pathname.replace(/^\//, '') || database;
    } catch {
      // Not a URL (key=value form): only the whole string is known to be secret.
    }
  }
  return { where: `${host}:${port}${database ? `/${database}` : ''}`, secrets };
}

/** `message` with every secret replaced by `***`. */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) if (secret.length >= 3) out = out.split(secret).join('***');
  // Connection strings in key=value form, as efbundle would print them; a quoted value may hold `;` and spaces.
  return out.replace(/(password\s*=\s*)("(?:[^"]|"")*"|'(?:[^']|'')*'|[^;\s]*)/gi, '$1***');
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

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
]);

/** Turns a connection failure into UNREACHABLE, AUTH or CONFIG, naming host and port and never a secret. */
export function connectionError(error: unknown, where: string, secrets: readonly string[]): RelError {
  const code = (error as { code?: string })?.code;
  const message = redact(errorMessage(error), secrets);
  if (code === '28P01' || code === '28000' || /SASL|password/i.test(message)) {
    return new RelError('AUTH', `PostgreSQL at ${where} refused the credentials: ${message}`, {
      details: { where, code },
    });
  }
  if (code === '3D000') {
    return new RelError('CONFIG', `PostgreSQL at ${where}: ${message}`, { details: { where, code } });
  }
  if (
    (code !== undefined && UNREACHABLE_CODES.has(code)) ||
    /timeout|terminated|ECONNREFUSED|connect/i.test(message) ||
    code === '57P03'
  ) {
    return new RelError('UNREACHABLE', `cannot reach PostgreSQL at ${where}: ${message || code}`, {
      details: { where, code },
    });
  }
  return new RelError('STEP_FAILED', `connecting to PostgreSQL at ${where}: ${message}`, { details: { where, code } });
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
  let client: pg.Client;
  let where: string;
  let secrets: string[];
  if (typeof connection === 'function') {
    ({ where, secrets } = { where: 'the database', secrets: [] });
    try {
      client = await connection();
    } catch (error) {
      throw connectionError(error, where, secrets);
    }
    where = `${client.host}:${client.port}/${client.database ?? ''}`;
    if (typeof client.password === 'string' && client.password) secrets.push(client.password);
  } else {
    ({ where, secrets } = describeConfig(connection));
    client = new pg.Client({ connectionTimeoutMillis: 10_000, ...connection, application_name: applicationName });
    // An error after connecting (server gone) is reported by the query that notices it.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw connectionError(error, where, secrets);
    }
  }
  client.on('error', () => {});
  try {
    await client.query(
      `SELECT set_config('application_name', $1, false), set_config('lock_timeout', $2, false), set_config('statement_timeout', $3, false)`,
      [
        applicationName,
        `${Math.max(0, Math.round(lockTimeoutMs))}ms`,
        `${Math.max(0, Math.round(statementTimeoutMs))}ms`,
      ],
    );
    const version = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    return {
      client,
      where,
      secrets,
      serverVersionNum: Number(version.rows[0]!.v),
      close: () => client.end().catch(() => {}),
    };
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(error, where, secrets);
  }
}
