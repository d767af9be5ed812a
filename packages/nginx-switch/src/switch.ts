import { unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  type Environment,
  type EventSink,
  errorMessage,
  ignoreEvents,
  log,
  otherEnvironment,
  parseEnvironment,
  RelError,
  runStep,
} from '@rel/core';
import type { Dispatcher } from 'undici';
import { ensureWritableDir, writeFileAtomic } from './atomic-write.js';
import { appendAuditEvent, currentHost, currentUser } from './audit.js';
import { createBackup } from './backup.js';
import { routeConfig } from './config-edit.js';
import { lintReloadSafety } from './lint.js';
import { readNginxPid, reloadNginx, testNginxConfig } from './nginx-process.js';
import { checkSocketListening, LIVE_LINK, pointLiveLink } from './socket-route.js';
import { readState, removeState, writeState } from './state.js';
import { liveMismatch, type Routing, type RoutingOptions, readRouting } from './status.js';
import type {
  AuditResult,
  BackupEntry,
  LintWarning,
  LiveMismatch,
  LiveState,
  ReloadMethod,
  SwitchMethod,
} from './types.js';
import { checkNginxAnswers, type VerificationResult, verifyEnvironment } from './verify.js';

/** What the caller's own check of an environment found (containers running, health URLs answering). */
export interface TargetCheck {
  ok: boolean;
  reason?: string;
}

