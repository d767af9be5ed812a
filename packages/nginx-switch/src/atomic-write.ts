import { constants } from 'node:fs';
import { access, mkdir, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorMessage, RelError } from '@rel/core';
import { randomHex } from './random.js';

export interface WriteFileAtomicOptions {
  /** File mode for a new file. Default: the existing file's mode, else 0o644. */
  mode?: number;
}

/**
 * Replaces `path` with `data` so that readers (and a crash at any point) see either the old or the new
 * content, never a mix: a temp file in the same directory, fsync, rename over the target, fsync of the
 * directory. An existing file's mode and owner are kept; a symlink is followed and its target replaced.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const target = await realpath(path).catch(() => path);
  const existing = await stat(target).catch(() => undefined);
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.rel-${process.pid}-${await randomHex()}.tmp`);
  const handle = await open(temp, 'wx', options.mode ?? existing?.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(data);
      if (existing) {
        await handle.chmod(existing.mode & 0o7777);
        if (process.getuid?.() === 0) await handle.chown(existing.uid, existing.gid);
      } else if (options.mode !== undefined) {
        await handle.chmod(options.mode);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** Makes a rename in `dir` durable. Some file systems refuse to fsync a directory: that is not an error. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/**
 * Creates `dir` if missing and proves it writable by creating and removing a file in it (`access(W_OK)`
 * alone says yes to root on a read-only mount). Throws RelError CONFIG naming the directory and `what` it is.
 */
export async function ensureWritableDir(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    const probe = join(dir, `.rel-write-probe-${process.pid}-${await randomHex()}`);
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
    await unlink(probe);
  } catch (error) {
    throw new RelError('CONFIG', `${what} ${dir} is not writable: ${errorMessage(error)}`, { cause: error });
  }
}
