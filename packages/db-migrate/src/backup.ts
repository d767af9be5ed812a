import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ignoreEvents, RelError, runStep } from '@rel/core';
import type {
  BackupDatabaseOptions,
  BackupResult,
  ExecResult,
  RestoreDatabaseOptions,
  RestoreResult,
} from './types.js';

/** Database and user names that are safe in file names and argument lists. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

function checkName(value: string, what: string): void {
  if (!NAME.test(value)) {
    throw new RelError(
      'BAD_INPUT',
      `invalid ${what} ${JSON.stringify(value)}: expected letters, digits, _ . - (up to 63)`,
    );
  }
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

/** `20251108T120102345Z`: sorts by time as text. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('.', '');
}

const BACKUP_NAME = (database: string) => new RegExp(`^${database.replace(/[.]/g, '\\.')}-\\d{8}T\\d{9}Z\\.dump$`);

/** The backups of `database` in `dir`, oldest first. */
export async function listBackups(dir: string, database: string): Promise<string[]> {
  checkName(database, 'database name');
  const pattern = BACKUP_NAME(database);
  const names = await readdir(resolve(dir)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => join(resolve(dir), name));
}

/**
 * Backs up `database` with the database container's own `pg_dump --format=custom`, streamed to
 * `<dir>/<database>-<timestamp>.dump` (mode 0600, written under a temporary name, then renamed), checks that
 * the container's `pg_restore --list` can read it, and keeps the newest `keep` backups of that database.
 */
export async function backupDatabase(options: BackupDatabaseOptions): Promise<BackupResult> {
  const { exec, database, user, keep = 10, compression, onEvent = ignoreEvents, signal } = options;
  checkName(database, 'database name');
  checkName(user, 'database user');
  if (!Number.isInteger(keep) || keep < 1) throw new RelError('BAD_INPUT', `invalid keep ${keep}: expected 1 or more`);
  if (compression !== undefined && !(Number.isInteger(compression) && compression >= 0 && compression <= 9)) {
    throw new RelError('BAD_INPUT', `invalid compression ${compression}: expected 0-9`);
  }
  const dir = resolve(options.dir);
  return runStep(
    onEvent,
    'db:backup',
    `backing up database ${database}`,
    async (progress) => {
      const started = Date.now();
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, `${database}-${timestamp(new Date())}.dump`);
      const partial = `${file}.partial`;
      const hash = createHash('sha256');
      let bytes = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      const out = createWriteStream(partial, { mode: 0o600, flags: 'wx' });
      meter.pipe(out);
      const argv = ['pg_dump', '--format=custom', '--no-password', `--username=${user}`, `--dbname=${database}`];
      if (compression !== undefined) argv.push(`--compress=${compression}`);
      let result: ExecResult;
      try {
        result = await exec(argv, { stdout: meter, ...(signal ? { signal } : {}) });
        if (!meter.writableEnded) meter.end();
        await finished(out);
        if (result.exitCode !== 0) {
          throw new RelError(
            'STEP_FAILED',
            `pg_dump of ${database} failed (exit ${result.exitCode}): ${lastLines(result.stderr)}`,
            {
              details: { exitCode: result.exitCode },
            },
          );
        }
        await chmod(partial, 0o600);
        progress(`dumped ${bytes} bytes; checking it with pg_restore --list`, { current: bytes, unit: 'bytes' });
        const listed = await exec(['pg_restore', '--list'], {
          stdin: createReadStream(partial),
          ...(signal ? { signal } : {}),
        });
        const entries = listed.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(';')).length;
        if (listed.exitCode !== 0 || !/^; Archive created at/m.test(listed.stdout)) {
          throw new RelError(
            'STEP_FAILED',
            `backup of ${database} is not readable by pg_restore --list: ${lastLines(listed.stderr) || 'no archive header'}`,
          );
        }
        await rename(partial, file);
        const removed: string[] = [];
        const all = await listBackups(dir, database);
        for (const old of all.slice(0, Math.max(0, all.length - keep))) {
          await rm(old, { force: true });
          removed.push(old);
        }
        return { file, bytes, sha256: hash.digest('hex'), durationMs: Date.now() - started, entries, removed };
      } catch (error) {
        out.destroy();
        await rm(partial, { force: true });
        throw error;
      }
    },
    (result) => `backed up ${database} to ${result.file} (${result.bytes} bytes, ${result.entries} entries)`,
  );
}

/**
 * Drops every schema of the database and recreates `public` as PostgreSQL 15 creates it: with the dump
 * restored after it in the same transaction, objects created after the backup disappear too.
 */
const DROP_ALL_SCHEMAS = `
DO $rel$
DECLARE s name;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
              AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
  LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
  END LOOP;
END $rel$;
CREATE SCHEMA public;
ALTER SCHEMA public OWNER TO pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
COMMENT ON SCHEMA public IS 'standard public schema';
`;

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Restores a custom-format backup into `database` exactly, in one transaction: every schema is dropped,
 * then the dump (turned into SQL by the container's `pg_restore --file=-`) is replayed by the container's
 * `psql`; `COMMIT` is sent only when pg_restore succeeded, so a failure leaves the database as it was.
 */
export async function restoreDatabase(options: RestoreDatabaseOptions): Promise<RestoreResult> {
  const { exec, database, user, onEvent = ignoreEvents, signal } = options;
  checkName(database, 'database name');
  checkName(user, 'database user');
  const file = resolve(options.file);
  return runStep(onEvent, 'db:restore', `restoring database ${database} from ${file}`, async (progress) => {
    const started = Date.now();
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new RelError('NOT_FOUND', `backup ${file} does not exist`, { details: { file } });
    if (options.sha256 !== undefined) {
      const actual = await sha256OfFile(file);
      if (actual !== options.sha256) {
        throw new RelError('STEP_FAILED', `backup ${file} is damaged: sha256 ${actual}, expected ${options.sha256}`);
      }
    }
    const sql = new PassThrough();
    sql.write(`BEGIN;\n${DROP_ALL_SCHEMAS}\n`);
    const script = new PassThrough();
    script.pipe(sql, { end: false });
    const withSignal = signal ? { signal } : {};
    const psql = exec(
      [
        'psql',
        '-X',
        '-q',
        '--no-password',
        '-v',
        'ON_ERROR_STOP=1',
        `--username=${user}`,
        `--dbname=${database}`,
        '-f',
        '-',
      ],
      { stdin: sql, ...withSignal },
    ).finally(() => sql.resume()); // if psql stops early, drain the rest so pg_restore is not blocked

    let restore: ExecResult;
    try {
      restore = await exec(['pg_restore', '--file=-'], {
        stdin: createReadStream(file),
        stdout: script,
        ...withSignal,
      });
      if (!script.writableEnded) script.end();
      await finished(script);
    } finally {
      // Without COMMIT psql ends the session and PostgreSQL rolls the transaction back.
      if (restore! !== undefined && restore.exitCode === 0) sql.end('\nCOMMIT;\n');
      else sql.end();
    }
    const replay = await psql;
    if (restore.exitCode !== 0) {
      throw new RelError(
        'STEP_FAILED',
        `pg_restore could not read ${file} (exit ${restore.exitCode}): ${lastLines(restore.stderr)}; database ${database} left unchanged`,
      );
    }
    if (replay.exitCode !== 0) {
      throw new RelError(
        'STEP_FAILED',
        `restoring ${database} from ${file} failed, nothing changed: ${lastLines(replay.stderr)}`,
        {
          details: { exitCode: replay.exitCode },
        },
      );
    }
    progress(`restored ${database}`);
    return { file, database, durationMs: Date.now() - started };
  });
}
