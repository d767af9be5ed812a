import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, pipeline, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ignoreEvents, log, RelError, runStep } from '@rel/core';
import type {
  BackupDatabaseOptions,
  BackupManifest,
  BackupResult,
  ExecResult,
  RestoreDatabaseOptions,
  RestoreResult,
  VerifiedBackup,
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
 * the container's `pg_restore --list` can read it, records it in its manifest `<dump>.json` (sha256, size,
 * database, environment, time; what restores check), and keeps the newest `keep` backups of that database.
 */
export async function backupDatabase(options: BackupDatabaseOptions): Promise<BackupResult> {
  const { exec, database, user, keep = 10, compression, environment, onEvent = ignoreEvents, signal } = options;
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
        const sha256 = hash.digest('hex');
        // The manifest goes in place before the dump does: a dump under its final name always has its record.
        const manifest: BackupManifest = {
          kind: 'rel-backup',
          version: 1,
          file: basename(file),
          sha256,
          bytes,
          database,
          ...(environment === undefined ? {} : { environment }),
          createdAt: new Date(started).toISOString(),
          entries,
        };
        await writeManifest(manifestPath(file), manifest);
        await rename(partial, file).catch(async (error: unknown) => {
          await rm(manifestPath(file), { force: true });
          throw error;
        });
        const removed: string[] = [];
        const all = await listBackups(dir, database);
        for (const old of all.slice(0, Math.max(0, all.length - keep))) {
          await rm(old, { force: true });
          await rm(manifestPath(old), { force: true });
          removed.push(old);
        }
        return {
          file,
          bytes,
          sha256,
          durationMs: Date.now() - started,
          entries,
          removed,
          manifest: manifestPath(file),
        };
      } catch (error) {
        out.destroy();
        await rm(partial, { force: true });
        throw error;
      }
    },
    (result) => `backed up ${database} to ${result.file} (${result.bytes} bytes, ${result.entries} entries)`,
  );
}

/** A dump's manifest: `<dump>.json` beside it. */
export function manifestPath(file: string): string {
  return `${file}.json`;
}

/** Writes a manifest atomically: a temporary file (0600, flushed to disk), then renamed over the final name. */
async function writeManifest(path: string, manifest: BackupManifest): Promise<void> {
  const partial = `${path}.partial`;
  const handle = await open(partial, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The manifest at `path`, or `undefined` when it is missing or not a manifest of the dump beside it. */
export async function readBackupManifest(path: string): Promise<BackupManifest | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
  const m = parsed as Partial<BackupManifest> | null;
  const valid =
    typeof m === 'object' &&
    m !== null &&
    m.kind === 'rel-backup' &&
    m.version === 1 &&
    // It must name the dump it sits beside: a manifest copied next to another file vouches for nothing.
    m.file === basename(path).replace(/\.json$/, '') &&
    typeof m.sha256 === 'string' &&
    SHA256.test(m.sha256) &&
    Number.isSafeInteger(m.bytes) &&
    typeof m.database === 'string' &&
    typeof m.createdAt === 'string';
  return valid ? (m as BackupManifest) : undefined;
}

interface ManifestRecord {
  /** The dump the manifest is of. */
  file: string;
  manifestFile: string;
  manifest: BackupManifest;
}

/** Every well-formed manifest in `dirs` (a missing directory has none). */
async function readManifests(dirs: readonly string[]): Promise<ManifestRecord[]> {
  const records: ManifestRecord[] = [];
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.dump.json')).sort()) {
      const manifestFile = join(dir, name);
      const manifest = await readBackupManifest(manifestFile);
      if (manifest) records.push({ file: join(dir, manifest.file), manifestFile, manifest });
    }
  }
  return records;
}

/** BAD_INPUT for a directory, a device, a pipe: no restore reads one, `allowUnverified` or not. */
function notAFile(file: string): never {
  throw new RelError('BAD_INPUT', `refusing to restore ${file}: it is not a regular file`, { details: { file } });
}

/** BAD_INPUT, one line naming the file and why; `details.reason` is the why (a restore that allows it warns with it). */
function refuse(file: string, why: string): never {
  throw new RelError('BAD_INPUT', `refusing to restore ${file}: ${why}`, { details: { file, reason: why } });
}

/**
 * Checks that `file` is a backup `backupDatabase` wrote of `database`: a manifest in one of `backupDirs` (default:
 * the file's own directory) records the file's sha256 and size. The file's own manifest, when it sits in one of
 * those directories, is the one that counts (a mismatch there means the dump changed after it was written);
 * a file elsewhere (a copy) is accepted when any trusted manifest records its content. The file is read only when
 * some manifest records its size. Throws BAD_INPUT for a missing file, and BAD_INPUT naming the file and why for
 * anything else; the message never shows the file's content or its hash.
 */
