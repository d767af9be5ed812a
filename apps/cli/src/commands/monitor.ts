import { formatDuration, parseDuration, RelError } from '@rel/core';
import { connectDocker } from '@rel/docker';
import {
  type MonitorConfig,
  monitorLive,
  parseShare,
  parseSize,
  parseWholeNumber,
  writeMonitorReport,
} from '@rel/release';
import { EXIT } from '@rel/release/config';
import type { CommandContext, CommandModule } from '../commands.js';

/** The config's monitor section with the command line's options on top; each bad value is one BAD_INPUT line. */
export function monitorPolicy(base: MonitorConfig, options: CommandContext['options']): MonitorConfig {
  const text = (name: string) => (typeof options[name] === 'string' ? (options[name] as string) : undefined);
  const policy: MonitorConfig = { ...base };
  const interval = text('interval');
  if (interval !== undefined) policy.intervalMs = parseDuration(interval, '--interval');
  const timeout = text('timeout');
  if (timeout !== undefined) policy.timeoutMs = parseDuration(timeout, '--timeout');
  if (policy.timeoutMs > policy.intervalMs) {
    if (timeout !== undefined) {
      throw new RelError(
        'BAD_INPUT',
        `invalid --timeout ${JSON.stringify(timeout)}: longer than the interval between checks (${formatDuration(policy.intervalMs)}); a check must end before the next one starts`,
      );
    }
    // a shorter --interval than the configured timeout: each check gets the interval at most
    policy.timeoutMs = policy.intervalMs;
  }
  const threshold = text('threshold');
  if (threshold !== undefined) policy.threshold = parseWholeNumber(threshold, '--threshold', 1);
  const failures = text('failures');
  if (failures !== undefined) {
    const match = /^(\d+)\/(\d+)$/.exec(failures);
    const count = Number(match?.[1]);
    const of = Number(match?.[2]);
    if (!match || count < 1 || count > of) {
      throw new RelError(
        'BAD_INPUT',
        `invalid --failures ${JSON.stringify(failures)}: expected N/M, N failed of the last M checks, 1 <= N <= M (e.g. 3/5)`,
      );
    }
    policy.failures = { count, of };
  }
  const p95 = text('p95');
  const window = text('p95-window');
  if (p95 !== undefined || window !== undefined) {
    if (p95 === undefined && !policy.p95) throw new RelError('BAD_INPUT', '--p95-window needs --p95 <latency>');
    policy.p95 = {
      aboveMs: p95 === undefined ? policy.p95!.aboveMs : parseDuration(p95, '--p95'),
      window: window === undefined ? (policy.p95?.window ?? 10) : parseWholeNumber(window, '--p95-window', 1),
    };
  }
  const limit = text('memory-limit');
  const growth = text('memory-growth');
  if (limit !== undefined || growth !== undefined) {
    policy.memory = {
      ...policy.memory,
      ...(limit === undefined ? {} : { limitBytes: parseSize(limit, '--memory-limit') }),
      ...(growth === undefined ? {} : { growth: parseShare(growth, '--memory-growth') }),
    };
  }
  return policy;
}

function extraUrl(value: string | boolean | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new RelError(
      'BAD_INPUT',
      `invalid --url: ${url ? `${url.protocol} is not http or https` : 'not a URL'} (expected http(s)://host/path)`,
    );
  }
  if (url.username || url.password) {
    // the probes send no credentials: they would be dropped silently, and printed with every failed check
    throw new RelError('BAD_INPUT', `invalid --url: it carries credentials (user:password@); probes send none`);
  }
  return value;
}

