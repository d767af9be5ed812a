// Loads the rel command (dist-bin/rel.cjs, one script) with V8's code cache: the bytecode of what a command ran
// last time, kept per command in the user's cache directory, so V8 neither parses the 1.7 MB script nor compiles
// again the functions a command runs at start (yaml, dockerode, undici, rel's own). Node 20 offers that cache for
// scripts only (`vm.Script`), not for ES modules: hence the CommonJS bundle. Measured on `rel monitor`: about
// 40 ms less CPU at every start. The bundle has no import(): the script has no module loader for it.
//
// The cache: `$XDG_CACHE_HOME/rel` (else `~/.cache/rel`), a directory only its owner can write, one file per
// command's first word (and whether rel set its V8 flags), bound to this bundle (path, size, time), Node and
// CPU. V8 checks its own version, flags and the script's length, and rejects a cache that does not fit; a
// missing, foreign, damaged or rejected cache only costs the compile, and is written (atomically) when the
// command exits. A checksum guards the bytes (V8 checks only their length, and aborts the process on damaged
// ones). `REL_COMPILE_CACHE=0` turns it off.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const BUNDLE = fileURLToPath(new URL('../dist-bin/rel.cjs', import.meta.url));

/**
 * Runs the bundle and returns its exports (`main`). `v8Flags`: whether rel set its V8 flags (a cache fits only
 * the flags it was made with: the two kinds of run keep separate caches).
 */
export function loadCli(args, { v8Flags }) {
  const fd = openSync(BUNDLE, 'r');
  let source;
  let bundle;
  try {
    bundle = fstatSync(fd);
    source = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const file = cacheFile(args, bundle, v8Flags ? 'flags' : 'plain');
  const cachedData = file ? readOwnFile(file) : undefined;
  // The module wrapper on the script's first line: line numbers in stack traces stay those of the bundle.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  if (file && (!cachedData || script.cachedDataRejected)) {
    // at exit: the cache then holds every function the command ran
    process.once('exit', () => writeOwnFile(file, () => script.createCachedData()));
  }
  return module.exports;
}

function cacheFile(args, bundle, variant) {
  const setting = process.env.REL_COMPILE_CACHE;
  if (setting === '0' || setting === 'off' || typeof process.getuid !== 'function') return undefined;
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME ? join(process.env.HOME, '.cache') : '');
  if (!isAbsolute(base)) return undefined;
  const identity = [BUNDLE, bundle.size, bundle.mtimeMs, process.version, process.arch].join('\0');
  const id = checksum(Buffer.from(identity)).subarray(0, 4).toString('hex');
  return join(base, 'rel', `v8-${commandWord(args)}-${variant}-${id}.cache`);
}

/** The command's first word (`monitor`, `deploy`, `db`): each command's cache holds what that command runs. */
function commandWord(args) {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--config') i++;
    else if (!arg.startsWith('-')) return /^[a-z][a-z-]{0,30}$/.test(arg) ? arg : 'other';
  }
  return 'none';
}

/** Only this user's own file in this user's own directory, neither writable by others. */
function ownedSafely(stat) {
  return stat.uid === process.getuid() && (stat.mode & 0o022) === 0;
}

function readOwnFile(file) {
  let fd;
  try {
    if (!ownedSafely(lstatSync(dirname(file)))) return undefined;
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const stat = fstatSync(fd);
    if (!stat.isFile() || !ownedSafely(stat)) return undefined;
    const content = readFileSync(fd);
    const data = content.subarray(CHECKSUM_BYTES);
    return content.length > CHECKSUM_BYTES && checksum(data).equals(content.subarray(0, CHECKSUM_BYTES))
      ? data
      : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeOwnFile(file, data) {
  const dir = dirname(file);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || !ownedSafely(stat)) return;
    const bytes = data();
    writeFileSync(temp, Buffer.concat([checksum(bytes), bytes]), { mode: 0o600, flag: 'wx' });
    renameSync(temp, file);
  } catch {
    // a cache is an optimisation: a full disk or a read-only home costs the next start its compile, nothing more
    try {
      rmSync(temp, { force: true });
    } catch {
      // nothing was written there
    }
  }
}

const CHECKSUM_BYTES = 8;

/**
 * Two 32-bit FNV-style sums over the bytes, word by word (about 5 ms for the 800 KB of a command's cache); no
 * node:crypto, which costs more to load.
 */
function checksum(bytes) {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
  const words = new Int32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 2);
  let h1 = 0x811c9dc5 | 0;
  let h2 = aligned.byteLength | 0;
  for (let i = 0; i < words.length; i++) {
    h1 = Math.imul(h1 ^ words[i], 0x01000193);
    h2 = (h2 + h1) | 0;
  }
  for (let i = words.length * 4; i < aligned.byteLength; i++) h1 = Math.imul(h1 ^ aligned[i], 0x01000193);
  const sum = Buffer.alloc(CHECKSUM_BYTES);
  sum.writeInt32LE(h1, 0);
  sum.writeInt32LE(h2, 4);
  return sum;
}
