// Restores: a verified dump replayed in one transaction, committed only when pg_restore succeeded on the bytes checked.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PassThrough, pipeline, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ignoreEvents, log, RelError, runStep } from '@rel/core';
import { notAFile, sha256OfFile, verifyBackup } from './manifest.js';
import { checkName, lastLines } from './tool-io.js';
import type { BackupManifest, ExecResult, RestoreDatabaseOptions, RestoreResult } from './types.js';

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
