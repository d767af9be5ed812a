import { dirname } from 'node:path';
import { type Environment, type EventSink, formatDuration, log, RelError, redact } from '@rel/core';
import type { DockerClient } from '@rel/docker';
import type { RelConfig, ReleaseCheck } from '../config/schema.js';
import { checkEnvironment } from '../flows/switch.js';

export interface PreSwitchCheckOptions {
  config: RelConfig;
  docker: DockerClient;
  /** The idle environment about to take traffic. */
  env: Environment;
  /** Facts handed to the commands as REL_* variables. */
  release: { id: string; versions: { backend: string; frontend: string }; live: Environment | null };
  onEvent: EventSink;
  signal?: AbortSignal;
}

export interface CheckRun {
  name: string;
  exitCode: number;
  durationMs: number;
}

// How long a check has to exit after SIGTERM before it is killed.
const KILL_GRACE_MS = 3000;
const KEEP_LINES = 20;

/** The variables a pre-switch check gets (besides rel's own environment): where the idle environment answers. */
export function checkEnvironmentVariables(options: PreSwitchCheckOptions): Record<string, string> {
  const { config, env, release } = options;
  const ports = config.environments[env];
  return {
    REL_RELEASE_ID: release.id,
    REL_PROJECT: config.project,
    REL_ENVIRONMENT: env,
    REL_LIVE_ENVIRONMENT: release.live ?? '',
    REL_BACKEND_VERSION: release.versions.backend,
    REL_FRONTEND_VERSION: release.versions.frontend,
    REL_API_URL: `http://127.0.0.1:${ports.apiPort}`,
    REL_CLIENT_URL: `http://127.0.0.1:${ports.clientPort}`,
    ...(config.nginx ? { REL_PUBLIC_URL: config.nginx.publicUrl } : {}),
  };
}

/**
 * The seed's "verify health" before the switch, made useful: the idle environment's containers run and its
 * health paths answer 200, then each configured check command runs (an argument array, in the config file's
 * directory, with the idle environment's URLs in REL_* variables) and must exit 0 within its timeout. The
 * first failure throws UNHEALTHY naming the check and its last output line; traffic has not moved.
 */
export async function runPreSwitchChecks(options: PreSwitchCheckOptions): Promise<CheckRun[]> {
  const { config, docker, env, onEvent } = options;
  const health = await checkEnvironment(config, docker, env);
  if (!health.ok) throw new RelError('UNHEALTHY', `${env} is not ready for traffic: ${health.reason}`);
  log(onEvent, 'info', `${env}'s containers run and its health paths answer 200`, 'checks');
  const runs: CheckRun[] = [];
  for (const check of config.release.checks) {
    runs.push(
      await runCheckCommand(check, {
        cwd: dirname(config.file),
        env: checkEnvironmentVariables(options),
        secrets: config.secrets,
        onEvent,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }
  return runs;
}

export interface CheckCommandOptions {
  /** Where it runs. */
  cwd: string;
  /** Added to rel's own environment. */
  env: Record<string, string>;
  /** Removed from its output before it is shown or kept. */
  secrets: readonly string[];
  /** Each line it prints, as a progress event of the `checks` step. */
  onEvent: EventSink;
  signal?: AbortSignal;
}

/**
 * Runs one check command (an argument array, never a shell) in its own process group and resolves when it
 * exits 0. Non-zero exit: UNHEALTHY with its last error line. Over its timeout: TIMEOUT, and the whole group
 * (whatever it started) gets SIGTERM, then SIGKILL. A program that cannot start: CONFIG.
 */
export async function runCheckCommand(check: ReleaseCheck, options: CheckCommandOptions): Promise<CheckRun> {
  const { onEvent, signal } = options;
  const { spawn } = await import('node:child_process');
  const started = Date.now();
  const last: string[] = [];
  let lastError: string | undefined;
  const emitLine = (line: string, fromStderr: boolean) => {
    if (!line.trim()) return;
    const clean = redact(line, options.secrets);
    last.push(clean);
    if (last.length > KEEP_LINES) last.shift();
    if (fromStderr) lastError = clean;
    onEvent({ type: 'step:progress', step: 'checks', message: `${check.name}: ${clean}`, at: Date.now() });
  };
  log(onEvent, 'info', `check ${check.name}: ${check.command.join(' ')}`, 'checks');
  const child = spawn(check.command[0]!, check.command.slice(1), {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // its own process group: a timeout ends the check and whatever it started
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    const fromStderr = stream === child.stderr;
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emitLine(line, fromStderr);
    });
    stream.on('end', () => emitLine(pending, fromStderr));
  }
  let ended: 'timeout' | 'aborted' | undefined;
  const stop = (why: 'timeout' | 'aborted') => {
    ended ??= why;
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => stop('timeout'), check.timeoutMs);
  const onAbort = () => stop('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, sig) => resolve({ code, signal: sig }));
  }).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  });
  const durationMs = Date.now() - started;
  // what it said last on stderr (its error, as a rule), else on stdout
  const said = lastError ?? last.at(-1);
  const tail = said === undefined ? '' : `: ${said}`;
  if (exit.error) {
    const code = (exit.error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `program ${JSON.stringify(check.command[0])} not found` : exit.error.message;
    throw new RelError('CONFIG', `pre-switch check ${check.name} could not start: ${why} (release.checks)`);
  }
  if (ended === 'aborted') throw new RelError('ABORTED', `pre-switch check ${check.name} stopped: interrupted`);
  if (ended === 'timeout') {
    throw new RelError(
      'TIMEOUT',
      `pre-switch check ${check.name} did not finish within ${formatDuration(check.timeoutMs)} and was killed${tail}`,
    );
  }
  if (exit.code !== 0) {
    const how = exit.code === null ? `was killed by ${exit.signal}` : `exited with ${exit.code}`;
    throw new RelError('UNHEALTHY', `pre-switch check ${check.name} ${how}${tail}`, {
      details: { check: check.name, exitCode: exit.code, output: last },
    });
  }
  log(onEvent, 'info', `check ${check.name} passed in ${formatDuration(durationMs)}`, 'checks');
  return { name: check.name, exitCode: 0, durationMs };
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}
