import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelEvent } from '@rel/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupDatabase, listBackups, restoreDatabase } from './backup.js';
import { startPostgres, type TestPostgres } from './test-support.js';

let db: TestPostgres;
let dir: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = await mkdtemp(join(tmpdir(), 'rel-backup-'));
});
afterAll(async () => {
  await db?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const SEED = `
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, done boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX items_name ON items (name);
INSERT INTO items (name, done) SELECT 'item ' || g, g % 3 = 0 FROM generate_series(1, 500) g;
CREATE SCHEMA audit;
CREATE TABLE audit.log (at timestamptz DEFAULT now(), what jsonb);
INSERT INTO audit.log (what) SELECT jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)) FROM generate_series(1, 50) g;
CREATE VIEW open_items AS SELECT id, name FROM items WHERE NOT done;
`;

describe('backupDatabase / restoreDatabase', () => {
  it('backs up to a 0600 file with its size and sha256, and restores exactly', async () => {
    await db.createDatabase('shop');
    for (const statement of SEED.split(';\n')) if (statement.trim()) await db.query('shop', statement);
    const before = await db.snapshot('shop');
    expect(before.tables['public.items']!.rows).toBe(500);

    const events: RelEvent[] = [];
    const backup = await backupDatabase({
      exec: db.exec,
      database: 'shop',
      user: 'app',
      dir,
      onEvent: (e) => events.push(e),
    });
    expect(backup.file).toMatch(new RegExp(`^${dir}/shop-\\d{8}T\\d{9}Z\\.dump$`));
    const info = await stat(backup.file);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.size).toBe(backup.bytes);
    expect(
      createHash('sha256')
        .update(await readFile(backup.file))
        .digest('hex'),
    ).toBe(backup.sha256);
    expect(backup.entries).toBeGreaterThan(5);
    expect(events.map((e) => e.type)).toContain('step:finish');

    // Change everything a migration could: data, schema, new objects.
    await db.query('shop', `DELETE FROM items WHERE id > 100`);
    await db.query('shop', `UPDATE items SET name = 'changed' WHERE id < 10`);
    await db.query('shop', `ALTER TABLE items ADD COLUMN extra int DEFAULT 1`);
    await db.query('shop', `CREATE TABLE created_later (a int)`);
    await db.query('shop', `DROP VIEW open_items`);
    await db.query('shop', `CREATE SCHEMA later`);
    expect((await db.snapshot('shop')).schema).not.toBe(before.schema);

    const restored = await restoreDatabase({
      exec: db.exec,
      file: backup.file,
      database: 'shop',
      user: 'app',
      sha256: backup.sha256,
    });
    expect(restored.database).toBe('shop');
    const after = await db.snapshot('shop');
    expect(after.tables).toEqual(before.tables);
    expect(after.schema).toBe(before.schema);
    // The sequence goes on where it was.
    const [row] = await db.query<{ id: number }>('shop', `INSERT INTO items (name) VALUES ('next') RETURNING id`);
    expect(row!.id).toBe(501);
  });

  it('keeps the newest N backups of the database', async () => {
    await db.createDatabase('small');
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const backup = await backupDatabase({
        exec: db.exec,
        database: 'small',
        user: 'app',
        dir,
        keep: 2,
        compression: 1,
      });
      files.push(backup.file);
      if (i === 2) expect(backup.removed).toEqual([files[0]]);
    }
    expect(await listBackups(dir, 'small')).toEqual(files.slice(1));
    // Other databases' backups are not touched.
    expect((await listBackups(dir, 'shop')).length).toBe(1);
  });

  it('fails on a database that does not exist, leaving no file behind', async () => {
    const error = await backupDatabase({ exec: db.exec, database: 'nope', user: 'app', dir }).catch((e) => e);
    expect(error).toMatchObject({ code: 'STEP_FAILED' });
    expect(error.message).toMatch(/pg_dump of nope failed.*database "nope" does not exist/);
    expect(await listBackups(dir, 'nope')).toEqual([]);
  });

  it('refuses a damaged or missing backup before dropping anything', async () => {
    const before = await db.snapshot('shop');
    const [backup] = await listBackups(dir, 'shop');
    const damaged = await restoreDatabase({
      exec: db.exec,
      file: backup!,
      database: 'shop',
      user: 'app',
      sha256: '0'.repeat(64),
    }).catch((e) => e);
    expect(damaged).toMatchObject({ code: 'STEP_FAILED', message: expect.stringMatching(/is damaged/) });
    const missing = await restoreDatabase({
      exec: db.exec,
      file: join(dir, 'none.dump'),
      database: 'shop',
      user: 'app',
    }).catch((e) => e);
    expect(missing).toMatchObject({ code: 'NOT_FOUND' });
    expect(await db.snapshot('shop')).toEqual(before);
  });

  it('leaves the database unchanged when the dump cannot be read', async () => {
    const before = await db.snapshot('shop');
    const bogus = join(dir, 'bogus.dump');
    await (await import('node:fs/promises')).writeFile(bogus, 'PGDMP but not really a dump');
    const error = await restoreDatabase({ exec: db.exec, file: bogus, database: 'shop', user: 'app' }).catch((e) => e);
    expect(error).toMatchObject({ code: 'STEP_FAILED', message: expect.stringMatching(/pg_restore could not read/) });
    expect(await db.snapshot('shop')).toEqual(before);
  });
});
