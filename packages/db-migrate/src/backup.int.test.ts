import { createHash } from 'node:crypto';
import { appendFileSync, createWriteStream } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { RelError, type RelEvent } from '@rel/core';
import { startPostgres, type TestPostgres } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupDatabase, listBackups, readBackupManifest, restoreDatabase, verifyBackup } from './backup.js';

let db: TestPostgres;
let dir: string;

beforeAll(async () => {
  db = await startPostgres('migrate');
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
    expect(missing).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/none\.dump does not exist$/) });
    expect(await db.snapshot('shop')).toEqual(before);
  });

  it('leaves the database unchanged when the dump cannot be read', async () => {
    const before = await db.snapshot('shop');
    const bogus = join(dir, 'bogus.dump');
    await (await import('node:fs/promises')).writeFile(bogus, 'PGDMP but not really a dump');
    // allowUnverified: past the manifest check, so that pg_restore itself reads it
    const error = await restoreDatabase({
      exec: db.exec,
      file: bogus,
      database: 'shop',
      user: 'app',
      allowUnverified: true,
    }).catch((e) => e);
    expect(error).toMatchObject({ code: 'STEP_FAILED', message: expect.stringMatching(/pg_restore could not read/) });
    expect(await db.snapshot('shop')).toEqual(before);
  });
});

