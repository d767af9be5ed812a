import { spawn } from 'node:child_process';
import { RelError } from '@rel/core';
import type { ConnectionSettings, DatabaseExec, ExecResult } from './types.js';

/**
 * The libpq environment of a tool connecting to `settings` (to `database` instead, when given): the connection
 * travels there, never in argv. `PGHOST`/`PGPORT`/`PGUSER`/`PGPASSWORD` only when set; `PGSSLMODE=require` with `ssl`.
 */
export function pgToolEnv(settings: ConnectionSettings, database = settings.database): Record<string, string> {
  const env: Record<string, string> = { PGDATABASE: database };
  if (settings.host !== undefined) env.PGHOST = settings.host;
  if (settings.port !== undefined) env.PGPORT = String(settings.port);
  if (settings.user !== undefined) env.PGUSER = settings.user;
  if (settings.password !== undefined) env.PGPASSWORD = settings.password;
  if (settings.ssl) env.PGSSLMODE = 'require';
  return env;
}

/**
 * A `DatabaseExec` that spawns the local binary named by `argv[0]` (an argument array, no shell) with
 * `options.env` added to this process's environment. A binary that is not installed: NOT_FOUND.
 */
export const localExec: DatabaseExec = (argv, options = {}) =>
  new Promise<ExecResult>((resolve, reject) => {
    const [command, ...args] = argv;
    if (!command) return reject(new RelError('BAD_INPUT', 'empty command'));
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    if (options.stdout) child.stdout.pipe(options.stdout);
    else child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // The command may stop reading early: EPIPE is not an error of its own.
    child.stdin.on('error', () => {});
    if (options.stdin) options.stdin.pipe(child.stdin);
    else child.stdin.end();
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(new RelError('NOT_FOUND', `${command} is not installed here (pass an exec that runs it elsewhere)`));
      } else reject(error);
    });
    child.on('close', (code) => {
      options.stdin?.unpipe(child.stdin);
      resolve({
        exitCode: code ?? 1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