export const monitorCommand: CommandModule = {
  async run(context) {
    const durationMs = parseDuration(context.args[0]!, 'duration');
    const config = context.config();
    const policy = monitorPolicy(config.monitor, context.options);
    if (policy.intervalMs > durationMs) {
      throw new RelError(
        'BAD_INPUT',
        `the interval between checks (${formatDuration(policy.intervalMs)}) is longer than the watch (${formatDuration(durationMs)}): give a longer duration or a shorter --interval`,
      );
    }
    const url = extraUrl(context.options.url);
    const rollback = !context.options['no-rollback'];
    if (context.options.dryRun) {
      const steps = [
        `check the live environment every ${formatDuration(policy.intervalMs)} for ${formatDuration(durationMs)}: through nginx, its API and client directly, its containers' memory`,
        `on ${policy.threshold} failed checks in a row${policy.failures ? `, or ${policy.failures.count} of the last ${policy.failures.of}` : ''}${policy.p95 ? `, or p95 above ${formatDuration(policy.p95.aboveMs)}` : ''}${policy.memory ? ', or memory over its limit' : ''}: ${rollback ? 'roll back to the environment live before the last switch, notify' : 'report it'}`,
        `log every check under ${config.stateDir}/monitor, keep ${policy.textfile} current, write an HTML report`,
      ];
      context.reporter.result(
        [`dry run: rel monitor ${context.args[0]} would:`, ...steps.map((s, i) => `  ${i + 1}. ${s}`)].join('\n'),
        { steps, policy },
      );
      return EXIT.OK;
    }
    // No separate ping: the watch's first call to the engine (listing the live environment's containers) fails
    // the same way when the engine cannot be reached, and one round trip less is start-up CPU saved.
    const docker = connectDocker();
    const result = await monitorLive({
      config,
      docker,
      durationMs,
      policy,
      rollback,
      ...(url ? { extraUrl: url } : {}),
      onEvent: context.reporter.sink,
      signal: context.signal,
    });
    const { monitor } = result;
    const s = monitor.summary;
    const latency = s.latencyMs
      ? `p50 ${s.latencyMs.p50}ms, p95 ${s.latencyMs.p95}ms, p99 ${s.latencyMs.p99}ms`
      : 'no responses';
    const memory = s.peakMemoryBytes === null ? '' : `, peak memory ${(s.peakMemoryBytes / 2 ** 20).toFixed(1)} MiB`;
    const summary = `${s.checks} checks, ${s.failures} failed; ${latency}${memory}`;
    const files = `log ${result.logPath}; report ${result.reportPath}`;
    if (monitor.outcome === 'passed') {
      context.reporter.result(
        `${result.live} passed ${formatDuration(s.durationMs)} of monitoring: ${summary}\n${files}`,
        result,
      );
      return EXIT.OK;
    }
    if (monitor.outcome === 'stopped') {
      context.reporter.result(`monitoring of ${result.live} stopped: ${monitor.reason}; ${summary}\n${files}`, result);
      return EXIT.INTERRUPTED;
    }
    const why = monitor.breach?.message ?? monitor.reason;
    if (!rollback) {
      throw new RelError(
        'UNHEALTHY',
        `${result.live} breached the monitor's policy: ${why} (no rollback: --no-rollback); ${files}`,
      );
    }
    const action = monitor.action;
    if (!action?.ok) {
      throw new RelError(
        'STEP_FAILED',
        `${result.live} breached the monitor's policy (${why}) and the rollback to ${result.rollbackTarget} failed: ${action?.error.message ?? 'not run'}; ${files}`,
      );
    }
    const sent = action.result.notifications.filter((n) => n.ok).length;
    context.reporter.result(
      `rolled back to ${result.rollbackTarget} (was ${result.live}): ${why}; notifications: ${sent} of ${action.result.notifications.length} sent\n${summary}\n${files}`,
      result,
    );
    return EXIT.ROLLED_BACK;
  },
};

export const reportCommand: CommandModule = {
  async run(context) {
    const output = typeof context.options.output === 'string' ? context.options.output : undefined;
    const { reportPath, lines, skipped } = await writeMonitorReport(
      context.args[0]!,
      output === undefined ? {} : { output },
    );
    // Skipped lines (not JSON, an unknown type, a field of the wrong type) are said here as in the report itself.
    const note =
      skipped === 0 ? '' : ` (${skipped} skipped: not monitor log lines of a known shape; the report says so too)`;
    context.reporter.result(`report of ${lines} log lines${note}: ${reportPath}`, { reportPath, lines, skipped });
    return EXIT.OK;
  },
};
