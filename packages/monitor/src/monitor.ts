import { type EventSink, errorMessage, formatDuration, ignoreEvents, log, RelError, runStep, sleep } from '@rel/core';
import { MonitorLogWriter, safeJson } from './log.js';
import { definePolicy, describeFailure, formatBytes, type PolicyOptions } from './policy.js';
import { createProbeRunner } from './probes.js';
import { figuresOfSummary, writePrometheusTextfile } from './prometheus.js';
import { SummaryTracker } from './stats.js';
import type {
  ActionOutcome,
  Breach,
  MonitorCheck,
  MonitorLogLine,
  MonitorOutcome,
  MonitorPolicy,
  MonitorResult,
  MonitorSummary,
  Probe,
  ProbeOutcome,
} from './types.js';
import { badInput, nonEmptyName, positiveNumber } from './validate.js';

/**
 * The Prometheus textfile is rewritten after a check at most this often, unless the check failed or its verdict
 * differs from the one last written; always at the end. A scrape (every 15 s or more) never sees it older.
 */
export const DEFAULT_TEXTFILE_INTERVAL_MS = 5000;

/** The seed's rhythm: a check every 30 s ... */
export const DEFAULT_INTERVAL_MS = 30_000;
/** ... for 10 minutes (`production-monitor.sh 600`). */
export const DEFAULT_DURATION_MS = 600_000;

/** What an action is handed besides the breach. */
export interface MonitorActionContext {
  /** The run up to the breach. */
  summary: MonitorSummary;
}

export interface RunMonitorOptions<T = unknown> {
  /** Checked concurrently once per tick; a tick (a check) fails when any probe fails. At least one. */
  probes: readonly Probe[];
  /** A `MonitorPolicy`, or options for `definePolicy`. Default: 3 consecutive failed checks. */
  policy?: MonitorPolicy | PolicyOptions;
  /** Distance between checks on a fixed grid from the start. Default 30 000 ms. */
  intervalMs?: number;
  /**
   * How long to watch. Checks run at start + k * intervalMs for every k with k * intervalMs <= durationMs
   * (600 s at 30 s: 21 checks, the last at 600 s). `Infinity`: until a breach or the signal. Default 600 000 ms.
   */
  durationMs?: number;
  /**
   * Called once, on the first breach; the run then stops. Its result (or error: the run still ends normally)
   * is in the result and the log. Not interrupted by `signal`: a rollback cut in half is worse than a late stop.
   */
  action?: (breach: Breach, context: MonitorActionContext) => Promise<T> | T;
  /** JSON Lines log, appended and flushed line by line. Default: none. */
  log?: { path: string };
  /**
   * Prometheus textfile, rewritten atomically: after the first check, after every failed check and every change
   * of verdict, otherwise at most every `minIntervalMs` (default 5000; 0: after every check), and at the end.
   * Default: none.
   */
  prometheus?: { path: string; minIntervalMs?: number };
  /** Recorded in the log's start line and on every Prometheus series, e.g. `{ environment: 'green' }`. */
  labels?: Record<string, string>;
  /** Receives step and log events. Default: ignored. */
  onEvent?: EventSink;
  /** Stops the run: the check in flight is abandoned, the summary written, the outcome is `stopped`. */
  signal?: AbortSignal;
  /** Clock, ms since the epoch. Default `Date.now`. Timers are `setTimeout` (fake timers drive both). */
  now?: () => number;
}

/**
 * Watches a release: runs every probe once per tick on a fixed grid from the start, hands each check to the
 * policy, and on the first breach calls the action once and stops. A check that overruns its slot makes the
 * monitor skip the missed slots (counted as `skippedSlots`) rather than run checks back to back; two checks
 * never run at once. Never throws for what it observes; throws BAD_INPUT for bad options and CONFIG for a
 * log file it cannot open, before the first check.
 */
