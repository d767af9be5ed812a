import { hostname } from 'node:os';
import { errorMessage, RelError, redact } from '@rel/core';
import pg from 'pg';
import type { ConnectionSettings, DatabaseConnection } from './types.js';

/** `<program> (<host> pid <pid>)`, cut to PostgreSQL's 63 bytes: an `application_name` that tells sessions apart. */
export function applicationName(program: string): string {
  return `${program} (${hostname()} pid ${process.pid})`.slice(0, 63);
}

/** The first line of a message, trimmed: the errors of rel's PostgreSQL libraries are one line. */
export function oneLine(text: string): string {
  return text.trim().split('\n')[0]!.trim();
}

/** Where a connection goes, for messages, and what must never appear in one. */
export interface ConnectionDescription {
  /** `host:port/database`, with `pg`'s defaults (`$PGHOST`, `$PGPORT`, `$PGDATABASE`) where the settings have none. */
  where: string;
  /** The password; a connection string, and the password in it. */
  secrets: string[];
}

/** `where` and `secrets` of settings or a `pg` configuration; of its `database` instead, when given. */
export function describeConnection(
  connection: ConnectionSettings | pg.ClientConfig,
  database?: string,
): ConnectionDescription {
  const config = connection as pg.ClientConfig;
  const secrets: string[] = [];
  if (typeof config.password === 'string' && config.password !== '') secrets.push(config.password);
  let host = config.host ?? process.env.PGHOST ?? 'localhost';
  let port = String(config.port ?? process.env.PGPORT ?? 5432);
  let name = database ?? config.database ?? process.env.PGDATABASE ?? config.user ?? '';
  if (config.connectionString) {
    secrets.push(config.connectionString);
    try {
      const url = new URL(config.connectionString);
      if (url.password) secrets.push(decodeURIComponent(url.password), url.password);
      host = url.hostname || host;
      port = url.port || port;
      name = database ?? (url.pathname.replace(/^\//, '') || name);
    } catch {
      // Not a URL (key=value form): only the whole string is known to be secret.
    }
  }
  return { where: `${host}:${port}${name ? `/${name}` : ''}`, secrets };
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
]);

/**
 * A failure to connect as a RelError of one line naming `where` and never a secret: AUTH (credentials refused),
 * `missingDatabase` (the database does not exist: NOT_FOUND, or CONFIG where the database is the caller's
 * configuration), UNREACHABLE (no answer, refused, timed out, the server starting up), else STEP_FAILED. A RelError
 * is returned as it is. `details` holds `where` and PostgreSQL's or the socket's error code.
 */
export function connectionError(
  error: unknown,
  where: string,
  secrets: readonly string[],
  missingDatabase: 'NOT_FOUND' | 'CONFIG' = 'NOT_FOUND',
): RelError {
  if (error instanceof RelError) return error;
  const code = (error as { code?: string })?.code;
  const message = oneLine(redact(errorMessage(error), secrets));
  const details = { where, ...(code ? { code } : {}) };
  if (code === '28P01' || code === '28000' || /SASL|password/i.test(message)) {
    return new RelError('AUTH', `PostgreSQL at ${where} refused the credentials: ${message}`, { details });
  }
  if (code === '3D000') return new RelError(missingDatabase, `PostgreSQL at ${where}: ${message}`, { details });
  if (
    (code !== undefined && UNREACHABLE_CODES.has(code)) ||
    code === '57P03' ||
    /timeout|terminated|ECONNREFUSED|connect/i.test(message)
  ) {
    return new RelError('UNREACHABLE', `cannot reach PostgreSQL at ${where}: ${message || code}`, { details });
  }
  return new RelError('STEP_FAILED', `connecting to PostgreSQL at ${where}: ${message}`, { details });
}

export interface PostgresConnectOptions {
  /** `application_name` of the session, shown in pg_stat_activity (see `applicationName()`). */
  applicationName: string;
  /** Settings of the session (`lock_timeout`, `TimeZone`, ...), set with `set_config` right after connecting. */
  settings?: Record<string, string>;
  /** Connect to this database of the server instead of the connection's. */
  database?: string;
  /** More strings never to show in a message (the other side's password), besides the connection's own. */
  secrets?: readonly string[];
  /** The code of the error for a database that does not exist. Default NOT_FOUND. */
  missingDatabase?: 'NOT_FOUND' | 'CONFIG';
}

/** A connected client with its session settings, and what messages about it need. */
export interface PostgresSession {
  client: pg.Client;
  /** `host:port/database`, for messages. */
  where: string;
  /** Strings that must never appear in a message (the password, the connection string). */
  secrets: string[];
  /** `server_version_num`: 160004 for 16.4. */
  serverVersionNum: number;
  /** Ends the client; never throws. */
  close(): Promise<void>;
}

/**
 * Connects and sets the session up: `application_name` and `settings`, with `server_version_num` read in the same
 * round trip. Settings get a 10 s connection timeout and TCP keepalive (a server host that vanishes is noticed in
 * minutes, not hours) unless they say otherwise. A function given as `connection` must return a connected client;
 * the session ends it on close. Any failure ends the client and throws `connectionError`'s error.
 */
export async function connectPostgres(
  connection: DatabaseConnection,
  options: PostgresConnectOptions,
): Promise<PostgresSession> {
  const { missingDatabase = 'NOT_FOUND' } = options;
  let client: pg.Client;
  let where: string;
  let secrets: string[];
  if (typeof connection === 'function') {
    where = 'the database';
    secrets = [...(options.secrets ?? [])];
    try {
      client = await connection();
    } catch (error) {
      throw connectionError(error, where, secrets, missingDatabase);
    }
    where = `${client.host}:${client.port}/${client.database ?? ''}`;
    if (typeof client.password === 'string' && client.password) secrets.push(client.password);
  } else {
    ({ where, secrets } = describeConnection(connection, options.database));
    secrets.push(...(options.secrets ?? []));
    // a setting given as undefined leaves the default in place
    const given = Object.fromEntries(Object.entries(connection).filter(([, value]) => value !== undefined));
    client = new pg.Client({
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(given as pg.ClientConfig),
      ...(options.database === undefined ? {} : { database: options.database }),
      application_name: options.applicationName,
    });
    // An error after connecting (server gone) is reported by the query that notices it.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw connectionError(error, where, secrets, missingDatabase);
    }
  }
  client.on('error', () => {});
  const settings: Record<string, string> = { ...options.settings, application_name: options.applicationName };
  const names = Object.keys(settings);
  try {
    const { rows } = await client.query<{ version: string }>(
      `SELECT ${names.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false), `).join('')}current_setting('server_version_num') AS version`,
      names.flatMap((name) => [name, settings[name]!]),
    );
    return {
      client,
      where,
      secrets,
      serverVersionNum: Number(rows[0]!.version),
      close: () => client.end().catch(() => {}),
    };
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(error, where, secrets, missingDatabase);
  }
}
