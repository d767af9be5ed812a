// Backups: pg_dump in the database container, checked with pg_restore --list, recorded in a manifest, the newest kept.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ignoreEvents, RelError, runStep } from '@rel/core';
import { manifestPath, writeManifest } from './manifest.js';
import { checkName, lastLines } from './tool-io.js';
import type { BackupDatabaseOptions, BackupManifest, BackupResult, ExecResult } from './types.js';

// Backups are checked against their manifests (manifest.js) and restored by restore.js; `./backup.js` answers for all.
export { manifestPath, readBackupManifest, verifyBackup } from './manifest.js';
export { restoreDatabase } from './restore.js';

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
