import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Environment, type EventSink, log, otherEnvironment, RelError } from '@rel/core';
import { type ContainerStatsWatch, type DockerClient, findContainers, watchContainerStats } from '@rel/docker';
import {
  httpProbe,
  type MonitorResult,
  type PolicyOptions,
  type Probe,
  readLogForReport,
  renderHtmlReport,
  resourceProbe,
  runMonitor,
} from '@rel/monitor';
import type { MonitorConfig, RelConfig } from '../config/schema.js';
import { acquireReleaseLock } from '../lock.js';
import { announce } from '../notify/announce.js';
import { type RollbackResult, readLive, requireNginx, rollbackTo } from './switch.js';

export interface MonitorLiveOptions {
  config: RelConfig;
  docker: DockerClient;
  durationMs: number;
  /** The config's monitor section with the command line's options applied. */
  policy: MonitorConfig;
  /** Extra URL checked every tick (http or https). */
  extraUrl?: string;
  /** Roll back on a breach (default true); false only reports it. */
  rollback?: boolean;
  /** Where to roll back to. Default: the environment live before the last switch (else the other one). */
  rollbackTarget?: Environment;
  /** The environment that must be live; another one live is an error (a release watches the one it switched to). */
  expectLive?: Environment;
  /** More facts for the notifications (a release id, a build URL). */
  notificationFields?: Record<string, string>;
  onEvent: EventSink;
  signal?: AbortSignal;
}

export interface MonitorLiveResult {
  live: Environment;
  rollbackTarget: Environment;
  monitor: MonitorResult<RollbackResult>;
  logPath: string;
  reportPath: string;
  textfile: string;
}

/** The library's policy options from the config's monitor section. */
export function policyOptions(policy: MonitorConfig): PolicyOptions {
  return {
    consecutiveFailures: policy.threshold,
    ...(policy.failures ? { failuresInWindow: { failures: policy.failures.count, window: policy.failures.of } } : {}),
    ...(policy.p95 ? { latency: { thresholdMs: policy.p95.aboveMs, window: policy.p95.window, quantile: 0.95 } } : {}),
    ...(policy.memory
      ? {
          memory: {
            ...(policy.memory.limitBytes === undefined ? {} : { limitBytes: policy.memory.limitBytes }),
            ...(policy.memory.growth === undefined ? {} : { maxGrowth: policy.memory.growth }),
          },
        }
      : {}),
  };
}

/** Memory and CPU of the environment's running containers, from the engine's stats feeds, added up. */
async function containersProbe(config: RelConfig, docker: DockerClient, env: Environment, timeoutMs: number) {
  const containers = (await findContainers(docker, { project: config.project, environment: env })).filter(
    (c) => c.state === 'running' && (c.role === 'api' || c.role === 'client'),
  );
  const watches = new Map<string, ContainerStatsWatch>(
    containers.map((c) => [c.name, watchContainerStats(docker, c.id)]),
  );
  // the engine's first sample takes a second or two: the watch starts once every feed has one
  await Promise.all([...watches.values()].map((w) => w.first.catch(() => undefined)));
  const probe = resourceProbe({
    name: `${env}-containers`,
    target: `memory and CPU of ${containers.map((c) => c.name).join(', ') || `${env}'s containers (none running)`}`,
    timeoutMs,
    sample: async () => {
      if (watches.size === 0) throw new Error(`${env} has no running API or client container`);
      let memoryBytes = 0;
      let cpuPercent = 0;
      for (const [name, watch] of watches) {
        const latest = watch.latest();
        if (watch.ended() || !latest) throw new Error(`container ${name} is not running (its stats ended)`);
        if (Date.now() - latest.at.getTime() > 10_000) throw new Error(`no stats from container ${name} for 10s`);
        memoryBytes += latest.memoryBytes;
        cpuPercent += latest.cpuPercent;
      }
      return { memoryBytes, cpuPercent };
    },
  });
  return {
    probe,
    close: () => {
      for (const watch of watches.values()) watch.close();
    },
  };
}

/**
 * The seed's production-monitor.sh: checks the live environment every interval (through nginx, and its API
 * and client directly, and its containers' memory), and on a breach of the policy rolls back to the
 * environment that was live before the last switch, with notifications, once.
 */