// Security review, issue 15: restore replays a file as the database owner, so it takes only backups it recorded.
describe('backup manifests: restore takes only a backup it knows', () => {
  let known: string;
  let other: string;

  beforeAll(async () => {
    known = await mkdtemp(join(tmpdir(), 'rel-backup-known-'));
    other = await mkdtemp(join(tmpdir(), 'rel-backup-other-'));
    await db.createDatabase('vault');
    await db.query('vault', `CREATE TABLE secrets (id int PRIMARY KEY, v text)`);
    await db.query('vault', `INSERT INTO secrets SELECT g, 'v' || g FROM generate_series(1, 200) g`);
  });
  afterAll(async () => {
    for (const d of [known, other]) if (d) await rm(d, { recursive: true, force: true });
  });

  /** A dump pg_dump wrote that no manifest records. */
  async function unrecordedDump(path: string): Promise<void> {
    const out = createWriteStream(path, { mode: 0o600 });
    const r = await db.exec(['pg_dump', '--format=custom', '--username=app', '--dbname=vault'], { stdout: out });
    await finished(out);
    expect(r.exitCode, r.stderr).toBe(0);
  }

  async function refused(options: Partial<Parameters<typeof restoreDatabase>[0]>): Promise<RelError> {
    const before = await db.snapshot('vault');
    const error = await restoreDatabase({
      exec: db.exec,
      file: '',
      database: 'vault',
      user: 'app',
      backupDirs: [known],
      ...options,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).message.split('\n')).toHaveLength(1);
    expect(await db.snapshot('vault')).toEqual(before);
    return error as RelError;
  }

  it('records each backup in a 0600 manifest beside it; a backup then a restore works, checked against it', async () => {
    const before = await db.snapshot('vault');
    const backup = await backupDatabase({
      exec: db.exec,
      database: 'vault',
      user: 'app',
      dir: known,
      environment: 'green',
    });
    expect(backup.manifest).toBe(`${backup.file}.json`);
    expect((await stat(backup.manifest)).mode & 0o777).toBe(0o600);
    const manifest = JSON.parse(await readFile(backup.manifest, 'utf8'));
    expect(manifest).toMatchObject({
      kind: 'rel-backup',
      version: 1,
      file: basename(backup.file),
      sha256: backup.sha256,
      bytes: backup.bytes,
      database: 'vault',
      environment: 'green',
      entries: backup.entries,
    });
    expect(Date.parse(manifest.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await readBackupManifest(backup.manifest)).toEqual(manifest);
    expect((await readdir(known)).filter((n) => n.includes('partial'))).toEqual([]);

    await db.query('vault', `DELETE FROM secrets WHERE id > 10`);
    const restored = await restoreDatabase({ exec: db.exec, file: backup.file, database: 'vault', user: 'app' });
    expect(restored).toMatchObject({ sha256: backup.sha256, manifest: { sha256: backup.sha256 } });
    expect(restored.unverified).toBeUndefined();
    expect(await db.snapshot('vault')).toEqual(before);
  });

  it('refuses a backup changed by one byte, naming the file, before touching the database', async () => {
    const [backup] = await listBackups(known, 'vault');
    const tampered = join(known, basename(backup!).replace('.dump', '9.dump'));
    const bytes = await readFile(backup!);
    await writeFile(tampered, bytes, { mode: 0o600 });
    await copyFile(`${backup}.json`, `${tampered}.json`);
    // its own manifest, naming it
    const manifest = JSON.parse(await readFile(`${tampered}.json`, 'utf8'));
    await writeFile(`${tampered}.json`, JSON.stringify({ ...manifest, file: basename(tampered) }));
    const middle = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle); // one byte changed
    await writeFile(tampered, bytes);
    const error = await refused({ file: tampered, backupDirs: undefined });
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toBe(
      `refusing to restore ${tampered}: its sha256 or size does not match its manifest ${tampered}.json: it changed after it was written`,
    );
    await rm(tampered);
    await rm(`${tampered}.json`);
  });

  it('refuses a file that is not a backup: /etc/hostname, an unrecorded dump, a forged manifest outside the backups', async () => {
    const hostname = await refused({ file: '/etc/hostname' });
    expect(hostname.code).toBe('BAD_INPUT');
    expect(hostname.message).toBe(
      `refusing to restore /etc/hostname: no backup manifest in ${known} records it (not a backup rel wrote)`,
    );
    expect((await refused({ file: '/etc' })).message).toBe('refusing to restore /etc: it is not a regular file');
    expect((await refused({ file: join(known, 'none.dump') })).code).toBe('BAD_INPUT');

    const loose = join(other, 'vault-loose.dump');
    await unrecordedDump(loose);
    const unrecorded = await refused({ file: loose });
    expect(unrecorded.code).toBe('BAD_INPUT');
    expect(unrecorded.message).toMatch(new RegExp(`^refusing to restore ${loose}: no backup manifest in ${known} `));

    // a manifest beside a file outside the trusted directories vouches for nothing
    const sha256 = createHash('sha256')
      .update(await readFile(loose))
      .digest('hex');
    const bytes = (await stat(loose)).size;
    const forged = { kind: 'rel-backup', version: 1, file: basename(loose), sha256, bytes, database: 'vault' };
    await writeFile(`${loose}.json`, JSON.stringify({ ...forged, createdAt: new Date().toISOString(), entries: 1 }));
    expect((await refused({ file: loose })).code).toBe('BAD_INPUT');
    // a backup of another database is not one of this database
    const [shop] = await listBackups(dir, 'shop');
    expect((await refused({ file: shop!, backupDirs: [dir] })).message).toBe(
      `refusing to restore ${shop}: it is a backup of database shop, not vault`,
    );
  });

  it('accepts a copy of a recorded backup; with allowUnverified restores a valid but unrecorded dump, warning', async () => {
    const [backup] = await listBackups(known, 'vault');
    const copy = join(other, 'copied.dump');
    await copyFile(backup!, copy);
    const verified = await verifyBackup({ file: copy, database: 'vault', backupDirs: [known] });
    expect(verified.manifestFile).toBe(`${backup}.json`);

    await db.query('vault', `INSERT INTO secrets VALUES (1000, 'after the dump')`);
    const loose = join(other, 'vault-unrecorded.dump');
    await unrecordedDump(loose);
    const expected = await db.snapshot('vault');
    await db.query('vault', `DELETE FROM secrets`);
    const events: RelEvent[] = [];
    const restored = await restoreDatabase({
      exec: db.exec,
      file: loose,
      database: 'vault',
      user: 'app',
      backupDirs: [known],
      allowUnverified: true,
      onEvent: (e) => events.push(e),
    });
    expect(restored.unverified).toMatch(/no backup manifest in .* records it/);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'log', level: 'warn', message: expect.stringMatching(/unverified \(allowed\)/) }),
    );
    expect(await db.snapshot('vault')).toEqual(expected);
  });

  it('does not commit a backup that changes between the check and the replay', async () => {
    const [backup] = await listBackups(known, 'vault');
    const before = await db.snapshot('vault');
    await db.query('vault', `DELETE FROM secrets`);
    const emptied = await db.snapshot('vault');
    const original = await readFile(backup!);
    // the file changes after it was checked, before it is read for the replay (psql starts first)
    const swapping: typeof db.exec = async (argv, options) => {
      if (argv[0] === 'psql') appendFileSync(backup!, Buffer.from([0]));
      return db.exec(argv, options);
    };
    const error = await restoreDatabase({ exec: swapping, file: backup!, database: 'vault', user: 'app' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'STEP_FAILED',
      message: expect.stringMatching(/changed while it was being restored/),
    });
    expect(await db.snapshot('vault')).toEqual(emptied);
    await writeFile(backup!, original);
    await restoreDatabase({ exec: db.exec, file: backup!, database: 'vault', user: 'app' });
    expect((await db.snapshot('vault')).tables).not.toEqual(emptied.tables);
    expect(before.tables['public.secrets']!.rows).toBeGreaterThan(0);
  });

  it('keeping the newest N removes the manifests of the backups it removes', async () => {
    for (let i = 0; i < 3; i++)
      await backupDatabase({ exec: db.exec, database: 'vault', user: 'app', dir: known, keep: 2 });
    const names = (await readdir(known)).sort();
    expect(names.filter((n) => n.endsWith('.dump'))).toHaveLength(2);
    expect(names.filter((n) => n.endsWith('.dump.json'))).toEqual(
      names.filter((n) => n.endsWith('.dump')).map((n) => `${n}.json`),
    );
  });
});