export async function runMonitor<T = unknown>(options: RunMonitorOptions<T>): Promise<MonitorResult<T>> {
  const reporter = options.onEvent ?? ignoreEvents;
  const sink: EventSink = (event) => {
    try {
      reporter(event);
    } catch {
      // A broken reporter must not stop the watch over production.
    }
  };
  const now = options.now ?? (() => Date.now());
  const intervalMs = positiveNumber('intervalMs', options.intervalMs ?? DEFAULT_INTERVAL_MS);
  const durationMs = positiveNumber('durationMs', options.durationMs ?? DEFAULT_DURATION_MS, { allowInfinity: true });
  const probes = validateProbes(options.probes);
  const policy = resolvePolicyOption(options.policy);
  if (options.action !== undefined && typeof options.action !== 'function') {
    badInput('action', options.action, 'expected a function');
  }
  if (options.log !== undefined) nonEmptyName('log.path', options.log?.path);
  if (options.prometheus !== undefined) nonEmptyName('prometheus.path', options.prometheus?.path);
  const textfileEvery = options.prometheus?.minIntervalMs ?? DEFAULT_TEXTFILE_INTERVAL_MS;
  if (typeof textfileEvery !== 'number' || !(textfileEvery >= 0) || !Number.isFinite(textfileEvery)) {
    badInput('prometheus.minIntervalMs', textfileEvery, 'expected a number >= 0');
  }
  const labels = options.labels;
  if (labels !== undefined) {
    for (const [name, value] of Object.entries(labels)) {
      if (typeof value !== 'string') badInput(`labels.${name}`, value, 'expected a string');
    }
  }
  const signal = options.signal ?? new AbortController().signal;
  const lastSlot = Number.isFinite(durationMs) ? Math.floor(durationMs / intervalMs) : Number.POSITIVE_INFINITY;
  const total = Number.isFinite(lastSlot) ? lastSlot + 1 : undefined;

  const writer = options.log ? new MonitorLogWriter(options.log.path) : undefined;
  let logFailed = false;
  const writeLine = (line: MonitorLogLine) => {
    if (!writer || logFailed) return;
    try {
      writer.append(line);
    } catch (error) {
      // Watching production matters more than the record of it: warn once and go on.
      logFailed = true;
      log(sink, 'error', `cannot append to the monitor log ${writer.path}: ${errorMessage(error)}`, 'monitor');
    }
  };
  let prometheusFailed = false;
  let textfileAt = Number.NEGATIVE_INFINITY;
  let textfileVerdict: MonitorCheck['verdict'] | undefined;
  /** After a check (the rules at `RunMonitorOptions.prometheus`), or at the end without one. */
  const writePrometheus = async (tracker: SummaryTracker, check?: MonitorCheck, at = now()) => {
    if (!options.prometheus || prometheusFailed) return;
    if (check && check.verdict === 'pass' && textfileVerdict === 'pass' && at - textfileAt < textfileEvery) {
      return;
    }
    textfileAt = at;
    textfileVerdict = check?.verdict;
    try {
      await writePrometheusTextfile(
        options.prometheus.path,
        figuresOfSummary(
          {
            checks: tracker.checks,
            failures: tracker.failures,
            consecutiveFailures: tracker.consecutiveFailures,
            probes: tracker.probeSummaries(),
          },
          tracker.lastCheck,
          labels,
        ),
      );
    } catch (error) {
      prometheusFailed = true;
      log(sink, 'warn', `cannot write ${options.prometheus.path}: ${errorMessage(error)}`, 'monitor');
    }
  };

  const startedAt = now();
  const tracker = new SummaryTracker(probes.map((p) => p.name));
  const evaluate = policy.start();
  const shownDuration = Number.isFinite(durationMs) ? `for ${formatDuration(durationMs)}` : 'until stopped';
  sink({
    type: 'step:start',
    step: 'monitor',
    message: `monitoring ${probes.map((p) => p.name).join(', ')} every ${formatDuration(intervalMs)} ${shownDuration} (breach: ${policy.description})`,
    at: startedAt,
  });
  writeLine({
    type: 'start',
    time: new Date(startedAt).toISOString(),
    intervalMs,
    durationMs: Number.isFinite(durationMs) ? durationMs : null,
    policy: policy.description,
    probes: probes.map((p) => ({
      name: p.name,
      kind: p.kind,
      ...(p.target === undefined ? {} : { target: p.target }),
      timeoutMs: p.timeoutMs,
    })),
    ...(labels ? { labels } : {}),
  });

  let outcome: MonitorOutcome = 'passed';
  let breach: Breach | undefined;
  let action: ActionOutcome<T> | undefined;
  let slot = 0;
  let skipped = 0;
  const runner = createProbeRunner(probes, signal);
  try {
    for (;;) {
      const due = startedAt + slot * intervalMs;
      const wait = due - now();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) {
        outcome = 'stopped';
        break;
      }
      const checkStarted = now();
      const outcomes = await runner.check();
      // A check cut short by the signal says nothing about the service: it is not recorded.
      if (signal.aborted) {
        outcome = 'stopped';
        break;
      }
      const check: MonitorCheck = {
        seq: tracker.checks + 1,
        time: new Date(checkStarted).toISOString(),
        verdict: outcomes.every((o) => o.verdict === 'pass') ? 'pass' : 'fail',
        durationMs: Math.max(0, now() - checkStarted),
        skippedSlots: skipped,
        probes: outcomes,
      };
      tracker.record(check);
      writeLine({ type: 'check', ...check, consecutiveFailures: tracker.consecutiveFailures });
      await writePrometheus(tracker, check, checkStarted);
      reportCheck(sink, check, tracker.consecutiveFailures, total);

      breach = evaluate(check);
      if (breach) {
        outcome = 'breached';
        writeLine({ type: 'breach', ...breach });
        log(sink, 'error', `breach: ${breach.message}`, 'monitor');
        if (options.action) {
          action = await runAction(options.action, breach, tracker, startedAt, now, sink);
          writeLine({
            type: 'action',
            time: action.endedAt,
            startedAt: action.startedAt,
            durationMs: action.durationMs,
            ok: action.ok,
            ...(action.ok ? { result: jsonValue(action.result) } : { error: action.error }),
          });
        }
        break;
      }

      const next = nextSlot(startedAt, intervalMs, slot, now());
      if (next.slot > lastSlot) break;
      if (next.skipped > 0) {
        log(sink, 'warn', `check ${check.seq} overran its slot: ${next.skipped} slot(s) skipped`, 'monitor');
      }
      slot = next.slot;
      skipped = next.skipped;
    }
  } catch (error) {
    // Only a caller's bug gets here (a custom policy or probe list that throws): keep the log closed and valid.
    writer?.close();
    throw error;
  } finally {
    runner.close();
    await Promise.all(probes.map((probe) => probe.close?.().catch(() => undefined)));
  }

  const endedAt = now();
  const reason = reasonOf(outcome, breach, tracker, endedAt - startedAt, signal);
  const summary = tracker.summary({ outcome, reason, startedAt, endedAt });
  writeLine({ type: 'summary', time: new Date(endedAt).toISOString(), ...summary });
  writer?.close();
  await writePrometheus(tracker);
  sink({ type: 'step:finish', step: 'monitor', message: reason, at: endedAt, durationMs: endedAt - startedAt });
  return {
    outcome,
    reason,
    ...(breach ? { breach } : {}),
    ...(action ? { action } : {}),
    summary,
    ...(writer ? { logPath: writer.path } : {}),
  };
}