export interface SwitchTrafficOptions extends RoutingOptions {
  /** Environment to route to: `blue` or `green` (anything else: RelError BAD_INPUT). */
  target: Environment | string;
  /** State file (JSON `{ live, since, previous, versions?, method }`), written atomically. */
  stateFile: string;
  /** Audit log, one JSON line per switch attempt. Default `<state file's dir>/switch-audit.jsonl`. */
  auditFile?: string;
  /** Where config backups go. Default `<state file's dir>/nginx-backups`. */
  backupDir?: string;
  /** Backups kept per config file. Default 10. */
  keepBackups?: number;
  /** Reload method: the config test command. Default `['nginx', '-t']`. */
  testCommand?: readonly string[];
  /** Reload method: how nginx reloads. Default `{ kind: 'command', command: ['nginx', '-s', 'reload'] }`. */
  reload?: ReloadMethod;
  /** nginx master's pid file, checked before anything is touched. Default: `reload.pidFile` of a `signal` reload. */
  pidFile?: string;
  /** Timeout of the test and reload commands. Default 30 s. */
  commandTimeoutMs?: number;
  /** Public URL(s) to verify through; also probed first (refused connections: nginx is not running). */
  verifyUrl: string | readonly string[];
  /** Response header naming the environment. Default `X-Rel-Environment`. */
  header?: string;
  /** Consecutive good responses from the target needed. Default 5. */
  verifyConsecutive?: number;
  /** Deadline of the verification. Default 10 s. */
  verifyTimeoutMs?: number;
  /**
   * How long the target's good answers in a row must keep coming before it counts as verified (each on a new
   * connection). Default 500 ms for the reload method (nginx's old workers take new connections for about
   * 100 ms after a reload has started the new ones), 0 for the socket method.
   */
  verifySettleMs?: number;
  /** Timeout of one verification request. Default 2 s. */
  requestTimeoutMs?: number;
  /** Accepted status code(s) of the verification. Default any 2xx. */
  expectedStatus?: number | readonly number[];
  /** undici dispatcher for the probe and the verification. Default: a private Agent per check. */
  dispatcher?: Dispatcher;
  /** The caller's check of the target before nginx is touched; `ok: false` refuses with UNHEALTHY. Default: none. */
  checkTarget?: (env: Environment) => Promise<TargetCheck>;
  /** Skip `checkTarget` (an emergency rollback). Default false. */
  skipTargetCheck?: boolean;
  /** Versions to record in the state file and the audit event, e.g. `{ blue: 'v1', green: 'v2' }`. */
  versions?: Partial<Record<Environment, string>>;
  /** Receives step and log events. Default: ignored. */
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface SwitchResult {
  /** False when the target was live already: nothing was touched (a stale state file may have been repaired). */
  changed: boolean;
  /** The environment live before, per the config; `undefined` when unknown (first switch). */
  from: Environment | undefined;
  to: Environment;
  method: SwitchMethod;
  /** Set when the state file disagreed with the config (the config won). */
  mismatch?: LiveMismatch;
  /** True when this run finished a switch whose process had stopped half-way. */
  resumed: boolean;
  /** True when a state file that disagreed with the config was rewritten to match it. */
  stateRepaired: boolean;
  backup?: BackupEntry;
  verification?: VerificationResult;
  /** Reload-safety warnings for the config (also sent as `warn` events). */
  warnings: LintWarning[];
  /** What was changed: config lines or the live link. */
  changes: string[];
  /** Milliseconds per phase. */
  durations: Record<string, number>;
}

const DEFAULT_TEST: readonly string[] = ['nginx', '-t'];
const DEFAULT_RELOAD: ReloadMethod = { kind: 'command', command: ['nginx', '-s', 'reload'] };
/** After a reload the master starts new workers, sleeps 100 ms, then tells the old ones to quit: 5x margin. */
export const RELOAD_SETTLE_MS = 500;

/**
 * Moves traffic to `target`: checks (config, upstreams, writable state, nginx running, target health) before
 * touching anything, records the intent in the state file, backs up, applies (reload: rewrite upstreams +
 * header, `nginx -t`, reload; socket: flip the live symlink), verifies through the public URL and, if that
 * fails, switches back and throws STEP_FAILED. Records the state and appends an audit line. A run stopped at
 * any point (even SIGKILL) leaves the old or the new routing complete and a valid state file; running it
 * again converges.
 */
export async function switchTraffic(options: SwitchTrafficOptions): Promise<SwitchResult> {
  const sink = options.onEvent ?? ignoreEvents;
  const target = parseEnvironment(options.target);
  const urls = typeof options.verifyUrl === 'string' ? [options.verifyUrl] : [...options.verifyUrl];
  if (urls.length === 0) throw new RelError('BAD_INPUT', 'no verification URL given');
  const stateFile = resolve(options.stateFile);
  const stateDir = dirname(stateFile);
  const auditFile = resolve(options.auditFile ?? join(stateDir, 'switch-audit.jsonl'));
  const backupDir = resolve(options.backupDir ?? join(stateDir, 'nginx-backups'));
  const testCommand = options.testCommand ?? DEFAULT_TEST;
  const reload = options.reload ?? DEFAULT_RELOAD;
  const commandOptions = {
    ...(options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs }),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  // Undoing a switch must not be cut short by the caller's abort signal.
  const undoCommandOptions = options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs };
  const verifyOptions = {
    url: urls,
    ...pick(options, ['header', 'expectedStatus', 'dispatcher', 'requestTimeoutMs']),
    ...(options.verifyConsecutive === undefined ? {} : { consecutive: options.verifyConsecutive }),
    ...(options.verifyTimeoutMs === undefined ? {} : { timeoutMs: options.verifyTimeoutMs }),
  };

  const durations: Record<string, number> = {};
  const phase = async <T>(name: string, message: string, fn: () => Promise<T>, done?: (value: T) => string) => {
    const started = Date.now();
    try {
      return await runStep(sink, `nginx:${name}`, message, fn, done);
    } finally {
      durations[name] = (durations[name] ?? 0) + Date.now() - started;
    }
  };

  let routing: Routing | undefined;
  let auditReady = false;
  let from: Environment | undefined;
  let backup: BackupEntry | undefined;
  const audit = async (result: AuditResult, error?: RelError) => {
    if (!auditReady || !routing) return;
    try {
      await appendAuditEvent(auditFile, {
        at: new Date().toISOString(),
        user: currentUser(),
        host: currentHost(),
        from: from ?? null,
        to: target,
        ...(options.versions ? { versions: options.versions } : {}),
        method: routing.method,
        result,
        durations: { ...durations },
        configFile: routing.configPath,
        ...(backup ? { backup: backup.configPath } : {}),
        ...(error ? { error: { code: error.code, message: error.message } } : {}),
      });
    } catch (auditError) {
      log(sink, 'warn', `could not append to the audit log ${auditFile}: ${errorMessage(auditError)}`);
    }
  };

