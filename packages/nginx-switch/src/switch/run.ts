// One switch's settings (the options resolved once), its phase timings, and what its audit line reports.
import { dirname, join, resolve } from 'node:path';
import {
  type Environment,
  type EventSink,
  errorMessage,
  ignoreEvents,
  log,
  parseEnvironment,
  RelError,
  runStep,
} from '@rel/core';
import { appendAuditEvent, currentHost, currentUser } from '../audit.js';
import type { NginxCommandOptions } from '../nginx-process.js';
import type { Routing } from '../status.js';
import type { AuditResult, BackupEntry, ReloadMethod } from '../types.js';
import type { VerifyEnvironmentOptions } from '../verify.js';
import type { SwitchTrafficOptions } from './options.js';

const DEFAULT_TEST: readonly string[] = ['nginx', '-t'];
const DEFAULT_RELOAD: ReloadMethod = { kind: 'command', command: ['nginx', '-s', 'reload'] };
/** After a reload the master starts new workers, sleeps 100 ms, then tells the old ones to quit: 5x margin. */
export const RELOAD_SETTLE_MS = 500;

/** The verification's options but the environment (and the settle time, which depends on the method). */
export type SwitchVerifyOptions = Omit<VerifyEnvironmentOptions, 'environment' | 'settleMs' | 'signal'>;

/** One run of switchTraffic: its options resolved, the time spent per phase, and what the audit line names. */
export interface SwitchRun {
  options: SwitchTrafficOptions;
  target: Environment;
  urls: string[];
  stateFile: string;
  stateDir: string;
  auditFile: string;
  backupDir: string;
  testCommand: readonly string[];
  reload: ReloadMethod;
  /** For the test and reload commands of the switch: the caller's timeout and abort signal. */
  commandOptions: NginxCommandOptions;
  /** For undoing a switch: the caller's timeout but not its abort signal, which must not cut an undo short. */
  undoCommandOptions: NginxCommandOptions;
  verifyOptions: SwitchVerifyOptions;
  sink: EventSink;
  /** Milliseconds per phase, summed when a phase name comes twice (`check`). */
  durations: Record<string, number>;
  /** The routing found by the checks; no audit line is written before it is known. */
  routing: Routing | undefined;
  /** Set once the audit log's directory is known to be writable. */
  auditReady: boolean;
  /** The environment traffic moves from, as the audit line names it. */
  from: Environment | undefined;
  backup: BackupEntry | undefined;
}

/**
 * Resolves the options of one switch: the target (RelError BAD_INPUT if not `blue` or `green`), the URLs
 * (BAD_INPUT if none), absolute paths and their defaults next to the state file. Touches nothing.
 */
export function startSwitch(options: SwitchTrafficOptions): SwitchRun {
  const target = parseEnvironment(options.target);
  const urls = typeof options.verifyUrl === 'string' ? [options.verifyUrl] : [...options.verifyUrl];
  if (urls.length === 0) throw new RelError('BAD_INPUT', 'no verification URL given');
  const stateFile = resolve(options.stateFile);
  const stateDir = dirname(stateFile);
  return {
    options,
    target,
    urls,
    stateFile,
    stateDir,
    auditFile: resolve(options.auditFile ?? join(stateDir, 'switch-audit.jsonl')),
    backupDir: resolve(options.backupDir ?? join(stateDir, 'nginx-backups')),
    testCommand: options.testCommand ?? DEFAULT_TEST,
    reload: options.reload ?? DEFAULT_RELOAD,
    commandOptions: {
      ...(options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs }),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    undoCommandOptions: options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs },
    verifyOptions: {
      url: urls,
      ...pick(options, ['header', 'expectedStatus', 'dispatcher', 'requestTimeoutMs']),
      ...(options.verifyConsecutive === undefined ? {} : { consecutive: options.verifyConsecutive }),
      ...(options.verifyTimeoutMs === undefined ? {} : { timeoutMs: options.verifyTimeoutMs }),
    },
    sink: options.onEvent ?? ignoreEvents,
    durations: {},
    routing: undefined,
    auditReady: false,
    from: undefined,
    backup: undefined,
  };
}

/** Runs one phase as the step `nginx:<name>` (start, done or failed events) and adds its time to `durations`. */
export async function runPhase<T>(
  run: SwitchRun,
  name: string,
  message: string,
  fn: () => Promise<T>,
  done?: (value: T) => string,
): Promise<T> {
  const started = Date.now();
  try {
    return await runStep(run.sink, `nginx:${name}`, message, fn, done);
  } finally {
    run.durations[name] = (run.durations[name] ?? 0) + Date.now() - started;
  }
}

/**
 * Appends the run's audit line with `result` (and the error, code and message). Writes nothing before the checks
 * found the routing and a writable audit directory; a failed append is a `warn` event, never an error.
 */
export async function appendAudit(run: SwitchRun, result: AuditResult, error?: RelError): Promise<void> {
  const { routing } = run;
  if (!run.auditReady || !routing) return;
  try {
    await appendAuditEvent(run.auditFile, {
      at: new Date().toISOString(),
      user: currentUser(),
      host: currentHost(),
      from: run.from ?? null,
      to: run.target,
      ...(run.options.versions ? { versions: run.options.versions } : {}),
      method: routing.method,
      result,
      durations: { ...run.durations },
      configFile: routing.configPath,
      ...(run.backup ? { backup: run.backup.configPath } : {}),
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
    });
  } catch (auditError) {
    log(run.sink, 'warn', `could not append to the audit log ${run.auditFile}: ${errorMessage(auditError)}`);
  }
}

/** Runs a check; if it throws, appends a `refused` audit line and rethrows. */
export async function refuseOnFailure<T>(run: SwitchRun, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    await appendAudit(run, 'refused', asRelError(error));
    throw error;
  }
}

export function asRelError(error: unknown): RelError {
  return error instanceof RelError ? error : new RelError('STEP_FAILED', errorMessage(error), { cause: error });
}

/** The keys of `source` that are set. */
export function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const result: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) result[key] = source[key];
  return result;
}
