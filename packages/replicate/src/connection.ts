import { hostname } from 'node:os';
import { errorMessage, RelError } from '@rel/core';
import pg from 'pg';
import type { ConnectionSettings } from './types.js';

/** `application_name` of every session this library opens: it is how its own sessions are told apart. */
const APPLICATION_NAME = `rel replicate (${hostname()} pid ${process.pid})`.slice(0, 63);

/** `host:port/database`, for messages. */
export function describe(settings: ConnectionSettings, database = settings.database): string {
  return `${settings.host ?? 'localhost'}:${settings.port ?? 5432}/${database}`;
}

/** `message` with every secret replaced by `***` (and `password=...` pairs blanked). */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) if (secret.length >= 3) out = out.split(secret).join('***');
  return out.replace(/(password\s*=\s*)[^;\s]*/gi, '$1***');
}

export function secretsOf(...settings: ConnectionSettings[]): string[] {
  return settings.flatMap((s) => (typeof s.password === 'string' && s.password !== '' ? [s.password] : []));
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
]);

/** Turns a connection failure into UNREACHABLE, AUTH, NOT_FOUND or STEP_FAILED, naming where and never a secret. */
function connectionError(error: unknown, where: string, secrets: readonly string[]): RelError {
  if (error instanceof RelError) return error;
  const code = (error as { code?: string })?.code;
  const message = oneLine(redact(errorMessage(error), secrets));
  const details = { where, ...(code ? { code } : {}) };
  if (code === '28P01' || code === '28000' || /SASL|password/i.test(message)) {
    return new RelError('AUTH', `PostgreSQL at ${where} refused the credentials: ${message}`, { details });
  }
  if (code === '3D000') return new RelError('NOT_FOUND', `PostgreSQL at ${where}: ${message}`, { details });
  if (
    (code !== undefined && UNREACHABLE_CODES.has(code)) ||
    code === '57P03' ||
    /timeout|terminated|ECONNREFUSED|connect/i.test(message)
  ) {
    return new RelError('UNREACHABLE', `cannot reach PostgreSQL at ${where}: ${message || code}`, { details });
  }
  return new RelError('STEP_FAILED', `connecting to PostgreSQL at ${where}: ${message}`, { details });
}

/** The first line of a message, trimmed: errors of this library are one line. */
export function oneLine(text: string): string {
  return text.trim().split('\n')[0]!.trim();
}

/**
 * Session settings every session of a run shares, so that row text (COPY text format, checksums) is the same
 * on both sides whatever the servers' defaults are.
 */
const SESSION_SETTINGS: Record<string, string> = {
  application_name: APPLICATION_NAME,
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  TimeZone: 'UTC',
  extra_float_digits: '3',
  bytea_output: 'hex',
  lc_monetary: 'C',
  // Every name this library writes is schema-qualified; catalog output (regclass) then is too.
  search_path: '',
  statement_timeout: '0',
  lock_timeout: '0',
  idle_in_transaction_session_timeout: '0',
};

/** A connected client with the run's session settings. The caller ends it. */
export async function connect(
  settings: ConnectionSettings,
  options: { database?: string; secrets?: readonly string[] } = {},
): Promise<pg.Client> {
  const database = options.database ?? settings.database;
  const where = describe(settings, database);
  const secrets = options.secrets ?? secretsOf(settings);
  const client = new pg.Client({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database,
    ssl: settings.ssl as pg.ClientConfig['ssl'],
    connectionTimeoutMillis: settings.connectionTimeoutMillis ?? 10_000,
    // A server that vanishes without closing the connection (host down) is noticed in minutes, not hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: APPLICATION_NAME,
  });
  // A server that goes away is reported by the query that notices it.
  client.on('error', () => {});
  try {
    await client.connect();
    const names = Object.keys(SESSION_SETTINGS);
    await client.query(
      `SELECT ${names.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ')}`,
      names.flatMap((name) => [name, SESSION_SETTINGS[name]!]),
    );
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(error, where, secrets);
  }
  return client;
}

/** libpq environment for pg_dump / pg_restore: the connection travels there, never in argv. */
export function toolEnv(settings: ConnectionSettings, database = settings.database): Record<string, string> {
  const env: Record<string, string> = { PGDATABASE: database };
  if (settings.host !== undefined) env.PGHOST = settings.host;
  if (settings.port !== undefined) env.PGPORT = String(settings.port);
  if (settings.user !== undefined) env.PGUSER = settings.user;
  if (settings.password !== undefined) env.PGPASSWORD = settings.password;
  if (settings.ssl) env.PGSSLMODE = 'require';
  return env;
}