export async function verifyBackup(options: {
  file: string;
  database: string;
  backupDirs?: readonly string[];
}): Promise<VerifiedBackup> {
  const { database } = options;
  checkName(database, 'database name');
  const file = resolve(options.file);
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new RelError('BAD_INPUT', `backup ${file} does not exist`, { details: { file } });
  if (!info.isFile()) notAFile(file);
  const dirs = (options.backupDirs ?? [dirname(file)]).map((dir) => resolve(dir));
  const records = await readManifests(dirs);
  const own = records.find((r) => r.file === file);
  const candidates = own ? [own] : records.filter((r) => r.manifest.bytes === info.size);
  const where = dirs.join(', ');
  if (candidates.length === 0) refuse(file, `no backup manifest in ${where} records it (not a backup rel wrote)`);
  const sha256 = await sha256OfFile(file);
  const match = candidates.find((r) => r.manifest.sha256 === sha256 && r.manifest.bytes === info.size);
  if (!match && own) {
    const why = `its sha256 or size does not match its manifest ${own.manifestFile}: it changed after it was written`;
    refuse(file, why);
  }
  if (!match) refuse(file, `no backup manifest in ${where} records its sha256 (not a backup rel wrote)`);
  if (match.manifest.database !== database) {
    refuse(file, `it is a backup of database ${match.manifest.database}, not ${database}`);
  }
  return { file, sha256, bytes: info.size, manifest: match.manifest, manifestFile: match.manifestFile };
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

/** What a restore holds the file to, decided before anything is dropped. */
interface RestoreCheck {
  /** The sha256 the bytes replayed must have; COMMIT is sent only when they do. */
  sha256?: string;
  manifest?: BackupManifest;
  /** Why the file is not verified, when the caller restores it with `allowUnverified` all the same. */
  unverified?: string;
}

async function checkBeforeRestore(options: RestoreDatabaseOptions, file: string): Promise<RestoreCheck> {
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new RelError('BAD_INPUT', `backup ${file} does not exist`, { details: { file } });
  // Never a directory or a device, whatever the caller allows.
  if (!info.isFile()) notAFile(file);
  // 1. The caller knows the exact backup (migrateDatabase restoring the one it just took): its sha256 decides.
  if (options.sha256 !== undefined) {
    const actual = await sha256OfFile(file);
    if (actual !== options.sha256) {
      throw new RelError('STEP_FAILED', `backup ${file} is damaged: sha256 ${actual}, expected ${options.sha256}`);
    }
    return { sha256: options.sha256 };
  }
  // 2. Otherwise a trusted manifest must vouch for it (psql replays it as the database's owner) ...
  try {
    const verified = await verifyBackup({
      file,
      database: options.database,
      ...(options.backupDirs ? { backupDirs: options.backupDirs } : {}),
    });
    return { sha256: verified.sha256, manifest: verified.manifest };
  } catch (error) {
    // 3. ... unless the caller restores an unverified file on purpose: then what the check found is a warning.
    const reason = error instanceof RelError ? (error.details as { reason?: unknown } | undefined)?.reason : undefined;
    if (!options.allowUnverified || typeof reason !== 'string') throw error;
    log(options.onEvent ?? ignoreEvents, 'warn', `restoring ${file} unverified (allowed): ${reason}`);
    return { unverified: reason };
  }
}

/**
 * The file as a stream that hashes what passes through it. `digest()` reads what the command did not (it may stop
 * reading early; the exec has let go of the stream by then), so the hash is always of the whole file.
 */
function hashedFile(file: string): { stream: Transform; digest(): Promise<string> } {
  const hash = createHash('sha256');
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  // A read error reaches the exec as an error of its input (the pipeline destroys `stream` with it).
  pipeline(createReadStream(file), stream, () => {});
  return {
    stream,
    async digest() {
      if (!stream.readableEnded) {
        stream.resume();
        await finished(stream);
      }
      return hash.digest('hex');
    },
  };
}

/**
 * Restores a custom-format backup into `database` exactly, in one transaction: every schema is dropped,
 * then the dump (turned into SQL by the container's `pg_restore --file=-`) is replayed by the container's
 * `psql`; `COMMIT` is sent only when pg_restore succeeded, so a failure leaves the database as it was.
 *
 * The file must be a backup `backupDatabase` recorded (`verifyBackup` against `backupDirs`), or match the
 * `sha256` given, else BAD_INPUT before anything is touched; `allowUnverified` restores any dump, with a warning.
 * The bytes streamed to pg_restore are hashed too: a file changed after the check is not committed.
 */
export async function restoreDatabase(options: RestoreDatabaseOptions): Promise<RestoreResult> {
  const { exec, database, user, onEvent = ignoreEvents, signal } = options;
  checkName(database, 'database name');
  checkName(user, 'database user');
  const file = resolve(options.file);
  return runStep(onEvent, 'db:restore', `restoring database ${database} from ${file}`, async (progress) => {
    const started = Date.now();
    const check = await checkBeforeRestore(options, file);
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

    // The bytes pg_restore reads are hashed as they go: a file changed after the check is never committed.
    const input = hashedFile(file);
    let restore: ExecResult | undefined;
    let sha256: string | undefined;
    try {
      restore = await exec(['pg_restore', '--file=-'], { stdin: input.stream, stdout: script, ...withSignal });
      if (!script.writableEnded) script.end();
      await finished(script);
      sha256 = await input.digest();
    } finally {
      // Without COMMIT psql ends the session and PostgreSQL rolls the transaction back.
      const intact = sha256 !== undefined && (check.sha256 === undefined || sha256 === check.sha256);
      if (restore?.exitCode === 0 && intact) sql.end('\nCOMMIT;\n');
      else sql.end();
      input.stream.destroy();
    }
    const replay = await psql;
    if (check.sha256 !== undefined && sha256 !== check.sha256) {
      throw new RelError(
        'STEP_FAILED',
        `backup ${file} changed while it was being restored (its sha256 no longer matches); database ${database} left unchanged`,
      );
    }
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
    return {
      file,
      database,
      durationMs: Date.now() - started,
      sha256,
      ...(check.manifest ? { manifest: check.manifest } : {}),
      ...(check.unverified === undefined ? {} : { unverified: check.unverified }),
    };
  });
}
