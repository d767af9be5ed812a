import { applicationName, connectPostgres, describeConnection, oneLine, pgToolEnv } from '@rel/postgres';
import type pg from 'pg';
import type { ConnectionSettings } from './types.js';

// Connecting, naming where a connection goes, redacting and the tools' libpq environment are @rel/postgres's and
// @rel/core's; this module gives them the names replicate's modules use.
export { redact } from '@rel/core';
export { oneLine, pgToolEnv as toolEnv };

/** `application_name` of every session this library opens: it is how its own sessions are told apart. */
const APPLICATION_NAME = applicationName('rel replicate');

/** `host:port/database`, for messages. */
export function describe(settings: ConnectionSettings, database = settings.database): string {
  return describeConnection(settings, database).where;
}

export function secretsOf(...settings: ConnectionSettings[]): string[] {
  return settings.flatMap((s) => describeConnection(s).secrets);
}

/**
 * Session settings every session of a run shares, so that row text (COPY text format, checksums) is the same
 * on both sides whatever the servers' defaults are.
 */
const SESSION_SETTINGS: Record<string, string> = {
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

/** A connected client with the run's session settings (TCP keepalive on). The caller ends it. */
export async function connect(
  settings: ConnectionSettings,
  options: { database?: string; secrets?: readonly string[] } = {},
): Promise<pg.Client> {
  const session = await connectPostgres(settings, {
    applicationName: APPLICATION_NAME,
    settings: SESSION_SETTINGS,
    ...(options.database === undefined ? {} : { database: options.database }),
    ...(options.secrets ? { secrets: options.secrets } : {}),
  });
  return session.client;
}