  // 1. Checks: nothing is touched until all of them pass.
  let state: LiveState | undefined;
  let warnings: LintWarning[] = [];
  let mismatch: LiveMismatch | undefined;
  try {
    await phase('check', `checking before switching to ${target}`, async () => {
      routing = await readRouting(options);
      await ensureWritableDir(stateDir, 'state directory');
      await ensureWritableDir(dirname(auditFile), 'audit log directory');
      await ensureWritableDir(backupDir, 'backup directory');
      if (routing.socket) await ensureWritableDir(routing.socket.socketDir, 'socket directory');
      auditReady = true;
      warnings = lintReloadSafety(routing.text, { upstreams: options.upstreams, method: routing.method });
      for (const warning of warnings) log(sink, 'warn', `${warning.message}; fix: ${warning.fix}`, 'nginx:check');
      state = await readState(stateFile).catch((error: unknown) => {
        log(sink, 'warn', `${errorMessage(error)}; relying on the nginx config`, 'nginx:check');
        return undefined;
      });
      mismatch = liveMismatch(state, routing.live);
      if (mismatch) {
        log(
          sink,
          'warn',
          `state file says ${mismatch.state ?? 'unknown'} is live, the nginx config says ${mismatch.config ?? 'neither'} (${routing.detail}): going by the config`,
          'nginx:check',
        );
      }
      const pidFile = options.pidFile ?? (reload.kind === 'signal' ? reload.pidFile : undefined);
      if (pidFile !== undefined) await readNginxPid(pidFile);
      for (const url of urls) {
        await checkNginxAnswers(url, {
          ...pick(options, ['dispatcher', 'signal']),
          ...(options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs }),
        });
      }
    });
  } catch (error) {
    await audit('refused', asRelError(error));
    throw error;
  }
  const checked = routing!;
  const method = checked.method;
  from = checked.live;
  const settleMs = options.verifySettleMs ?? (method === 'reload' ? RELOAD_SETTLE_MS : 0);

  // 2. Already live: nothing to do but make the state file agree.
  if (checked.live === target && !state?.pending) {
    let stateRepaired = false;
    if (state?.live !== target) {
      await writeState(stateFile, liveState(target, state, method, options.versions));
      stateRepaired = true;
    }
    log(sink, 'info', `${target} is already live (${checked.detail})`);
    await audit('unchanged');
    return {
      changed: false,
      from: target,
      to: target,
      method,
      ...(mismatch ? { mismatch } : {}),
      resumed: false,
      stateRepaired,
      warnings,
      changes: [],
      durations,
    };
  }

  // A previous run stopped after routing to the target: finish it (reload again, verify, record).
  const resumed = checked.live === target;
  if (resumed) {
    from = otherEnvironment(target);
    log(sink, 'info', `finishing the switch to ${target} that ${describePending(state)} left unfinished`);
  }
  try {
    await phase('check', `checking ${target} can take traffic`, async () => {
      if (checked.socket) {
        for (const file of Object.values(checked.socket.sockets)) {
          const path = join(checked.socket.socketDir, target, file);
          await checkSocketListening(path).catch((error: unknown) => {
            throw new RelError(
              'UNREACHABLE',
              `${target}'s internal nginx server is not up: ${errorMessage(error)}; add it (renderSocketRoutingConfig) and reload nginx once`,
            );
          });
        }
      }
      if (options.skipTargetCheck || !options.checkTarget) return;
      let check: TargetCheck;
      try {
        check = await options.checkTarget(target);
      } catch (error) {
        check = { ok: false, reason: errorMessage(error) };
      }
      if (!check.ok) {
        throw new RelError('UNHEALTHY', `${target} is not healthy: ${check.reason ?? 'the target check failed'}`);
      }
    });
  } catch (error) {
    await audit('refused', asRelError(error));
    throw error;
  }

  // 3. Intent and backup. From here on nginx may change; a rerun finds `pending` and converges.
  const originalLink = checked.socket?.linkTarget === null ? null : checked.live;
  await phase(
    'backup',
    `backing up ${checked.configPath}`,
    async () => {
      await writeState(stateFile, {
        ...liveState(from ?? null, state, method, state?.versions),
        pending: {
          from: from ?? null,
          to: target,
          startedAt: new Date().toISOString(),
          pid: process.pid,
          host: currentHost(),
        },
      });
      backup = await createBackup({
        backupDir,
        configFile: checked.configPath,
        configText: checked.text,
        ...(checked.socket ? { liveLink: originalLink } : {}),
        ...(options.keepBackups === undefined ? {} : { keep: options.keepBackups }),
      });
      return backup;
    },
    (entry) => `backed up to ${entry.configPath}`,
  );

  const changes: string[] = [];
  // What nginx is told to go back to if the target fails: the original bytes, or the old link.
  const fallbackText = resumed ? routeBack(checked, options, from!) : checked.text;
  const fallbackEnv = resumed ? from : checked.live;

  const routeTo = async (env: Environment, text: string | undefined): Promise<void> => {
    if (method === 'socket') {
      await phase('flip', `pointing ${LIVE_LINK} at ${env}`, () => pointLiveLink(checked.socket!.socketDir, env));
      return;
    }
    if (text !== undefined) {
      await phase('write', `writing ${checked.configPath}`, () => writeFileAtomic(checked.configPath, text));
    }
    await phase('test', `testing the nginx config (${testCommand.join(' ')})`, () =>
      testNginxConfig(testCommand, commandOptions),
    );
    await phase('reload', `reloading nginx (${describeReload(reload)})`, () => reloadNginx(reload, commandOptions));
  };

  // 4. Apply.
  try {
    if (method === 'socket') {
      await routeTo(target, undefined);
      changes.push(`${checked.socket!.socketDir}/${LIVE_LINK} -> ${target}`);
    } else {
      const routed = routeConfig(checked.text, {
        upstreams: options.upstreams,
        addresses: options.addresses ?? {},
        target,
        ...pick(options, ['header']),
        source: checked.configPath,
      });
      if (routed.droppedComments > 0) {
        log(
          sink,
          'warn',
          `rewriting drops ${routed.droppedComments} comment(s) that follow the last directive of a block (nginx-conf keeps only comments before a directive); the original is in ${backup!.configPath}`,
        );
      }
      changes.push(...routed.changes);
      await routeTo(target, routed.changed ? routed.text : undefined);
    }
  } catch (error) {
    const failure = asRelError(error);
    let undone: string;
    try {
      if (method === 'reload') {
        await writeFileAtomic(checked.configPath, checked.text);
        undone = `${checked.configPath} restored, nginx not reloaded`;
      } else {
        if (fallbackEnv) await pointLiveLink(checked.socket!.socketDir, fallbackEnv);
        undone = `${LIVE_LINK} left at ${fallbackEnv ?? 'where it was'}`;
      }
      if (!resumed) {
        await settleState(fallbackEnv);
        undone += `; ${fallbackEnv ?? 'the old routing'} still serving`;
      }
    } catch (undoError) {
      undone = `undoing failed too: ${errorMessage(undoError)}; the backup is ${backup?.configPath}`;
    }
    const wrapped = new RelError(failure.code, `${failure.message} (${undone})`, {
      cause: error,
      details: { result: 'failed', from: fallbackEnv ?? null, to: target, method, backup: backup?.configPath },
    });
    await audit('failed', wrapped);
    throw wrapped;
  }

  // 5. Verify through the public URL; switch back if the target does not answer right.
  const verification = await phase(
    'verify',
    `verifying ${target} answers through ${urls.join(', ')}`,
    () =>
      verifyEnvironment({ ...verifyOptions, settleMs, ...pick(options, ['signal']), environment: target }).catch(
        (error: unknown): VerificationResult => ({
          ok: false,
          environment: target,
          requests: 0,
          durationMs: 0,
          seen: 'nothing',
          reason: errorMessage(error),
        }),
      ),
    (result) => `${result.ok ? 'verified' : 'not verified'}: ${result.seen}`,
  );
  if (!verification.ok) {
    const saw = `${verification.reason}; got ${verification.seen}`;
    let back: VerificationResult | undefined;
    try {
      await phase('switch-back', `switching back to ${fallbackEnv ?? 'the old routing'}`, async () => {
        if (method === 'socket') {
          if (fallbackEnv) await pointLiveLink(checked.socket!.socketDir, fallbackEnv);
          else await unlink(join(checked.socket!.socketDir, LIVE_LINK)).catch(() => undefined);
        } else {
          await writeFileAtomic(checked.configPath, fallbackText);
          await testNginxConfig(testCommand, undoCommandOptions);
          await reloadNginx(reload, undoCommandOptions);
        }
        if (fallbackEnv) back = await verifyEnvironment({ ...verifyOptions, settleMs, environment: fallbackEnv });
      });
    } catch (error) {
      const wrapped = new RelError(
        'STEP_FAILED',
        `${target} failed verification (${saw}) and switching back failed too: ${errorMessage(error)}`,
        { cause: error, details: { result: 'failed', from: fallbackEnv ?? null, to: target, method } },
      );
      await audit('failed', wrapped);
      throw wrapped;
    }
    await settleState(fallbackEnv);
    const backOk = back === undefined || back.ok;
    const outcome = backOk
      ? `switched back to ${fallbackEnv ?? 'the old routing'}${back ? ', which answers' : ''}`
      : `switched back to ${fallbackEnv}, but it does not verify either (${back!.seen})`;
    const wrapped = new RelError('STEP_FAILED', `${target} failed verification: ${saw}; ${outcome}`, {
      details: {
        result: backOk ? 'switched-back' : 'failed',
        from: fallbackEnv ?? null,
        to: target,
        method,
        verification,
        ...(back ? { switchBackVerification: back } : {}),
      },
    });
    await audit(backOk ? 'switched-back' : 'failed', wrapped);
    throw wrapped;
  }

  // 6. Record.
  await phase('record', `recording ${target} as live`, async () => {
    await writeState(stateFile, {
      ...liveState(target, state, method, options.versions),
      since: new Date().toISOString(),
      previous: from ?? null,
    });
  });
  await audit('switched');
  return {
    changed: true,
    from,
    to: target,
    method,
    ...(mismatch ? { mismatch } : {}),
    resumed,
    stateRepaired: false,
    ...(backup ? { backup } : {}),
    verification,
    warnings,
    changes,
    durations,
  };

  async function settleState(live: Environment | undefined): Promise<void> {
    const recorded = live ?? state?.live ?? null;
    if (recorded === null) {
      await removeState(stateFile);
      return;
    }
    await writeState(stateFile, liveState(recorded, state, method, state?.versions));
  }
}

