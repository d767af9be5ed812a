// Backup manifests: what a restore checks a dump against (sha256, size, database), and verifyBackup.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { RelError } from '@rel/core';
import { checkName } from './tool-io.js';
import type { BackupManifest, VerifiedBackup } from './types.js';

/** A dump's manifest: `<dump>.json` beside it. */
export function manifestPath(file: string): string {
  return `${file}.json`;
}

/** Writes a manifest atomically: a temporary file (0600, flushed to disk), then renamed over the final name. */
export async function writeManifest(path: string, manifest: BackupManifest): Promise<void> {
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
export function notAFile(file: string): never {
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

/** sha256 of a file's content, hex. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
