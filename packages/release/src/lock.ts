import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  currentUser,
  type EventSink,
  errorMessage,
  formatDuration,
  ignoreEvents,
  log,
  RelError,
  sleep,
} from '@rel/core';
import { writeTempFile } from './durable-file.js';
import { checkableHere, pidNamespace, processLiveness, processStartTime } from './process-identity.js';

export { currentUser } from '@rel/core';
export type { ProcessIdentity } from './process-identity.js';
export { processState, thisProcess } from './process-identity.js';

/** Name of the lock file inside the state directory. */
export const RELEASE_LOCK_FILE = 'release.lock';

/** Who holds the release lock: the content of `<stateDir>/release.lock`. */
export interface LockHolder {
  project: string;
  /** The command that holds it, e.g. `switch green`. */
  command: string;
  pid: number;
  host: string;
  user: string;
  /** When it was taken, ISO 8601. */
  since: string;
  /** Identifies this holding: `release()` removes the file only while it still holds this token. */
  token: string;
  /** Start time of the holder's process (Linux `/proc/<pid>/stat` field 22), to tell a reused pid from the holder. */
  pidStartTime?: string;
  /** The holder's pid namespace (Linux): a pid from another container cannot be checked from here. */
  pidNamespace?: string;
}

export interface ReleaseLock {
  holder: LockHolder;
  /** The lock file. */
  path: string;
  /** Removes the lock file if it still holds our token. Idempotent; never throws (a failure is a `warn` event). */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface AcquireReleaseLockOptions {
  /** The project's state directory; created if missing. */
  stateDir: string;
  project: string;
  /** What the holder is doing, shown to whoever is refused: `switch green`. */
  command: string;
  /** Receives a `warn` when a dead holder's lock is taken over. Default: ignored. */
  onEvent?: EventSink;
}

// A lock file that cannot be parsed is treated as still being written until it is this old.
const CORRUPT_GRACE_MS = 60_000;
// The takeover guard is held for a few syscalls; one older than this was left by a crash.
const GUARD_STALE_MS = 10_000;
const MAX_ATTEMPTS = 200;
// Hard links unsupported (vfat, some FUSE and SMB mounts): fall back to writing the lock in place.
const NO_LINK = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Takes the project's release lock, `<stateDir>/release.lock`, or throws RelError('LOCKED') naming its holder.
 * A lock whose holder process is gone (same host) is taken over with a `warn` event; a holder on another host
 * cannot be checked and is refused. Unwritable state directory: RelError('CONFIG').
 */
export async function acquireReleaseLock(options: AcquireReleaseLockOptions): Promise<ReleaseLock> {
  const { stateDir, project, command, onEvent = ignoreEvents } = options;
  const path = join(stateDir, RELEASE_LOCK_FILE);
  const startTime = processStartTime(process.pid);
  const namespace = pidNamespace();
  const holder: LockHolder = {
    project,
    command,
    pid: process.pid,
    host: hostname(),
    user: currentUser(),
    since: new Date().toISOString(),
    token: await uuid(),
    ...(startTime === undefined ? {} : { pidStartTime: startTime }),
    ...(namespace === undefined ? {} : { pidNamespace: namespace }),
  };
  const content = `${JSON.stringify(holder, null, 2)}\n`;

  try {
    await mkdir(stateDir, { recursive: true });
  } catch (error) {
    throw unwritable(stateDir, error);
  }
  // written and fsynced in full before it gets the lock's name, so a reader never sees half of it
  let temp: string | undefined = await writeTempFile(path, content).catch((error) => {
    throw unwritable(stateDir, error);
  });
  try {
    for (let attempt = 1; ; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        throw new RelError('LOCKED', `release lock ${path} is being taken over by another process; try again`, {
          details: { path },
        });
      }
      if (await publishExclusive(temp, path, content)) return heldLock(path, holder, content, onEvent);
      const found = await readEntry(path);
      if (!found) continue; // released while we looked
      const stale = staleReason(found, path);
      const outcome = await takeOver(path, found.raw, temp, holder);
      if (outcome === 'done') {
        temp = undefined; // renamed onto the lock
        log(onEvent, 'warn', `took over the release lock ${path}: ${stale}`);
        return heldLock(path, holder, content, onEvent);
      }
      if (outcome === 'busy') await sleep(10 + Math.random() * 30);
    }
  } finally {
    if (temp !== undefined) await unlink(temp).catch(() => undefined);
  }
}

/** The current holder of the release lock, or `undefined` when it is free (or unreadable). */
export async function readLockHolder(stateDir: string): Promise<LockHolder | undefined> {
  const found = await readEntry(join(stateDir, RELEASE_LOCK_FILE));
  return found?.holder;
}

interface LockEntry {
  raw: string;
  /** Undefined when the file is not a lock holder's JSON. */
  holder: LockHolder | undefined;
  mtimeMs: number;
}

