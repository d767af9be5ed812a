// Helpers for this package's tests; not part of the published API (index.ts does not export it).
// Integration tests start their own PostgreSQL container (label rel.test=1, port on 127.0.0.1 only) from the
// sandbox image, and talk to it through pg, and through `docker exec` for pg_dump and friends.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { pollUntil } from '@rel/core';
import pg from 'pg';
import type { DatabaseExec, ExecResult } from './types.js';

const run = promisify(execFile);
export const POSTGRES_IMAGE = '127.0.0.1:5000/rel-sample/postgres:15';

/** A `DatabaseExec` over `docker exec [-i] <container> ...argv`, streaming stdin and stdout. */
export function dockerExec(container: string): DatabaseExec {
  return (argv, options = {}) =>
    new Promise<ExecResult>((resolve, reject) => {
      const args = ['exec', ...(options.stdin ? ['-i'] : []), container, ...argv];
      const child = spawn('docker', args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      if (options.stdout) child.stdout.pipe(options.stdout);
      else child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      // The command may stop reading early (pg_restore --list): EPIPE is not an error.
      child.stdin.on('error', () => {});
      if (options.stdin) options.stdin.pipe(child.stdin);
      else child.stdin.end();
      child.on('error', reject);
      child.on('close', (code) => {
        options.stdin?.unpipe(child.stdin);
        resolve({
          exitCode: code ?? 1,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        });
      });
    });
}

export interface TestPostgres {
  container: string;
  port: number;
  password: string;
  exec: DatabaseExec;
  /** pg settings for `database` in this container. */
  config(database?: string): pg.ClientConfig;
  /** Creates an empty database and returns its settings. */
  createDatabase(name: string): Promise<pg.ClientConfig>;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    database: string,
    sql: string,
    values?: unknown[],
  ): Promise<R[]>;
  /** `pg_dump --schema-only` of the database and, per table, its row count and the md5 of its rows. */
  snapshot(database: string): Promise<{ schema: string; tables: Record<string, { rows: number; md5: string | null }> }>;
  remove(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const container = `reltest-migrate-${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  await run('docker', [
    'run',
    '-d',
    '--label',
    'rel.test=1',
    '--name',
    container,
    '-e',
    'POSTGRES_USER=app',
    '-e',
    `POSTGRES_PASSWORD=${password}`,
    '-e',
    'POSTGRES_DB=app',
    '-p',
    '127.0.0.1:0:5432',
    POSTGRES_IMAGE,
  ]);
  const remove = async () => {
    await run('docker', ['rm', '-f', '-v', container]).catch(() => {});
  };
  try {
    const { stdout } = await run('docker', ['port', container, '5432/tcp']);
    const port = Number(stdout.trim().split('\n')[0]!.split(':').pop());
    const config = (database = 'app'): pg.ClientConfig => ({
      host: '127.0.0.1',
      port,
      user: 'app',
      password,
      database,
    });
    const exec = dockerExec(container);
    // Over TCP with the password: the entrypoint's temporary init server listens on the socket only.
    await pollUntil(
      async () => {
        const client = new pg.Client({ ...config(), connectionTimeoutMillis: 2000 });
        client.on('error', () => {});
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } finally {
          await client.end().catch(() => {});
        }
      },
      { timeoutMs: 60_000, intervalMs: 250, waitingFor: `PostgreSQL in ${container} on 127.0.0.1:${port}` },
    );
    const query = async <R extends pg.QueryResultRow>(database: string, sql: string, values?: unknown[]) => {
      const client = new pg.Client(config(database));
      await client.connect();
      try {
        return (await client.query<R>(sql, values)).rows;
      } finally {
        await client.end();
      }
    };
    return {
      container,
      port,
      password,
      exec,
      config,
      async createDatabase(name) {
        await query('app', `CREATE DATABASE "${name}"`);
        return config(name);
      },
      query,
      async snapshot(database) {
        const dump = await exec(['pg_dump', '--schema-only', '--username=app', `--dbname=${database}`]);
        if (dump.exitCode !== 0) throw new Error(`pg_dump --schema-only: ${dump.stderr}`);
        const tables: Record<string, { rows: number; md5: string | null }> = {};
        const names = await query<{ name: string }>(
          database,
          `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
        );
        for (const { name } of names) {
          const [row] = await query<{ rows: string; md5: string | null }>(
            database,
            `SELECT count(*) AS rows, md5(string_agg(t::text, ',' ORDER BY t::text)) AS md5 FROM ${name} t`,
          );
          tables[name] = { rows: Number(row!.rows), md5: row!.md5 };
        }
        // pg_dump 15.14+ brackets its output with \restrict <random key>: not part of the schema.
        return { schema: dump.stdout.replace(/^\\(un)?restrict .*$/gm, ''), tables };
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}