/**
 * The slot after `slot` to run next, given that the check of `slot` ended at `nowMs`: the next slot, or, when
 * the check overran it, the first slot not yet begun (the missed ones are skipped, never run back to back).
 */
export function nextSlot(
  startMs: number,
  intervalMs: number,
  slot: number,
  nowMs: number,
): { slot: number; skipped: number } {
  const following = slot + 1;
  const firstNotBegun = Math.ceil((nowMs - startMs) / intervalMs);
  const next = Math.max(following, firstNotBegun);
  return { slot: next, skipped: next - following };
}

/** The action's result as plain JSON data (undefined becomes null). */
function jsonValue(value: unknown): unknown {
  const text = safeJson(value);
  return text === undefined ? null : JSON.parse(text);
}

function validateProbes(probes: unknown): readonly Probe[] {
  if (!Array.isArray(probes) || probes.length === 0) badInput('probes', probes, 'expected at least one probe');
  const names = new Set<string>();
  for (const probe of probes as Probe[]) {
    const name = nonEmptyName('probe name', probe?.name);
    if (names.has(name)) badInput('probe name', name, 'already used by another probe');
    names.add(name);
    if (typeof probe.check !== 'function') badInput(`check of probe ${name}`, probe.check, 'expected a function');
    positiveNumber(`timeoutMs of probe ${name}`, probe.timeoutMs);
  }
  return probes as Probe[];
}