export async function monitorLive(options: MonitorLiveOptions): Promise<MonitorLiveResult> {
  const { config, docker, policy, onEvent: sink } = options;
  const nginx = requireNginx(config);
  const state = await readLive(config);
  const live = state?.live;
  if (!live) {
    throw new RelError(
      'NOT_FOUND',
      `no live environment to monitor: ${state?.stateProblem ?? 'no switch recorded yet'} (switch first: rel switch <env>)`,
    );
  }
  if (options.expectLive && live !== options.expectLive) {
    throw new RelError(
      'STEP_FAILED',
      `traffic is on ${live}, not on ${options.expectLive}: it was moved after the switch (rel status shows where)`,
    );
  }
  const rollbackTarget = options.rollbackTarget ?? state?.previous ?? otherEnvironment(live);
  const ports = config.environments[live];
  // Every check keeps its connection alive between checks (when the server allows it): half the CPU of a new
  // connection per check. A stopped container or nginx still fails the next check (their connections close
  // with them), and a kept connection nginx closes under a request (its old workers close idle ones at a
  // reload) is asked once more on a new one (httpProbe's keepAlive).
  const http = (name: string, url: string) =>
    httpProbe({ name, url, timeoutMs: policy.timeoutMs, expectStatus: 200, keepAlive: true });
  const probes: Probe[] = [
    http('public', `${nginx.publicUrl}${nginx.verify.path}`),
    http('api', `http://127.0.0.1:${ports.apiPort}${config.backend.health.path}`),
    ...(nginx.upstreams.client
      ? [http('client', `http://127.0.0.1:${ports.clientPort}${config.frontend.health.path}`)]
      : []),
    ...(options.extraUrl ? [http('url', options.extraUrl)] : []),
  ];
  const resources = await containersProbe(config, docker, live, Math.max(policy.timeoutMs, 1000));
  probes.push(resources.probe);

  const dir = join(config.stateDir, 'monitor');
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logPath = join(dir, `monitor-${stamp}-${live}.jsonl`);
  const rollback = options.rollback ?? true;
  log(
    sink,
    'info',
    `watching ${live} for ${options.durationMs / 1000}s, a check every ${policy.intervalMs / 1000}s; on a breach: ${
      rollback ? `roll back to ${rollbackTarget}` : 'report it (no rollback)'
    }; log ${logPath}`,
    'monitor',
  );
  let monitor: MonitorResult<RollbackResult>;
  try {
    monitor = await runMonitor<RollbackResult>({
      probes,
      policy: policyOptions(policy),
      intervalMs: policy.intervalMs,
      durationMs: options.durationMs,
      log: { path: logPath },
      prometheus: { path: policy.textfile },
      labels: { project: config.project, environment: live },
      onEvent: sink,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(rollback
        ? {
            action: async (breach) => {
              // One switch at a time: the rollback takes the release lock (the watch itself does not hold it,
              // so an operator's own rollback is never refused while a monitor runs).
              await using _lock = await acquireReleaseLock({
                stateDir: config.stateDir,
                project: config.project,
                command: `monitor: rollback ${rollbackTarget}`,
                onEvent: sink,
              });
              // awaited here, not returned: a rollback that fails while the lock is being released would be an
              // unhandled rejection (it killed the process in one CI run)
              return await rollbackTo({
                config,
                env: rollbackTarget,
                docker,
                onEvent: sink,
                reason: `rel monitor: ${breach.message}`,
                ...(options.notificationFields ? { notificationFields: options.notificationFields } : {}),
              });
            },
          }
        : {}),
    });
  } finally {
    resources.close();
  }
  const { reportPath } = await writeMonitorReport(logPath, { title: `${config.project}: ${live}` });
  await announceBreach(options, { live, rollbackTarget, monitor, logPath });
  return { live, rollbackTarget, monitor, logPath, reportPath, textfile: policy.textfile };
}

/**
 * A breach whose rollback failed is announced as critical (production is failing and still live); a breach
 * watched with rollback off as a warning. A rollback that worked was announced by the rollback itself.
 */
async function announceBreach(
  options: MonitorLiveOptions,
  run: { live: Environment; rollbackTarget: Environment; monitor: MonitorResult<RollbackResult>; logPath: string },
): Promise<void> {
  const { monitor, live, rollbackTarget } = run;
  if (monitor.outcome !== 'breached' || monitor.action?.ok) return;
  const why = monitor.breach?.message ?? monitor.reason;
  const fields = { log: run.logPath, ...options.notificationFields };
  if (monitor.action) {
    await announce(
      options.config,
      {
        severity: 'critical',
        title: `${options.config.project}: ROLLBACK FAILED, ${live} is failing and still live`,
        text: `${live} breached the monitor's policy (${why}) and the rollback to ${rollbackTarget} failed: ${monitor.action.error.message}. Production needs a person now.`,
        event: 'rollback-failed',
        environment: live,
        from: live,
        to: rollbackTarget,
        fields,
      },
      options.onEvent,
    );
    return;
  }
  await announce(
    options.config,
    {
      severity: 'warning',
      title: `${options.config.project}: ${live} is failing (no automatic rollback)`,
      text: `${live} breached the monitor's policy: ${why}. Rollback is off for this watch: traffic stays on ${live}.`,
      event: 'breach',
      environment: live,
      fields,
    },
    options.onEvent,
  );
}

/**
 * The HTML report of a log, written beside it (`.jsonl` -> `.html`) or to `output`. The log is not trusted: lines
 * that are not monitor log lines of a known shape are skipped, counted in `skipped`, and the report says so.
 */
export async function writeMonitorReport(
  logPath: string,
  options: { output?: string; title?: string } = {},
): Promise<{ reportPath: string; lines: number; skipped: number }> {
  const { lines, skipped } = await readLogForReport(logPath);
  const reportPath =
    options.output ?? (logPath.endsWith('.jsonl') ? logPath.replace(/\.jsonl$/, '.html') : `${logPath}.html`);
  await writeFile(
    reportPath,
    renderHtmlReport(lines, { skipped, ...(options.title === undefined ? {} : { title: options.title }) }),
  );
  return { reportPath, lines: lines.length, skipped };
}
