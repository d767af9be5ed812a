import { execFile } from 'node:child_process';
import { appendFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelEvent } from '@rel/core';
import { startPostgres, type TestPostgres } from '@rel/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMigrationLockHolder, MIGRATION_LOCK_KEY } from './lock.js';
import { migrateDatabase, planMigrations } from './migrate.js';
import type { ExecResult, MigrationSource } from './types.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const INITIAL = '20251101000000_InitialCreate';
const ADD_DONE = '20251108000000_AddItemDone';

let db: TestPostgres;
let work: string;
let counter = 0;

beforeAll(async () => {
  db = await startPostgres('migrate');
  work = await mkdtemp(join(tmpdir(), 'rel-migrate-'));
});
afterAll(async () => {
  await db?.remove();
  if (work) await rm(work, { recursive: true, force: true });
});

async function freshDatabase(): Promise<{ name: string; config: pg.ClientConfig }> {
  const name = `t${++counter}`;
  return { name, config: await db.createDatabase(name) };
}

/** The stand-in efbundle, run on the host with `--connection` as the CLI runs the real one in a container. */
function bundle(config: pg.ClientConfig, version: 'v1' | 'v2'): MigrationSource {
  const connection = `Host=${config.host};Port=${config.port};Database=${config.database};Username=${config.user};Password=${config.password}`;
  return {
    kind: 'bundle',
    migrations: version === 'v1' ? [INITIAL] : [INITIAL, ADD_DONE],
    run: ({ verbose }) =>
      new Promise<ExecResult>((resolve) => {
        const args = [
          join(FIXTURES, 'bundle', 'efbundle.mjs'),
          '--connection',
          connection,
          ...(verbose ? ['--verbose'] : []),
        ];
        execFile(
          process.execPath,
          args,
          { env: { ...process.env, EFBUNDLE_MIGRATIONS: join(FIXTURES, 'sql', version) } },
          (error, stdout, stderr) => resolve({ exitCode: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      }),
  };
}

const FORMS: { form: string; source: (config: pg.ClientConfig, version: 'v1' | 'v2') => MigrationSource }[] = [
  { form: 'sql-folder', source: (_, v) => ({ kind: 'sql-folder', dir: join(FIXTURES, 'sql', v) }) },
  {
    form: 'idempotent-script',
    source: (_, v) => ({ kind: 'idempotent-script', file: join(FIXTURES, 'script', `${v}.sql`) }),
  },
  { form: 'bundle', source: bundle },
];

async function history(database: string): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    database,
    `SELECT "MigrationId" AS id FROM "__EFMigrationsHistory" ORDER BY 1`,
  );
  return rows.map((r) => r.id);
}

describe.each(FORMS)('$form: v1 -> v2', ({ form, source }) => {
  it('applies each migration once; a second run applies nothing', async () => {
    const { name, config } = await freshDatabase();
    const dry = await migrateDatabase({ connection: config, source: source(config, 'v2'), dryRun: true });
    expect(dry).toMatchObject({ applied: [], pending: [INITIAL, ADD_DONE], dryRun: true });
    expect(await db.query(name, `SELECT to_regclass('"__EFMigrationsHistory"') AS t`)).toEqual([{ t: null }]);

    const v1 = await migrateDatabase({ connection: config, source: source(config, 'v1') });
    expect(v1).toMatchObject({ applied: [INITIAL], alreadyApplied: [] });
    await db.query(name, `INSERT INTO items (name) VALUES ('kept')`);

    const events: RelEvent[] = [];
    const v2 = await migrateDatabase({
      connection: config,
      source: source(config, 'v2'),
      onEvent: (e) => events.push(e),
    });
    expect(v2).toMatchObject({ applied: [ADD_DONE], pending: [ADD_DONE], alreadyApplied: [INITIAL] });
    expect(events.some((e) => e.type === 'step:finish' && e.step === 'db:verify')).toBe(true);
    expect(await db.query(name, `SELECT name, done FROM items`)).toEqual([{ name: 'kept', done: false }]);
    expect(await history(name)).toEqual([INITIAL, ADD_DONE]);

    const again = await migrateDatabase({ connection: config, source: source(config, 'v2') });
    expect(again).toMatchObject({ applied: [], pending: [], alreadyApplied: [INITIAL, ADD_DONE] });
    if (form !== 'bundle') {
      const checksums = await db.query(name, `SELECT "MigrationId" FROM "__RelMigrationChecksums" ORDER BY 1`);
      expect(checksums.map((r) => r.MigrationId)).toEqual([INITIAL, ADD_DONE]);
    }
  });

  it('two concurrent runs never both apply', async () => {
    const { name, config } = await freshDatabase();
    const results = await Promise.all([
      migrateDatabase({ connection: config, source: source(config, 'v2') }),
      migrateDatabase({ connection: config, source: source(config, 'v2') }),
    ]);
    const applied = results.map((r) => r.applied).sort((a, b) => b.length - a.length);
    expect(applied).toEqual([[INITIAL, ADD_DONE], []]);
    expect(await history(name)).toEqual([INITIAL, ADD_DONE]);
  });
});

/** A SQL folder: v2's migrations plus `extra` files. */
async function folderWith(extra: Record<string, string>): Promise<string> {
  const dir = join(work, `folder-${++counter}`);
  await cp(join(FIXTURES, 'sql', 'v2'), dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) await writeFile(join(dir, name), sql);
  return dir;
}

describe('failures', () => {
  it('a failing migration is rolled back: schema and data exactly as before, with line and column', async () => {
    const { name, config } = await freshDatabase();
    await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir: join(FIXTURES, 'sql', 'v2') } });
    await db.query(name, `INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 20) g`);
    const before = await db.snapshot(name);
    const dir = await folderWith({
      '20251109000000_Broken.sql': [
        '-- adds a column, changes data, then fails',
        'ALTER TABLE items ADD COLUMN priority int NOT NULL DEFAULT 0;',
        "UPDATE items SET name = 'renamed';",
        'UPDATE items',
        '   SET priority = no_such_column + 1;',
      ].join('\n'),
    });
    const error = await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir } }).catch((e) => e);
    expect(error).toMatchObject({ code: 'STEP_FAILED' });
    expect(error.message).toBe(
      `migration 20251109000000_Broken failed at ${dir}/20251109000000_Broken.sql:5:19: column "no_such_column" does not exist in: UPDATE items SET priority = no_such_column + 1; rolled back`,
    );
    expect(error.details).toMatchObject({
      migrationId: '20251109000000_Broken',
      line: 5,
      column: 19,
      pgCode: '42703',
      rolledBack: true,
    });
    expect(await db.snapshot(name)).toEqual(before);
  });

  it('a runtime error inside an idempotent script points into its DO block', async () => {
    const { name, config } = await freshDatabase();
    const file = join(work, `script-${++counter}.sql`);
    await cp(join(FIXTURES, 'script', 'v2.sql'), file);
    await appendFile(
      file,
      `START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20251109000000_Broken') THEN
    ALTER TABLE items ADD "Priority" integer NOT NULL DEFAULT 0;
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20251109000000_Broken') THEN
    UPDATE items SET "Priority" = "Missing" + 1;
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20251109000000_Broken') THEN
    INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
    VALUES ('20251109000000_Broken', '8.0.11');
    END IF;
END $EF$;
COMMIT;
`,
    );
    const error = await migrateDatabase({ connection: config, source: { kind: 'idempotent-script', file } }).catch(
      (e) => e,
    );
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(
      /^migration 20251109000000_Broken failed at .*:\d+:\d+: column "Missing" does not exist/,
    );
    expect(error.message).toContain(`(applied before it and kept: ${INITIAL}, ${ADD_DONE})`);
    const lines = (await import('node:fs')).readFileSync(file, 'utf8').split('\n');
    expect(lines[error.details.line - 1]!.slice(error.details.column - 1)).toMatch(/^"Missing"/);
    expect(await history(name)).toEqual([INITIAL, ADD_DONE]);
    expect(
      await db.query(
        name,
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'Priority'`,
      ),
    ).toEqual([]);
  });

  it('a failing non-transactional migration restores the backup and says so', async () => {
    const { name, config } = await freshDatabase();
    await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir: join(FIXTURES, 'sql', 'v2') } });
    await db.query(name, `INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 20) g`);
    const before = await db.snapshot(name);
    const dir = await folderWith({
      '20251109000000_Indexes.sql':
        'CREATE INDEX CONCURRENTLY ix_items_name ON items (name);\nCREATE INDEX CONCURRENTLY ix_items_bad ON items (nope);\n',
    });
    const events: RelEvent[] = [];
    const error = await migrateDatabase({
      connection: config,
      source: { kind: 'sql-folder', dir },
      backup: { exec: db.exec, database: name, user: 'app', dir: join(work, 'backups') },
      onEvent: (e) => events.push(e),
    }).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(
      /^migration 20251109000000_Indexes failed outside a transaction at .*:2:1: column "nope" does not exist .*; the database was restored from the backup .*\.dump$/,
    );
    expect(error.details).toMatchObject({ restored: true });
    expect(
      events.some(
        (e) =>
          e.type === 'log' &&
          e.level === 'warn' &&
          /runs outside a transaction \(CREATE INDEX CONCURRENTLY\)/.test(e.message),
      ),
    ).toBe(true);
    expect(events.some((e) => e.type === 'step:finish' && e.step === 'db:restore')).toBe(true);
    expect(await db.snapshot(name)).toEqual(before);
  });

  it('an applied migration changed afterwards is drift, reported before anything runs', async () => {
    const { name, config } = await freshDatabase();
    const dir = join(work, `drift-${++counter}`);
    await cp(join(FIXTURES, 'sql', 'v1'), dir, { recursive: true });
    await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir } });
    await appendFile(join(dir, `${INITIAL}.sql`), 'CREATE INDEX items_name ON items (name);\n');
    await writeFile(
      join(dir, `${ADD_DONE}.sql`),
      'ALTER TABLE items ADD COLUMN done boolean NOT NULL DEFAULT false;\n',
    );
    const error = await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir } }).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(
      new RegExp(
        `^migration drift: an applied migration was changed afterwards: ${INITIAL} \\(applied sha256 [0-9a-f]{12}, now [0-9a-f]{12}\\); nothing was run$`,
      ),
    );
    expect(await history(name)).toEqual([INITIAL]);
  });
});

describe('lock', () => {
  it('times out naming the holder', async () => {
    const { config } = await freshDatabase();
    const holder = new pg.Client({ ...config, application_name: 'rel db migrate (other-host pid 4242)' });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK_KEY]);
      const [{ pid }] = (await holder.query('SELECT pg_backend_pid() AS pid')).rows;
      const probe = new pg.Client(config);
      await probe.connect();
      expect(await findMigrationLockHolder(probe)).toMatchObject({
        pid,
        applicationName: 'rel db migrate (other-host pid 4242)',
      });
      await probe.end();
      const started = Date.now();
      const error = await migrateDatabase({
        connection: config,
        source: { kind: 'sql-folder', dir: join(FIXTURES, 'sql', 'v2') },
        lockWaitMs: 1000,
      }).catch((e) => e);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(error.code).toBe('LOCKED');
      expect(error.message).toMatch(
        new RegExp(
          `holds the lock on this database: "rel db migrate \\(other-host pid 4242\\)" \\(pid ${pid} from [0-9.]+, connected since \\d{4}-.*Z, last query at .*Z\\); waited 1\\.\\ds`,
        ),
      );
    } finally {
      await holder.end();
    }
  });
});

describe('plan and lint', () => {
  it('lists pending migrations and warns about heavy statements without changing anything', async () => {
    const { name, config } = await freshDatabase();
    await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir: join(FIXTURES, 'sql', 'v2') } });
    const dir = await folderWith({
      '20251109000000_Heavy.sql':
        'CREATE INDEX items_name ON items (name);\nALTER TABLE items RENAME COLUMN name TO title;\n',
    });
    const plan = await planMigrations({ connection: config, source: { kind: 'sql-folder', dir } });
    expect(plan).toMatchObject({ pending: ['20251109000000_Heavy'], alreadyApplied: [INITIAL, ADD_DONE], unknown: [] });
    expect(plan.warnings.map((w) => [w.rule, w.line])).toEqual([
      ['index-without-concurrently', 1],
      ['rename', 2],
    ]);
    expect(await history(name)).toEqual([INITIAL, ADD_DONE]);
  });

  it('warns about history ids the source does not know', async () => {
    const { config } = await freshDatabase();
    await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir: join(FIXTURES, 'sql', 'v2') } });
    const result = await migrateDatabase({
      connection: config,
      source: { kind: 'sql-folder', dir: join(FIXTURES, 'sql', 'v1') },
    });
    expect(result.applied).toEqual([]);
    expect(result.warnings).toMatchObject([{ migrationId: ADD_DONE, rule: 'unknown-migration' }]);
  });
});

describe('bad input: one line, nothing changed', () => {
  const v2 = (): MigrationSource => ({ kind: 'sql-folder', dir: join(FIXTURES, 'sql', 'v2') });

  it('database unreachable: names host and port, never the password', async () => {
    const password = 'Sup3r-Secret-pw';
    const error = await migrateDatabase({
      connection: { host: '127.0.0.1', port: 1, user: 'app', password, database: 'app' },
      source: v2(),
    }).catch((e) => e);
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toMatch(/^cannot reach PostgreSQL at 127\.0\.0\.1:1\/app: .*ECONNREFUSED/);
    expect(error.message).not.toContain('\n');
    expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain(password);

    const viaUrl = await migrateDatabase({
      connection: { connectionString: `postgres://app:${password}@127.0.0.1:1/app` },
      source: v2(),
    }).catch((e) => e);
    expect(viaUrl.code).toBe('UNREACHABLE');
    expect(viaUrl.message).toMatch(/127\.0\.0\.1:1\/app/);
    expect(viaUrl.message).not.toContain(password);
  });

  it('wrong password: AUTH', async () => {
    const error = await migrateDatabase({
      connection: { ...db.settings(), password: 'wrong-password' },
      source: v2(),
    }).catch((e) => e);
    expect(error.code).toBe('AUTH');
    expect(error.message).toBe(
      `PostgreSQL at 127.0.0.1:${db.port}/app refused the credentials: password authentication failed for user "app"`,
    );
  });

  it('missing migrations folder: CONFIG naming the path', async () => {
    const missing = join(work, 'no-such-folder');
    const error = await migrateDatabase({
      connection: db.settings(),
      source: { kind: 'sql-folder', dir: missing },
    }).catch((e) => e);
    expect(error).toMatchObject({ code: 'CONFIG', message: `migrations folder ${missing} does not exist` });
  });

  it('malformed SQL: caught before connecting, with line and column', async () => {
    const { name, config } = await freshDatabase();
    const dir = await folderWith({ '20251109000000_Bad.sql': "INSERT INTO items (name)\nVALUES ('unterminated);\n" });
    const error = await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir } }).catch((e) => e);
    expect(error).toMatchObject({
      code: 'BAD_INPUT',
      message: `malformed SQL in ${dir}/20251109000000_Bad.sql at line 2, column 9: unterminated string literal`,
    });
    expect(await db.query(name, `SELECT to_regclass('"__EFMigrationsHistory"') AS t`)).toEqual([{ t: null }]);
  });

  it('a syntax error: reported with PostgreSQL position, rolled back', async () => {
    const { config } = await freshDatabase();
    const dir = await folderWith({ '20251109000000_Typo.sql': 'CREAT TABLE x (a int);\n' });
    const error = await migrateDatabase({ connection: config, source: { kind: 'sql-folder', dir } }).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(
      /20251109000000_Typo\.sql:1:1: syntax error at or near "CREAT" in: CREAT TABLE x \(a int\); rolled back/,
    );
  });
});
