import type { Environment } from '@rel/core';

/**
 * How traffic moves. `reload`: rewrite the upstream `server` lines and reload nginx (an exiting worker
 * closes idle keep-alive client connections, so a few keep-alive requests can fail). `socket`: each
 * upstream points at `<socketDir>/live/<upstream>.sock` through a symlink that rel flips; no reload.
 */
export type SwitchMethod = 'reload' | 'socket';

/**
 * What follows `server` in an upstream block, per upstream, for one environment:
 * `{ sample_api: '127.0.0.1:18081', sample_client: ['127.0.0.1:18091 max_fails=3'] }`.
 */
export type UpstreamAddresses = Readonly<Record<string, string | readonly string[]>>;

/** Each environment's upstream addresses. */
export type EnvironmentAddresses = Readonly<Partial<Record<Environment, UpstreamAddresses>>>;

/** How nginx is told to re-read its configuration (reload method). */
export type ReloadMethod =
  /** Run a command, e.g. `['nginx', '-s', 'reload', '-p', prefix, '-c', conf]`. */
  | { kind: 'command'; command: readonly string[] }
  /** SIGHUP to the master process whose pid is in `pidFile`. */
  | { kind: 'signal'; pidFile: string }
  /** `docker kill -s HUP <container>` for nginx in a container. `dockerBin` default `docker`. */
  | { kind: 'docker'; container: string; dockerBin?: string };

/** The state file (JSON): which environment is live. Written atomically; the config stays the truth. */
export interface LiveState {
  /** `null` only while the first switch is under way (see `pending`). */
  live: Environment | null;
  /** When `live` became live, ISO 8601. */
  since: string;
  /** The environment live before, `null` on the first switch. */
  previous: Environment | null;
  /** Versions the caller passed in, e.g. `{ blue: 'v1', green: 'v2' }`. */
  versions?: Partial<Record<Environment, string>>;
  method: SwitchMethod;
  /** Set while a switch is under way: a run that finds it finishes (or undoes) that switch. */
  pending?: PendingSwitch;
}

export interface PendingSwitch {
  from: Environment | null;
  to: Environment;
  /** ISO 8601. */
  startedAt: string;
  pid: number;
  host: string;
}

/** What the state file and the nginx config disagree on; the config wins. */
export interface LiveMismatch {
  state: Environment | undefined;
  config: Environment | undefined;
}

export type AuditResult = 'switched' | 'refused' | 'failed' | 'switched-back' | 'unchanged';

/** One line of the audit log. */
export interface AuditEvent {
  /** ISO 8601. */
  at: string;
  user: string;
  host: string;
  from: Environment | null;
  to: Environment;
  versions?: Partial<Record<Environment, string>>;
  method: SwitchMethod;
  result: AuditResult;
  /** Milliseconds per phase: check, backup, write, test, reload, flip, verify, switch-back, record. */
  durations: Record<string, number>;
  configFile: string;
  backup?: string;
  error?: { code: string; message: string };
}

export type LintRule =
  | 'worker-shutdown-timeout'
  | 'upstream-keepalive-headers'
  | 'proxy-pass-hostname'
  | 'socket-front-keepalive';

/** A reload-safety warning: what drops or hangs requests, and how to fix it. */
export interface LintWarning {
  rule: LintRule;
  message: string;
  fix: string;
}

/** One timestamped backup in the backup directory. */
export interface BackupEntry {
  /** Sortable timestamp, e.g. `20251126T114450123Z`. */
  id: string;
  createdAt: Date;
  /** Copy of the config file. */
  configPath: string;
  /** Socket method: JSON `{ "live": "blue" | null }`, where the live symlink pointed. */
  linkPath?: string;
}
