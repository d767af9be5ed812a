import { open, unlink } from 'node:fs/promises';

/**
 * Writes `content` to a new file beside `path` (`<path>.<random>.tmp`, created exclusively), fsynced, and
 * returns its name: renamed or linked onto `path`, it gives that name a whole file or none, even after a crash.
 */
export async function writeTempFile(path: string, content: string): Promise<string> {
  // not a secret, only unique among writers of the same path: Math.random spares rel monitor node:crypto
  const temp = `${path}.${process.pid}.${Math.random().toString(16).slice(2, 10)}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

/** fsync of a directory: a rename or a new name in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