function resolvePolicyOption(policy: MonitorPolicy | PolicyOptions | undefined): MonitorPolicy {
  if (policy && typeof (policy as MonitorPolicy).start === 'function') return policy as MonitorPolicy;
  return definePolicy((policy as PolicyOptions | undefined) ?? {});
}

async function runAction<T>(
  fn: NonNullable<RunMonitorOptions<T>['action']>,
  breach: Breach,
  tracker: SummaryTracker,
  startedAt: number,
  now: () => number,
  sink: EventSink,
): Promise<ActionOutcome<T>> {
  const started = now();
  const summary = tracker.summary({ outcome: 'breached', reason: breach.message, startedAt, endedAt: started });
  const times = () => {
    const ended = now();
    return {
      startedAt: new Date(started).toISOString(),
      endedAt: new Date(ended).toISOString(),
      durationMs: ended - started,
    };
  };
  try {
    const result = await runStep(sink, 'monitor:action', `acting on the breach (${breach.rule})`, async () =>
      fn(breach, { summary }),
    );
    return { ok: true, result, ...times() };
  } catch (error) {
    const code = error instanceof RelError ? error.code : 'STEP_FAILED';
    return { ok: false, error: { code, message: errorMessage(error) }, ...times() };
  }
}

function reportCheck(sink: EventSink, check: MonitorCheck, consecutive: number, total: number | undefined): void {
  const parts = check.probes.map(describeOutcome).join(', ');
  const of = total === undefined ? `${check.seq}` : `${check.seq}/${total}`;
  sink({
    type: 'step:progress',
    step: 'monitor',
    message: `check ${of} ${check.verdict === 'pass' ? 'passed' : 'FAILED'}: ${parts}`,
    at: Date.parse(check.time),
    current: check.seq,
    ...(total === undefined ? {} : { total }),
  });
  if (check.verdict === 'fail') {
    const failed = check.probes.filter((p) => p.verdict === 'fail').map(describeFailure);
    log(sink, 'warn', `check ${check.seq} failed (${consecutive} in a row): ${failed.join(', ')}`, 'monitor');
  }
}

function describeOutcome(outcome: ProbeOutcome): string {
  if (outcome.verdict === 'fail') return describeFailure(outcome);
  const parts = [outcome.probe];
  if (outcome.status !== undefined) parts.push(String(outcome.status));
  if (outcome.latencyMs !== undefined) parts.push(`${Math.round(outcome.latencyMs)}ms`);
  if (outcome.memoryBytes !== undefined) parts.push(formatBytes(outcome.memoryBytes));
  if (outcome.cpuPercent !== undefined) parts.push(`${outcome.cpuPercent}% CPU`);
  return parts.join(' ');
}

function reasonOf(
  outcome: MonitorOutcome,
  breach: Breach | undefined,
  tracker: SummaryTracker,
  elapsedMs: number,
  signal: AbortSignal,
): string {
  const counts = `${tracker.checks} check${tracker.checks === 1 ? '' : 's'}, ${tracker.failures} failed`;
  if (outcome === 'breached' && breach) return breach.message;
  if (outcome === 'stopped') {
    const why = typeof signal.reason === 'string' ? ` (${signal.reason})` : '';
    return `stopped${why} after ${formatDuration(elapsedMs)}: ${counts}`;
  }
  return `passed: ${counts} in ${formatDuration(elapsedMs)}`;
}
