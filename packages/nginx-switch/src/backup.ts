import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Environment, errorMessage, isEnvironment, RelError } from '@rel/core';
import { writeFileAtomic } from './atomic-write.js';
import { LIVE_LINK, pointLiveLink } from './socket-route.js';
import type { BackupEntry } from './types.js';

export interface CreateBackupOptions {
  /** Directory of the backups; created if missing. */
  backupDir: string;
  /** The config file; its base name prefixes the backup files. */
  configFile: string;
  /** The config text to save. Default: the file's current content. */
  configText?: string;
  /** Socket method: where the `live` symlink points (`null`: missing), saved beside the config copy. */
  liveLink?: Environment | null;
  /** How many backups of this config to keep; older ones are removed. Default 10. */
  keep?: number;
}

const STAMP = /^\d{8}T\d{9}Z$/;

function stampOf(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function dateOfStamp(stamp: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(stamp)!;
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

/**
 * Saves the config (and in socket mode where the live link points) as `<config name>.<timestamp>.bak`
 * (and `.links.json`) in `backupDir`, each written atomically, then keeps only the newest `keep`.
 */
export async function createBackup(options: CreateBackupOptions): Promise<BackupEntry> {
  const { backupDir, configFile, keep = 10 } = options;
  const text = options.configText ?? (await readFile(configFile, 'utf8'));
  await mkdir(backupDir, { recursive: true });
  const prefix = basename(configFile);
  let time = Date.now();
  const taken = new Set((await listBackups(backupDir, configFile)).map((entry) => entry.id));
  while (taken.has(stampOf(new Date(time)))) time += 1;
  const id = stampOf(new Date(time));
  const entry: BackupEntry = { id, createdAt: new Date(time), configPath: join(backupDir, `${prefix}.${id}.bak`) };
  if (options.liveLink !== undefined) {
    entry.linkPath = join(backupDir, `${prefix}.${id}.links.json`);
    await writeFileAtomic(entry.linkPath, `${JSON.stringify({ [LIVE_LINK]: options.liveLink })}\n`, { mode: 0o644 });
  }
  const mode = (await stat(configFile).catch(() => undefined))?.mode;
  await writeFileAtomic(entry.configPath, text, { mode: mode === undefined ? 0o644 : mode & 0o777 });
  for (const old of (await listBackups(backupDir, configFile)).slice(Math.max(1, keep))) {
    await unlink(old.configPath).catch(() => undefined);
    if (old.linkPath) await unlink(old.linkPath).catch(() => undefined);
  }
  return entry;
}

/** The backups of `configFile` in `backupDir`, newest first. A missing directory has none. */
export async function listBackups(backupDir: string, configFile: string): Promise<BackupEntry[]> {
  const prefix = `${basename(configFile)}.`;
  let names: string[];
  try {
    names = await readdir(backupDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new RelError('CONFIG', `cannot read backup directory ${backupDir}: ${errorMessage(error)}`, { cause: error });
  }
  const present = new Set(names);
  const entries: BackupEntry[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.bak')) continue;
    const id = name.slice(prefix.length, -'.bak'.length);
    if (!STAMP.test(id)) continue;
    const entry: BackupEntry = { id, createdAt: dateOfStamp(id), configPath: join(backupDir, name) };
    const links = `${prefix}${id}.links.json`;
    if (present.has(links)) entry.linkPath = join(backupDir, links);
    entries.push(entry);
  }
  return entries.sort((a, b) => (a.id < b.id ? 1 : -1));
}

export interface RestoreBackupOptions {
  backupDir: string;
  /** The config file to restore (written atomically, keeping its mode). */
  configFile: string;
  /** Which backup (`BackupEntry.id`). Default: the newest. */
  id?: string;
  /** Socket method: also point the live symlink back where the backup says. */
  socketDir?: string;
}

/**
 * Restores a backup: the config file's bytes and, with `socketDir`, the live symlink. Does not test or reload
 * nginx: call `testNginxConfig` and `reloadNginx` next (the socket link takes effect at once).
 */
export async function restoreBackup(
  options: RestoreBackupOptions,
): Promise<{ entry: BackupEntry; liveLink?: Environment | null }> {
  const entries = await listBackups(options.backupDir, options.configFile);
  const entry = options.id === undefined ? entries[0] : entries.find((candidate) => candidate.id === options.id);
  if (!entry) {
    const what = options.id === undefined ? 'no backup' : `no backup ${options.id}`;
    throw new RelError('NOT_FOUND', `${what} of ${options.configFile} in ${options.backupDir}`);
  }
  await writeFileAtomic(options.configFile, await readFile(entry.configPath));
  if (options.socketDir === undefined || !entry.linkPath) return { entry };
  const saved = JSON.parse(await readFile(entry.linkPath, 'utf8')) as Record<string, unknown>;
  const live = saved[LIVE_LINK];
  if (isEnvironment(live)) {
    await pointLiveLink(options.socketDir, live);
    return { entry, liveLink: live };
  }
  await unlink(join(options.socketDir, LIVE_LINK)).catch(() => undefined);
  return { entry, liveLink: null };
}
