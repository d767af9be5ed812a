// A migration bundle run as `bundleInvocation` says, in a one-off container of the sample API image (its
// stand-in efbundle: node-postgres, which reads PGPASSFILE as Npgsql does), against a real PostgreSQL whose
// password holds every character that breaks a connection string. The container is driven with the docker
// CLI here (this package does not depend on @rel/docker), the way `runOneOffContainer` drives the engine:
// create, the password file put in through `docker cp -` from a tar on stdin, start, removal.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from '@rel/core';
import { startPostgres, type TestPostgres } from '@rel/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleInvocation, bundleInvocation } from './bundle.js';
import { migrateDatabase } from './migrate.js';
import type { ExecResult, MigrationSource } from './types.js';

const run = promisify(execFile);
const API_IMAGE = '127.0.0.1:5000/rel-sample/api:v2';
const ROLE = 'bundle_owner';
/** Every character that breaks a connection string or a password file, and some that break shells. */
const PASSWORD = `pw-${randomBytes(6).toString('hex')};=x"y'z:\\ $HOME`;
/** What a leak would show: the start of the password, before any character that could be escaped. */
const LEAK = PASSWORD.slice(0, 15);

let db: TestPostgres;
let work: string;
let migrations: string[];
let imageUser: string;

beforeAll(async () => {
  db = await startPostgres('migrate');
  work = await mkdtemp(join(tmpdir(), 'rel-bundle-'));
  const { stdout } = await run('docker', ['image', 'inspect', API_IMAGE, '--format', '{{json .Config}}']);
  const config = JSON.parse(stdout) as { User: string; Labels: Record<string, string> };
  imageUser = config.User;
  migrations = config.Labels['rel.migrations']!.split(',');
  // A role with the tricky password owns a database of its own; the bundle connects as that role.
  const [create] = await db.query<{ sql: string }>(
    'app',
    `SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) AS sql`,
    [ROLE, PASSWORD],
  );
  await db.query('app', create!.sql);
  await db.query('app', `CREATE DATABASE bundled OWNER ${ROLE}`);
});

afterAll(async () => {
  await db?.remove();
  if (work) await rm(work, { recursive: true, force: true });
});

/** `docker start -a`, as a child process, with its output and exit code. */
function startAttached(id: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['start', '-a', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? 1, stdout, stderr }));
  });
}

/** `files` into the created container, owned by the image's user: a tar on stdin to `docker cp -`. */
async function putFiles(id: string, files: BundleInvocation['files']): Promise<void> {
  const dir = await mkdtemp(join(work, 'files-'));
  try {
    for (const file of files) {
      await mkdir(join(dir, dirname(file.path)), { recursive: true });
      await writeFile(join(dir, file.path), file.content, { mode: file.mode });
      await chmod(join(dir, file.path), file.mode);
    }
    const [uid, gid = uid] = imageUser.split(':');
    const tar = spawn('tar', [
      '--numeric-owner',
      `--owner=${uid}`,
      `--group=${gid}`,
      '-C',
      dir,
      '-cf',
      '-',
      ...files.map((f) => f.path.slice(1)),
    ]);
    const cp = spawn('docker', ['cp', '-', `${id}:/`], { stdio: ['pipe', 'ignore', 'pipe'] });
    tar.stdout.pipe(cp.stdin);
    let errors = '';
    cp.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => cp.on('close', resolve));
    if (code !== 0) throw new Error(`docker cp failed: ${errors}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Observed {
  ps: string;
  inspect: string;
  args: string[];
}

/**
 * The bundle in a one-off container beside the database (sharing its network: Host=127.0.0.1). While it
 * waits for a lock the test holds on the history table, `observe` sees `ps` and `docker inspect`.
 */
function bundleSource(observed: Observed[]): MigrationSource {
  return {
    kind: 'bundle',
    migrations,
    run: async ({ verbose }) => {
      const invocation = bundleInvocation({
        host: '127.0.0.1',
        port: 5432,
        database: 'bundled',
        username: ROLE,
        password: PASSWORD,
        verbose,
      });
      const env = Object.entries(invocation.env).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
      const { stdout } = await run('docker', [
        'create',
        '--label',
        'rel.test=1',
        '--network',
        `container:${db.container}`,
        ...env,
        '--entrypoint',
        '/app/efbundle',
        API_IMAGE,
        ...invocation.args,
      ]);
      const id = stdout.trim();
      const holder = new pg.Client(db.settings('bundled'));
      await holder.connect();
      try {
        await putFiles(id, invocation.files);
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE "__EFMigrationsHistory" IN ACCESS EXCLUSIVE MODE');
        const result = startAttached(id);
        let ended: ExecResult | undefined;
        result.then(
          (r) => (ended = r),
          () => undefined,
        );
        await pollUntil(
          async () => {
            if (ended) throw new Error(`the bundle ended (exit ${ended.exitCode}) before it waited: ${ended.stderr}`);
            const rows = await db.query(
              'bundled',
              `SELECT 1 FROM pg_stat_activity WHERE application_name = 'efbundle' AND wait_event_type = 'Lock'`,
            );
            return rows.length > 0;
          },
          { timeoutMs: 30_000, intervalMs: 50, waitingFor: 'the bundle to wait for the history table' },
        );
        const ps = (await run('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 })).stdout;
        const inspect = (await run('docker', ['inspect', id])).stdout;
        observed.push({ ps, inspect, args: invocation.args });
        await holder.query('COMMIT');
        return await result;
      } finally {
        await holder.end().catch(() => undefined);
        await run('docker', ['rm', '-f', id]).catch(() => undefined);
      }
    },
  };
}

describe('a migration bundle in a container, its password in a file', () => {
  it('migrates with a password holding ; = " \' : \\ and spaces, which is on no command line and not in docker inspect', async () => {
    const config = { ...db.settings('bundled'), user: ROLE, password: PASSWORD };
    const client = new pg.Client(config);
    await client.connect();
    await client.query(`CREATE TABLE "__EFMigrationsHistory" (
      "MigrationId" character varying(150) NOT NULL PRIMARY KEY,
      "ProductVersion" character varying(32) NOT NULL)`);
    await client.end();

    const observed: Observed[] = [];
    const result = await migrateDatabase({ connection: config, source: bundleSource(observed) });
    expect(result).toMatchObject({ applied: migrations, pending: migrations });
    const history = await db.query<{ id: string }>(
      'bundled',
      `SELECT "MigrationId" AS id FROM "__EFMigrationsHistory" ORDER BY 1`,
    );
    expect(history.map((row) => row.id)).toEqual(migrations);

    expect(observed).toHaveLength(1);
    const [{ ps, inspect, args }] = observed as [Observed];
    expect(ps).toContain(
      '/app/efbundle.mjs --connection Host=127.0.0.1;Port=5432;Database=bundled;Username=bundle_owner',
    );
    expect(ps).not.toContain(LEAK);
    expect(JSON.parse(inspect)[0].Args).toEqual(args);
    expect(JSON.parse(inspect)[0].Config.Env).toContain('PGPASSFILE=/rel-migrate/pgpass');
    expect(inspect).not.toContain(LEAK);
  });
});
