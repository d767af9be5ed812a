// What switchTraffic takes and returns.
import type { Environment, EventSink } from '@rel/core';
import type { Dispatcher } from 'undici';
import type { RoutingOptions } from '../status.js';
import type { BackupEntry, LintWarning, LiveMismatch, ReloadMethod, SwitchMethod } from '../types.js';
import type { VerificationResult } from '../verify.js';

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
