/** What one probe measured in one check. */
export interface ProbeSample {
  /** False when the probe failed: bad status or body, no answer, or nothing could be measured. */
  ok: boolean;
  /** HTTP status, when a response came back. */
  status?: number;
  /** Response time in milliseconds (request sent to body read), when a response came back. */
  latencyMs?: number;
  /** Memory in use, bytes. */
  memoryBytes?: number;
  /** CPU in use, percent of one core. */
  cpuPercent?: number;
  /** Why it failed, one line, no secrets: `timeout after 2000ms`, `ECONNREFUSED`, `status 503, expected 2xx`. */
  error?: string;
}

/**
 * Something checked once per tick. `httpProbe` and `resourceProbe` build them; any object of this shape
 * will do.
 */
export interface Probe {
  /** Unique within a run: `public`, `api`, `client`, `green-containers`. */
  readonly name: string;
  /** `http`, `resource`, or the caller's own kind. */
  readonly kind: string;
  /** What it checks, safe to print (no credentials, no query): `GET http://127.0.0.1:8088/api/health`. */
  readonly target?: string;
  /**
   * The monitor fails the probe (and aborts its signal) when `check` takes longer than this. Probes with the
   * same timeout share a signal within a check: one that answered in time may see it aborted afterwards when
   * another with its timeout did not answer.
   */
  readonly timeoutMs: number;
  /** Measures once. A throw or a rejection is a failed probe, never a pass. */
  check(signal: AbortSignal): Promise<ProbeSample>;
  /** Releases what the probe holds (a private undici Client); called when a run ends. Later checks still work. */
  close?(): Promise<void>;
}

export type Verdict = 'pass' | 'fail';

/** One probe's part of a check, as logged. */
export interface ProbeOutcome {
  probe: string;
  verdict: Verdict;
  status?: number;
  latencyMs?: number;
  memoryBytes?: number;
  cpuPercent?: number;
  error?: string;
}

/** One tick: every probe ran concurrently; the check fails when any probe failed. */
export interface MonitorCheck {
  /** 1 for the first check of a run. */
  seq: number;
  /** When the check started, ISO 8601. */
  time: string;
  verdict: Verdict;
  /** How long the slowest probe took. */
  durationMs: number;
  /** Grid slots skipped just before this check because the previous one overran. */
  skippedSlots: number;
  probes: ProbeOutcome[];
}

/** Which policy rule fired. */
export type PolicyRule = 'consecutive-failures' | 'failures-in-window' | 'latency' | 'memory-limit' | 'memory-growth';

/** A policy rule that fired: which, why in one line, and the data behind it. */
export interface Breach {
  /** One of `PolicyRule` for `definePolicy`'s rules; a custom policy may name its own. */
  rule: PolicyRule | (string & {});
  /** `3 consecutive failed checks: api 503 at 12:00:01Z, api 503 at 12:00:31Z, api timeout after 2000ms at 12:01:01Z` */
  message: string;
  /** The check that fired it. */
  seq: number;
  /** ISO 8601 time of that check. */
  time: string;
  /** The checks, latencies or memory samples behind it. */
  data: Record<string, unknown>;
}

/** Judges a run check by check. `definePolicy` builds one from options; any object of this shape will do. */
export interface MonitorPolicy {
  /** One line: `3 consecutive failed checks, or 3 of the last 5`. */
  readonly description: string;
  /** A fresh evaluator for one run, to be called with each check in order. */
  start(): PolicyEvaluator;
}

/** Returns a breach when the check just recorded makes a rule fire, else `undefined`. */
export type PolicyEvaluator = (check: MonitorCheck) => Breach | undefined;

/** Nearest-rank quantiles of response times, milliseconds. */
export interface LatencyFigures {
  count: number;
  sumMs: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface ProbeSummary {
  probe: string;
  checks: number;
  failures: number;
  /** Over every response this probe got (any status); `null` without one. */
  latencyMs: LatencyFigures | null;
  peakMemoryBytes: number | null;
  lastMemoryBytes: number | null;
  peakCpuPercent: number | null;
}

export type MonitorOutcome = 'passed' | 'breached' | 'stopped';

export interface MonitorSummary {
  outcome: MonitorOutcome;
  /** One line: why the run ended. */
  reason: string;
  /** ISO 8601. */
  startedAt: string;
  endedAt: string;
  durationMs: number;
  checks: number;
  /** Failed checks. */
  failures: number;
  /** Grid slots skipped because a check overran. */
  skippedSlots: number;
  /** Failed checks in a row at the end of the run. */
  consecutiveFailures: number;
  maxConsecutiveFailures: number;
  /** Over every response of every probe; `null` without one. */
  latencyMs: LatencyFigures | null;
  /** Highest memory of one check, all probes that report memory added up; `null` without a sample. */
  peakMemoryBytes: number | null;
  probes: ProbeSummary[];
}

/** What the action did: its result, or the error it threw. */
export type ActionOutcome<T = unknown> =
  | { ok: true; result: T; startedAt: string; endedAt: string; durationMs: number }
  | { ok: false; error: { code: string; message: string }; startedAt: string; endedAt: string; durationMs: number };

export interface MonitorResult<T = unknown> {
  outcome: MonitorOutcome;
  /** Same as `summary.reason`. */
  reason: string;
  /** Set when a rule fired. */
  breach?: Breach;
  /** Set when a rule fired and an action was given. */
  action?: ActionOutcome<T>;
  summary: MonitorSummary;
  /** The log file, when one was written. */
  logPath?: string;
}

/** First line of a run in the log. */
export interface MonitorStartLine {
  type: 'start';
  time: string;
  intervalMs: number;
  /** `null` when the run has no end but a breach or the signal. */
  durationMs: number | null;
  policy: string;
  probes: { name: string; kind: string; target?: string; timeoutMs: number }[];
  labels?: Record<string, string>;
}

export interface MonitorCheckLine extends MonitorCheck {
  type: 'check';
  /** Failed checks in a row, this one included. */
  consecutiveFailures: number;
}

export interface MonitorBreachLine extends Breach {
  type: 'breach';
}

export interface MonitorActionLine {
  type: 'action';
  /** When the action ended, ISO 8601. */
  time: string;
  startedAt: string;
  durationMs: number;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

export interface MonitorSummaryLine extends MonitorSummary {
  type: 'summary';
  time: string;
}

/** One line of the monitor's JSON Lines log. */
export type MonitorLogLine =
  | MonitorStartLine
  | MonitorCheckLine
  | MonitorBreachLine
  | MonitorActionLine
  | MonitorSummaryLine;