async function readEntry(path: string): Promise<LockEntry | undefined> {
  try {
    const [raw, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { raw, holder: parseHolder(raw), mtimeMs: info.mtimeMs };
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw new RelError('STEP_FAILED', `cannot read the release lock ${path}: ${errorMessage(error)}`, { cause: error });
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const h = value as Record<string, unknown>;
  if (!Number.isInteger(h.pid) || (h.pid as number) <= 0) return undefined;
  if (typeof h.host !== 'string' || typeof h.token !== 'string') return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : '?');
  return {
    project: text(h.project),
    command: text(h.command),
    pid: h.pid as number,
    host: h.host,
    user: text(h.user),
    since: text(h.since),
    token: h.token,
    ...(typeof h.pidStartTime === 'string' ? { pidStartTime: h.pidStartTime } : {}),
    ...(typeof h.pidNamespace === 'string' ? { pidNamespace: h.pidNamespace } : {}),
  };
}

/** Why the lock found can be taken over; throws LOCKED when it cannot. */
function staleReason(found: LockEntry, path: string): string {
  const { holder } = found;
  if (!holder) {
    const age = Date.now() - found.mtimeMs;
    if (age < CORRUPT_GRACE_MS) {
      throw new RelError(
        'LOCKED',
        `release lock ${path} is being written (unreadable, modified ${formatDuration(Math.max(0, age))} ago); try again, or remove it if it stays unreadable`,
        { details: { path } },
      );
    }
    return `it was unreadable for ${formatDuration(age)}`;
  }
  const here = hostname();
  const who = describeHolder(holder);
  const removal = `wait for it to finish or, if it is gone, remove ${path}`;
  if (!checkableHere(holder)) {
    const where = holder.host !== here ? here : `${here} (another pid namespace)`;
    throw new RelError('LOCKED', `release lock held by ${who}; it cannot be checked from ${where}: ${removal}`, {
      details: { path, holder: publicHolder(holder) },
    });
  }
  const liveness = processLiveness(holder);
  if (liveness === 'alive') {
    throw new RelError('LOCKED', `release lock held by ${who}; ${removal}`, {
      details: { path, holder: publicHolder(holder) },
    });
  }
  return liveness === 'reused'
    ? `its holder ${who} is gone (pid ${holder.pid} now belongs to another process)`
    : `its holder ${who} is gone`;
}

function describeHolder(holder: LockHolder): string {
  const since = Date.parse(holder.since);
  const ago = Number.isNaN(since) ? '' : `, ${formatDuration(Math.max(0, Date.now() - since))} ago`;
  return `"${holder.command}" (pid ${holder.pid} on ${holder.host}, user ${holder.user}, since ${holder.since}${ago})`;
}

function publicHolder(holder: LockHolder): Omit<LockHolder, 'token'> {
  const { token: _token, ...rest } = holder;
  return rest;
}

/**
 * Replaces the stale lock whose content was `staleRaw` with ours. Two processes may judge the same lock stale:
 * the guard file `release.lock.takeover` (created with O_EXCL) lets one at a time compare and replace it.
 */
async function takeOver(
  path: string,
  staleRaw: string,
  temp: string,
  holder: LockHolder,
): Promise<'done' | 'retry' | 'busy'> {
  const guard = `${path}.takeover`;
  const guardContent = `${JSON.stringify({ ...publicHolder(holder), token: await uuid() })}\n`;
  const guardTemp = await writeTempFile(guard, guardContent);
  let guarded: boolean;
  try {
    guarded = await publishExclusive(guardTemp, guard, guardContent);
  } finally {
    await unlink(guardTemp).catch(() => undefined);
  }
  if (!guarded) {
    const other = await readEntry(guard);
    if (!other) return 'retry';
    if (!isStaleGuard(other)) return 'busy';
    await removeStaleGuard(guard, other.raw);
    return 'retry';
  }
  try {
    const current = await readFile(path, 'utf8').catch((error) => {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    });
    if (current !== staleRaw) return 'retry';
    await rename(temp, path);
    return 'done';
  } finally {
    await unlinkIfContent(guard, guardContent);
  }
}

function isStaleGuard(guard: LockEntry): boolean {
  if (Date.now() - guard.mtimeMs > GUARD_STALE_MS) return true;
  return guard.holder !== undefined && checkableHere(guard.holder) && processLiveness(guard.holder) !== 'alive';
}

/** Moves the guard aside and deletes it only if it is the one judged stale; a newer guard is put back. */
async function removeStaleGuard(guard: string, staleRaw: string): Promise<void> {
  const aside = `${guard}.${await uuid()}.stale`;
  try {
    await rename(guard, aside);
  } catch {
    return;
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== staleRaw) await link(aside, guard).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/** Gives `temp`'s content the name `path` unless `path` exists. True when it did. */
async function publishExclusive(temp: string, path: string, content: string): Promise<boolean> {
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') return false;
    if (!code || !NO_LINK.has(code)) throw error;
  }
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

async function unlinkIfContent(path: string, content: string): Promise<boolean> {
  try {
    if ((await readFile(path, 'utf8')) !== content) return false;
    await unlink(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}

function heldLock(path: string, holder: LockHolder, content: string, onEvent: EventSink): ReleaseLock {
  let released = false;
  // best effort when the process ends without release(): only synchronous work is possible here
  const onExit = () => {
    try {
      if (readFileSync(path, 'utf8') === content) unlinkSync(path);
    } catch {}
  };
  process.on('exit', onExit);
  const release = async () => {
    if (released) return;
    released = true;
    process.off('exit', onExit);
    try {
      await unlinkIfContent(path, content);
    } catch (error) {
      log(onEvent, 'warn', `could not remove the release lock ${path}: ${errorMessage(error)}`);
    }
  };
  return { holder, path, release, [Symbol.asyncDispose]: release };
}

function unwritable(dir: string, error: unknown): RelError {
  const code = errnoCode(error);
  const reasons: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOTDIR: 'a part of the path is a file, not a directory',
    EEXIST: 'it is a file, not a directory',
    ENOSPC: 'no space left on the device',
  };
  const reason = (code && reasons[code]) ?? errorMessage(error);
  return new RelError('CONFIG', `state directory ${dir} is not writable: ${reason}`, { cause: error });
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** node:crypto loads on first use: `rel monitor` loads this module but takes the lock only to roll back. */
async function uuid(): Promise<string> {
  const { randomUUID } = await import('node:crypto');
  return randomUUID();
}
