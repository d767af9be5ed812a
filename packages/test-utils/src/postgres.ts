// PostgreSQL for integration tests and benchmarks: containers of the sandbox's PostgreSQL image (label rel.test=1,
// port on 127.0.0.1 only), reached through pg, and through `docker exec` for psql, pg_dump and pg_restore.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { pollUntil } from '@rel/core';
import { type DatabaseExec, type ExecOptions, type ExecResult, localExec } from '@rel/postgres';
import pg from 'pg';
import { SANDBOX_IMAGES } from './sandbox.js';

const run = promisify(execFile);
export const POSTGRES_IMAGE = SANDBOX_IMAGES.postgres;

/** The exec of @rel/db-migrate (`DatabaseExec`) and @rel/replicate (`PgToolExec`): @rel/postgres's one shape. */
export type PgExecOptions = ExecOptions;
export type PgExecResult = ExecResult;
export type PgExec = DatabaseExec;

/**
 * A `DatabaseExec` / `PgToolExec` over `docker exec [-i] -e NAME... <container> ...argv` (run by @rel/postgres's
 * `localExec`, streaming stdin and stdout), as the CLI runs the tools: the libpq variables go in by name (their
 * values through docker's own environment, never in argv), except PGHOST/PGPORT: inside the container the tool
 * uses the server's local socket.
 */
export function dockerExec(container: string): PgExec {
  return (argv, options = {}) => {
    const env = Object.fromEntries(
      Object.entries(options.env ?? {}).filter(([name]) => name !== 'PGHOST' && name !== 'PGPORT'),
    );
    const names = Object.keys(env).flatMap((name) => ['-e', name]);
    return localExec(['docker', 'exec', ...(options.stdin ? ['-i'] : []), ...names, container, ...argv], {
      ...options,
      env,
    });
  };
}

/** What pg (and @rel/db-migrate / @rel/replicate) need to reach a database of the test container. */
export interface PgSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface TestPostgres {
  container: string;
  /** The published port on 127.0.0.1 (it may change when the container is started again). */
  readonly port: number;
  password: string;
  exec: PgExec;
  /** Settings for `database` (default `app`) as user `app` (superuser), at the current port. */
  settings(database?: string): PgSettings;
  /** Creates an empty database and returns its settings. */
  createDatabase(name: string): Promise<PgSettings>;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    database: string,
    sql: string,
    values?: unknown[],
  ): Promise<R[]>;
  databases(): Promise<string[]>;
  /** `pg_dump --schema-only` of the database and, per table, its row count and the md5 of its sorted rows. */
  snapshot(database: string): Promise<Snapshot>;
  /** Writes a file into the container (for an extension's control and script files). */
  writeFile(path: string, content: string): Promise<void>;
  stop(): Promise<void>;
  /** Starts it again (the published port may change) and waits until it answers. */
  start(): Promise<void>;
  remove(): Promise<void>;
}

/**
 * `docker run` arguments of a detached PostgreSQL container `container` of the sandbox image: label rel.test=1, user
 * and database `app` with `password`, port 5432 published on 127.0.0.1 (a free port), then `dockerArgs`.
 */
export function postgresRunArgs(container: string, password: string, dockerArgs: readonly string[] = []): string[] {
  return [
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
  ];
}

/**
 * Starts a PostgreSQL container `reltest-<name>-<random>` (user, password-protected, and database `app`) and waits
 * until it answers over TCP. `dockerArgs`: more `docker run` options (e.g. a small `--tmpfs` for a tablespace).
 */
export async function startPostgres(name: string, dockerArgs: readonly string[] = []): Promise<TestPostgres> {
  const container = `reltest-${name}-${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  await run('docker', postgresRunArgs(container, password, dockerArgs));
  let port = 0;
  const settings = (database = 'app'): PgSettings => ({ host: '127.0.0.1', port, user: 'app', password, database });
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
  const db: TestPostgres = {
    container,
    get port() {
      return port;
    },
    password,
    exec: dockerExec(container),
    settings,
    async createDatabase(database) {
      await query('app', `CREATE DATABASE "${database}"`);
      return settings(database);
    },
    query,
    async databases() {
      const rows = await query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database ORDER BY 1');
      return rows.map((row) => row.datname);
    },
    snapshot: (database) => snapshotOf(db, database),
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
  return db;
}

const USER_TABLES = `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
  WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`;

export interface Snapshot {
  schema: string;
  tables: Record<string, { rows: number; md5: string | null }>;
}

async function snapshotOf(db: TestPostgres, database: string): Promise<Snapshot> {
  const dump = await db.exec(['pg_dump', '--schema-only', '--username=app', `--dbname=${database}`]);
  if (dump.exitCode !== 0) throw new Error(`pg_dump --schema-only: ${dump.stderr}`);
  const tables: Snapshot['tables'] = {};
  for (const { name } of await db.query<{ name: string }>(database, USER_TABLES)) {
    const [row] = await db.query<{ rows: string; md5: string | null }>(
      database,
      `SELECT count(*) AS rows, md5(string_agg(t::text, ',' ORDER BY t::text)) AS md5 FROM ${name} t`,
    );
    tables[name] = { rows: Number(row!.rows), md5: row!.md5 };
  }
  // pg_dump 15.14+ brackets its output with \restrict <random key>: not part of the schema.
  return { schema: dump.stdout.replace(/^\\(un)?restrict .*$/gm, ''), tables };
}

/** Row count and a sum of the md5 of the rows of every table, plus sequences and large objects: "same content". */
export async function contentOf(db: TestPostgres, database: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { name } of await db.query<{ name: string }>(database, USER_TABLES)) {
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

/** Runs SQL in a container with psql over its local socket (as user `app`); returns psql's output, trimmed. */
export async function psql(container: string, sql: string, database = 'app'): Promise<string> {
  const { stdout } = await run(
    'docker',
    ['exec', container, 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-U', 'app', '-d', database, '-c', sql],
    { maxBuffer: 1 << 26 },
  );
  return stdout.trim();
}

/** Waits (60 s at most) until PostgreSQL in `container` answers pg_isready on TCP inside the container. */
export async function waitForPostgres(container: string): Promise<void> {
  // On TCP: the entrypoint's temporary init server listens on the socket only.
  const isReady = ['exec', container, 'pg_isready', '-q', '-h', '127.0.0.1', '-U', 'app', '-d', 'app'];
  for (let i = 0; ; i++) {
    const ok = await run('docker', isReady).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (i > 240) {
      const { stdout, stderr } = await run('docker', ['logs', '--tail', '20', container]).catch(() => ({
        stdout: '',
        stderr: '',
      }));
      throw new Error(`PostgreSQL in ${container} did not start within 60 s:\n${stdout}${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
