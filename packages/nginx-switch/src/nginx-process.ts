import { readFile } from 'node:fs/promises';
import { errorMessage, RelError } from '@rel/core';
import type { ReloadMethod } from './types.js';

export interface NginxCommandOptions {
  /** Kill the command after this long. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not run at all (not found, timed out). */
  failure?: string;
}

async function runCommand(command: readonly string[], options: NginxCommandOptions): Promise<CommandResult> {
  const [file, ...args] = command;
  if (!file) throw new RelError('CONFIG', 'empty command');
  // loaded on first use: reading the routing (rel monitor, rel status) runs no command
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, signal: options.signal, windowsHide: true, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const { code, killed } = error as NodeJS.ErrnoException & { killed?: boolean };
        if (typeof code === 'number') return resolve({ code, stdout, stderr });
        const failure =
          code === 'ENOENT' ? `${file}: command not found` : killed ? 'timed out' : (code ?? errorMessage(error));
        resolve({ code: null, stdout, stderr, failure });
      },
    );
  });
}

/**
 * nginx's own error from its output: the first `[emerg]`/`[alert]`/`[crit]`/`[error]` line without the
 * timestamp and pid (`nginx: [emerg] unknown directive "x" in /etc/nginx/nginx.conf:12`), else the last line.
 */
export function nginxErrorLine(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  for (const level of ['emerg', 'alert', 'crit', 'error']) {
    const line = lines.find((candidate) => candidate.includes(`[${level}]`));
    if (line) {
      const message = line
        .slice(line.indexOf(`[${level}]`) + level.length + 2)
        .trim()
        .replace(/^\d+#\d+: /, '');
      return `nginx: [${level}] ${message}`;
    }
  }
  return lines.at(-1) ?? 'no output';
}

/**
 * Runs the config test command (e.g. `['nginx', '-t', '-p', prefix, '-c', conf]`). RelError CONFIG with
 * nginx's own first error line when it fails.
 */
export async function testNginxConfig(command: readonly string[], options: NginxCommandOptions = {}): Promise<void> {
  const result = await runCommand(command, options);
  if (result.failure) throw new RelError('CONFIG', `nginx config test (${command[0]}) failed: ${result.failure}`);
  if (result.code !== 0) {
    throw new RelError('CONFIG', `nginx config test failed: ${nginxErrorLine(`${result.stderr}\n${result.stdout}`)}`, {
      details: { command: [...command], exitCode: result.code },
    });
  }
}

/**
 * Reads the nginx master's pid from `pidFile` and checks the process exists. RelError UNREACHABLE
 * ("nginx is not running") when the file is missing or empty, or names no live process.
 */
export async function readNginxPid(pidFile: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no pid file' : errorMessage(error);
    throw new RelError('UNREACHABLE', `nginx is not running: ${reason} ${pidFile}`.trim(), { cause: error });
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) {
    throw new RelError('UNREACHABLE', `nginx is not running: pid file ${pidFile} holds no pid`);
  }
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
      throw new RelError('UNREACHABLE', `nginx is not running: pid ${pid} from ${pidFile} is gone (stale pid file)`);
    }
  }
  return pid;
}

/** Tells nginx to reload its configuration. RelError UNREACHABLE / STEP_FAILED with nginx's message on failure. */
export async function reloadNginx(reload: ReloadMethod, options: NginxCommandOptions = {}): Promise<void> {
  if (reload.kind === 'signal') {
    const pid = await readNginxPid(reload.pidFile);
    try {
      process.kill(pid, 'SIGHUP');
    } catch (error) {
      throw new RelError('STEP_FAILED', `cannot signal nginx (pid ${pid}): ${errorMessage(error)}`, { cause: error });
    }
    return;
  }
  let command: readonly string[];
  if (reload.kind === 'docker') {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(reload.container)) {
      throw new RelError('BAD_INPUT', `invalid container name ${JSON.stringify(reload.container)}`);
    }
    command = [reload.dockerBin ?? 'docker', 'kill', '-s', 'HUP', reload.container];
  } else {
    command = reload.command;
  }
  const result = await runCommand(command, options);
  if (result.failure) throw new RelError('STEP_FAILED', `nginx reload (${command[0]}) failed: ${result.failure}`);
  if (result.code !== 0) {
    const message = nginxErrorLine(`${result.stderr}\n${result.stdout}`);
    // nginx -s reload without a master: no pid file, an empty one, or a pid that is gone; docker: no container.
    const gone = /not running|no such container|invalid pid|no such process|\.pid" failed/i.test(message);
    const code = gone ? 'UNREACHABLE' : 'STEP_FAILED';
    throw new RelError(code, `nginx reload failed: ${message}`, { details: { command: [...command] } });
  }
}