/** A state for `live`, keeping `since` and `previous` when `live` is what the old state said. */
function liveState(
  live: Environment | null,
  old: LiveState | undefined,
  method: SwitchMethod,
  versions: Partial<Record<Environment, string>> | undefined,
): LiveState {
  const same = old !== undefined && old.live === live;
  const mergedVersions = { ...old?.versions, ...versions };
  return {
    live,
    since: same ? old.since : new Date().toISOString(),
    previous: same ? old.previous : (old?.live ?? null),
    ...(Object.keys(mergedVersions).length > 0 ? { versions: mergedVersions } : {}),
    method,
  };
}

function routeBack(routing: Routing, options: SwitchTrafficOptions, env: Environment): string {
  if (routing.method === 'socket') return routing.text;
  return routeConfig(routing.text, {
    upstreams: options.upstreams,
    addresses: options.addresses ?? {},
    target: env,
    ...pick(options, ['header']),
    source: routing.configPath,
  }).text;
}

function describePending(state: LiveState | undefined): string {
  const pending = state?.pending;
  if (!pending) return 'an earlier run';
  return `pid ${pending.pid} on ${pending.host} (started ${pending.startedAt})`;
}

function describeReload(reload: ReloadMethod): string {
  if (reload.kind === 'command') return reload.command.join(' ');
  if (reload.kind === 'signal') return `SIGHUP to the pid in ${reload.pidFile}`;
  return `${reload.dockerBin ?? 'docker'} kill -s HUP ${reload.container}`;
}

function asRelError(error: unknown): RelError {
  return error instanceof RelError ? error : new RelError('STEP_FAILED', errorMessage(error), { cause: error });
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const result: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) result[key] = source[key];
  return result;
}
