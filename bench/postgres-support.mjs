// Shared by the database benchmarks (bench/backup, bench/replicate): the docker CLI, psql and pg tools in
// the sample PostgreSQL containers, and the figures they print. Not a benchmark itself (bench/run runs
// only *.bench.mjs).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const docker = (...args) => exec('docker', args, { maxBuffer: 1 << 26 });
export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
export const mib = (bytes) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
export const gib = (bytes) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

/**
 * A `DatabaseExec` over `docker exec [-i] -e NAME... <container> ...argv`, streaming stdin and stdout (as the
 * packages' tests do). libpq variables from `options.env` are passed by name (their values never reach the
 * command line); PGHOST/PGPORT are dropped so the tools use the container's local socket.
 */
export function dockerExec(container) {
  return (argv, options = {}) =>
    new Promise((resolve, reject) => {
      const env = Object.fromEntries(
        Object.entries(options.env ?? {}).filter(([name]) => name !== 'PGHOST' && name !== 'PGPORT'),
      );
      const args = [
        'exec',
        ...(options.stdin ? ['-i'] : []),
        ...Object.keys(env).flatMap((k) => ['-e', k]),
        container,
        ...argv,
      ];
      const child = spawn('docker', args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const stdout = [];
      const stderr = [];
      if (options.stdout) child.stdout.pipe(options.stdout);
      else child.stdout.on('data', (chunk) => stdout.push(chunk));
      child.stderr.on('data', (chunk) => stderr.push(chunk));
      child.stdin.on('error', () => {}); // the command may stop reading early (pg_restore --list)
      if (options.stdin) options.stdin.pipe(child.stdin);
      else child.stdin.end();
      child.on('error', reject);
      child.on('close', (code) => {
        options.stdin?.unpipe(child.stdin);
        resolve({
          exitCode: code ?? 1,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        });
      });
    });
}

/** Runs SQL in a container with psql over its local socket; returns psql's output. */
export async function psql(container, sql, database = 'app') {
  const { stdout } = await docker(
    'exec',
    container,
    'psql',
    '-X',
    '-q',
    '-At',
    '-v',
    'ON_ERROR_STOP=1',
    '-U',
    'app',
    '-d',
    database,
    '-c',
    sql,
  );
  return stdout.trim();
}

/** Ready on TCP: the entrypoint's temporary init server listens on the socket only. */
export async function waitForPostgres(container) {
  for (let i = 0; ; i++) {
    const ok = await docker('exec', container, 'pg_isready', '-q', '-h', '127.0.0.1', '-U', 'app', '-d', 'app').then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (i > 240) {
      const { stdout, stderr } = await docker('logs', '--tail', '20', container).catch(() => ({
        stdout: '',
        stderr: '',
      }));
      throw new Error(`PostgreSQL in ${container} did not start within 60 s:\n${stdout}${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
