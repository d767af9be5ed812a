// Helpers for this package's tests; not part of the published API (index.ts does not export it).
// Integration tests start their own PostgreSQL containers (label rel.test=1, port on 127.0.0.1 only) from the
// sandbox image, and talk to them through pg, and through `docker exec` for pg_dump / pg_restore.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { pollUntil } from '@rel/core';
import pg from 'pg';
import type { ConnectionSettings, DatabaseExec, ExecResult } from './types.js';

const run = promisify(execFile);
const POSTGRES_IMAGE = '127.0.0.1:5000/rel-sample/postgres:15';

/**
 * A `DatabaseExec` over `docker exec [-i] -e NAME... <container> ...argv`, as the CLI runs the tools: the
 * libpq variables go in by name (their values through docker's own environment, never in argv), except
 * PGHOST/PGPORT: inside the container the tool uses the server's local socket.
 */
export function dockerExec(container: string): DatabaseExec {
  return (argv, options = {}) =>
    new Promise<ExecResult>((resolve, reject) => {
      const env = Object.fromEntries(
        Object.entries(options.env ?? {}).filter(([name]) => name !== 'PGHOST' && name !== 'PGPORT'),
      );
      const args = [
        'exec',
        ...(options.stdin ? ['-i'] : []),
        ...Object.keys(env).flatMap((name) => ['-e', name]),
        container,
        ...argv,
      ];
      const child = spawn('docker', args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      if (options.stdout) child.stdout.pipe(options.stdout);
      else child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
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
  password: string;
  exec: DatabaseExec;
  /** Settings for `database` (default `app`) as user `app` (superuser), at the current port. */
  settings(database?: string): ConnectionSettings;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    database: string,
    sql: string,
    values?: unknown[],
  ): Promise<R[]>;
  databases(): Promise<string[]>;
  /** Writes a file into the container (for an extension's control and script files). */
  writeFile(path: string, content: string): Promise<void>;
  stop(): Promise<void>;
  /** Starts it again (the published port may change) and waits until it answers. */
  start(): Promise<void>;
  remove(): Promise<void>;
}

/** `dockerArgs`: more `docker run` options (e.g. a small `--tmpfs` for a tablespace that fills up). */
export async function startPostgres(name: string, dockerArgs: readonly string[] = []): Promise<TestPostgres> {
  const container = `reltest-replicate-${name}-${randomBytes(4).toString('hex')}`;
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
    ...dockerArgs,
    POSTGRES_IMAGE,
  ]);
  let port = 0;
  const settings = (database = 'app'): ConnectionSettings => ({
    host: '127.0.0.1',
    port,
    user: 'app',
    password,
    database,
  });
  const query = async <R extends pg.QueryResultRow>(database: string, sql: string, values?: unknown[]) => {
    const client = new pg.Client(settings(database));
    await client.connect();
    try {
      return (await client.query<R>(sql, values)).rows;
    } finally {
      await client.end();
    }
  };
  const ready = async () => {
    const { stdout } = await run('docker', ['port', container, '5432/tcp']);
    port = Number(stdout.trim().split('\n')[0]!.split(':').pop());
    // Over TCP with the password: the entrypoint's temporary init server listens on the socket only.
    await pollUntil(
      async () => {
        const client = new pg.Client({ ...settings(), connectionTimeoutMillis: 2000 });
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
  };
  const remove = async () => {
    await run('docker', ['rm', '-f', '-v', container]).catch(() => {});
  };
  try {
    await ready();
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    container,
    password,
    exec: dockerExec(container),
    settings,
    query,
    async databases() {
      const rows = await query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database ORDER BY 1');
      return rows.map((row) => row.datname);
    },
    async writeFile(path, content) {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('docker', ['exec', '-i', container, 'sh', '-c', 'cat > "$1"', 'sh', path]);
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writing ${path}: exit ${code}`))));
        child.stdin.end(content);
      });
    },
    async stop() {
      await run('docker', ['stop', '-t', '1', container]);
    },
    async start() {
      await run('docker', ['start', container]);
      await ready();
    },
    remove,
  };
}

/** Row count and a sum of the md5 of the rows of every table, plus sequences and large objects: "same content". */
export async function contentOf(db: TestPostgres, database: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const tables = await db.query<{ name: string }>(
    database,
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  for (const { name } of tables) {
    // md5 of each row folded by a sum: independent of the library's own checksum, and needs no sort.
    const [row] = await db.query<{ rows: string; sum: string | null }>(
      database,
      `SELECT count(*) AS rows, sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint) AS sum FROM ONLY ${name} t`,
    );
    out[`table ${name}`] = `${row!.rows} ${row!.sum}`;
  }
  const sequences = await db.query<{ name: string }>(
    database,
    `SELECT format('%I.%I', schemaname, sequencename) AS name FROM pg_sequences ORDER BY 1`,
  );
  for (const { name } of sequences) {
    const [row] = await db.query<{ v: string }>(database, `SELECT last_value || ' ' || is_called AS v FROM ${name}`);
    out[`sequence ${name}`] = row!.v;
  }
  const objects = await db.query<{ oid: string; md5: string }>(
    database,
    'SELECT oid::text, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid',
  );
  for (const { oid, md5 } of objects) out[`large object ${oid}`] = md5;
  return out;
}
