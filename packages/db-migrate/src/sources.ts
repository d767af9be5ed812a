import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { RelError } from '@rel/core';
import { isTransactionControl, nonTransactionalReason, type SqlStatement, splitSqlStatements } from './sql-text.js';
import type { Migration, MigrationSource } from './types.js';

/** EF Core migration ids are `<yyyyMMddHHmmss>_<Name>`; any id of these characters, up to 150, is accepted. */
const MIGRATION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,149}$/;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function statOrConfigError(path: string, what: string) {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RelError(
      'CONFIG',
      `${what} ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`,
      {
        cause: error,
        details: { path },
      },
    );
  }
}

/**
 * The migration source at `path`: a directory is a SQL folder, a `.sql` file that mentions
 * `"__EFMigrationsHistory"` is an idempotent script. A bundle needs a run hook, so it is never detected.
 */
export async function detectMigrationSource(path: string): Promise<MigrationSource> {
  const full = resolve(path);
  const info = await statOrConfigError(full, 'migrations path');
  if (info.isDirectory()) return { kind: 'sql-folder', dir: full };
  const text = await readFile(full, 'utf8');
  if (/__EFMigrationsHistory/.test(text)) return { kind: 'idempotent-script', file: full };
  throw new RelError(
    'CONFIG',
    `migrations path ${full} is neither a folder of .sql migrations nor an idempotent script (it never mentions "__EFMigrationsHistory")`,
    { details: { path: full } },
  );
}

/** The migration, marked to run outside a transaction if one of its statements cannot run inside one. */
export function withTransactionMode(migration: Migration, serverVersionNum?: number): Migration {
  const { nonTransactional: _, ...rest } = migration;
  for (const statement of migration.statements) {
    const reason = nonTransactionalReason(statement, serverVersionNum);
    if (reason) return { ...rest, nonTransactional: reason };
  }
  return rest;
}

/** Reads `<MigrationId>.sql` files of `dir`, sorted by id (ordinal, as EF Core does). */
export async function loadSqlFolder(dir: string, serverVersionNum?: number): Promise<Migration[]> {
  const full = resolve(dir);
  const info = await statOrConfigError(full, 'migrations folder');
  if (!info.isDirectory())
    throw new RelError('CONFIG', `migrations folder ${full} is not a directory`, { details: { path: full } });
  const names = (await readdir(full)).filter((name) => name.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const id = name.slice(0, -'.sql'.length);
    const file = join(full, name);
    if (!MIGRATION_ID.test(id)) {
      throw new RelError(
        'BAD_INPUT',
        `migration file ${file}: ${JSON.stringify(id)} is not a migration id (letters, digits, _ . -; up to 150)`,
        {
          details: { file },
        },
      );
    }
    const fileText = await readFile(file, 'utf8');
    const statements = splitSqlStatements(fileText, file).filter((s) => !isTransactionControl(s));
    migrations.push(
      withTransactionMode({ id, file, checksum: sha256(fileText), statements, fileText }, serverVersionNum),
    );
  }
  return migrations;
}

/** The parts of one `DO $EF$ ... $EF$` block that `dotnet ef migrations script --idempotent` writes for Npgsql. */
const EF_BLOCK =
  /^DO \$EF\$\s*BEGIN\s*IF NOT EXISTS\s*\(\s*SELECT 1 FROM .+? WHERE "?\w+"? = '((?:[^']|'')*)'\s*\)\s*THEN\s*([\s\S]*?)\s*END IF;\s*END \$EF\$$/;

export interface IdempotentScript {
  /** Statements before the first migration (the `CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory"`). */
  preamble: SqlStatement[];
  migrations: Migration[];
}

/** The SQL inside an EF block (between `THEN` and `END IF;`), with its offset in the file. */
export function efBlockBody(statement: SqlStatement): { id: string; body: string; offset: number } | undefined {
  const match = EF_BLOCK.exec(statement.text);
  if (!match) return undefined;
  const body = match[2]!;
  const bodyStart = statement.text.indexOf(body, statement.text.indexOf('THEN'));
  return { id: match[1]!.replace(/''/g, "'"), body, offset: statement.offset + bodyStart };
}

/**
 * Parses an idempotent script: every `DO $EF$` block belongs to the migration its `IF NOT EXISTS` names;
 * `START TRANSACTION;`/`COMMIT;` markers are dropped (the runner gives each migration its own transaction);
 * any other statement after the first block belongs to the migration before it.
 */
export function parseIdempotentScript(fileText: string, file = 'script'): IdempotentScript {
  const statements = splitSqlStatements(fileText, file).filter((s) => !isTransactionControl(s));
  const preamble: SqlStatement[] = [];
  const byId = new Map<string, SqlStatement[]>();
  let current: SqlStatement[] | undefined;
  for (const statement of statements) {
    if (/^DO \$\$$/.test(statement.shape) && /^DO \$EF\$/.test(statement.text)) {
      const block = efBlockBody(statement);
      if (!block) {
        const line = fileText.slice(0, statement.offset).split('\n').length;
        throw new RelError(
          'BAD_INPUT',
          `malformed idempotent script ${file} at line ${line}: a DO $EF$ block without its "MigrationId" check`,
          {
            details: { file, line },
          },
        );
      }
      current = byId.get(block.id);
      if (!current) {
        current = [];
        byId.set(block.id, current);
      }
      current.push(statement);
    } else if (current) current.push(statement);
    else preamble.push(statement);
  }
  const migrations = [...byId.entries()].map(([id, blocks]) => {
    if (!MIGRATION_ID.test(id))
      throw new RelError('BAD_INPUT', `idempotent script ${file}: ${JSON.stringify(id)} is not a migration id`);
    return withTransactionMode({
      id,
      file,
      checksum: sha256(blocks.map((s) => s.text).join('\n')),
      statements: blocks,
      fileText,
    });
  });
  return { preamble, migrations };
}

export async function loadIdempotentScript(file: string): Promise<IdempotentScript> {
  const full = resolve(file);
  const info = await statOrConfigError(full, 'idempotent migration script');
  if (!info.isFile())
    throw new RelError('CONFIG', `idempotent migration script ${full} is not a file`, { details: { path: full } });
  const script = parseIdempotentScript(await readFile(full, 'utf8'), full);
  if (script.migrations.length === 0 && !script.preamble.some((s) => s.shape.includes('__EFMIGRATIONSHISTORY'))) {
    throw new RelError(
      'CONFIG',
      `${basename(full)} is not an idempotent EF Core script (no DO $EF$ blocks, no "__EFMigrationsHistory")`,
      {
        details: { path: full },
      },
    );
  }
  return script;
}
