import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectMigrationSource, loadSqlFolder, parseIdempotentScript, sha256 } from './sources.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

describe('parseIdempotentScript', () => {
  it('groups the DO $EF$ blocks of each migration and keeps the preamble', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(join(FIXTURES, 'script', 'v2.sql'), 'utf8');
    const script = parseIdempotentScript(text, 'v2.sql');
    expect(script.preamble).toHaveLength(1);
    expect(script.preamble[0]!.text).toMatch(/^CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory"/);
    expect(script.migrations.map((m) => m.id)).toEqual(['20251101000000_InitialCreate', '20251108000000_AddItemDone']);
    expect(script.migrations.map((m) => m.statements.length)).toEqual([2, 2]);
    // START TRANSACTION / COMMIT markers are the runner's business.
    expect(script.migrations.flatMap((m) => m.statements).every((s) => s.text.startsWith('DO $EF$'))).toBe(true);
    expect(script.migrations[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the same checksum to a migration in v1 and v2 of the script', async () => {
    const { readFile } = await import('node:fs/promises');
    const v1 = parseIdempotentScript(await readFile(join(FIXTURES, 'script', 'v1.sql'), 'utf8'));
    const v2 = parseIdempotentScript(await readFile(join(FIXTURES, 'script', 'v2.sql'), 'utf8'));
    expect(v1.migrations[0]!.checksum).toBe(v2.migrations[0]!.checksum);
  });

  it('refuses a DO $EF$ block without its MigrationId check', () => {
    const text = 'DO $EF$\nBEGIN\n    CREATE TABLE x (a int);\nEND $EF$;';
    expect(() => parseIdempotentScript(text, 's.sql')).toThrow(/malformed idempotent script s.sql at line 1/);
  });

  it('reads ids with quotes escaped', () => {
    const text = `DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '2025_A') THEN
    CREATE TABLE "it's" (a int);
    END IF;
END $EF$;`;
    expect(parseIdempotentScript(text).migrations.map((m) => m.id)).toEqual(['2025_A']);
  });
});

describe('SQL folders', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('sorts by id, checksums the file, marks non-transactional migrations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rel-migrate-unit-'));
    dirs.push(dir);
    await writeFile(join(dir, '20250102000000_B.sql'), 'CREATE INDEX CONCURRENTLY ix ON t (a);');
    await writeFile(join(dir, '20250101000000_A.sql'), 'BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\n');
    await writeFile(join(dir, 'README.md'), 'not a migration');
    const migrations = await loadSqlFolder(dir);
    expect(migrations.map((m) => m.id)).toEqual(['20250101000000_A', '20250102000000_B']);
    expect(migrations[0]!.statements.map((s) => s.text)).toEqual(['CREATE TABLE t (a int)']);
    expect(migrations[0]!.checksum).toBe(sha256('BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\n'));
    expect(migrations[0]!.nonTransactional).toBeUndefined();
    expect(migrations[1]!.nonTransactional).toBe('CREATE INDEX CONCURRENTLY');
  });

  it('names a missing folder (CONFIG)', async () => {
    const missing = join(tmpdir(), 'rel-no-such-migrations');
    await expect(loadSqlFolder(missing)).rejects.toMatchObject({
      code: 'CONFIG',
      message: `migrations folder ${missing} does not exist`,
    });
    await expect(detectMigrationSource(missing)).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('detects a folder and a script', async () => {
    await expect(detectMigrationSource(join(FIXTURES, 'sql', 'v2'))).resolves.toMatchObject({ kind: 'sql-folder' });
    await expect(detectMigrationSource(join(FIXTURES, 'script', 'v2.sql'))).resolves.toMatchObject({
      kind: 'idempotent-script',
    });
  });
});
