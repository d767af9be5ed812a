import type { Readable, Writable } from 'node:stream';
import type { Client, ClientConfig } from 'pg';

/** Where a database is: what `pg` needs to reach it over TCP. The password never appears in messages. */
export interface ConnectionSettings {
  /** Default `$PGHOST`, else `localhost`. */
  host?: string;
  /** Default `$PGPORT`, else 5432. */
  port?: number;
  user?: string;
  password?: string;
  database: string;
  /** Passed to `pg` as is; `PGSSLMODE=require` is given to pg_dump / pg_restore when set. */
  ssl?: boolean | Record<string, unknown>;
  /** Connection timeout, ms. Default 10000. */
  connectionTimeoutMillis?: number;
}

/**
 * What a session can be opened from: connection settings, any other `pg` client configuration (a
 * `connectionString`, say), or a function returning a connected client (which the session then ends).
 */
export type DatabaseConnection = ConnectionSettings | ClientConfig | (() => Promise<Client>);

/** What a command returned. A non-zero exit code is a result, not an error. */
export interface ExecResult {
  exitCode: number;
  /** Standard output as text; `''` when it was streamed into `ExecOptions.stdout`. */
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Piped into the command's standard input, which is closed when it ends. The command may stop reading early. */
  stdin?: Readable;
  /** Receives the command's standard output (then ended); the result's `stdout` is then `''`. */
  stdout?: Writable;
  /**
   * libpq variables for the tool (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`: see
   * `pgToolEnv`), when the caller connects the tool over TCP. An exec that runs the tool inside the database's
   * container may drop `PGHOST`/`PGPORT` (to use the container's local socket) or replace them.
   */
  env?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * Runs a PostgreSQL client tool (`pg_dump`, `pg_restore`, `psql`): `argv[0]` is the tool, the rest its arguments
 * (an argument array, never a shell string). `localExec` spawns the local binaries; the rel CLI runs them inside
 * the database's container (their version then matches the server's), where they may connect over the local
 * socket as a user the server trusts.
 */
export type DatabaseExec = (argv: string[], options?: ExecOptions) => Promise<ExecResult>;
