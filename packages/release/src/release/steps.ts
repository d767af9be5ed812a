import { type EventSink, formatDuration, RelError } from '@rel/core';
import type { MigrateResult } from '@rel/db-migrate';
import { type DockerClient, findContainers } from '@rel/docker';
import type { RelConfig } from '../config/schema.js';
import { migrateEnvironment } from '../flows/database.js';
import { deployBackend, deployFrontend, imagesOf, pullImages } from '../flows/deploy.js';
import { type MonitorLiveResult, monitorLive } from '../flows/monitor.js';
import { replicateEnvironment } from '../flows/replicate.js';
import { readLive, switchEnvironment } from '../flows/switch.js';
import { runPreSwitchChecks } from './checks.js';
import type { ReleaseRecord, ReleaseStepId } from './journal.js';

export interface StepContext {
  config: RelConfig;
  docker: DockerClient;
  record: ReleaseRecord;
  /** Events of this step (they carry the release id and the step). */
  onEvent: EventSink;
  signal?: AbortSignal;
  /** Facts for notifications: the release id, the version, the build. */
  notificationFields: Record<string, string>;
}

/** What a step did: one line, and what it changed (kept in the journal). */
export interface StepOutcome {
  summary: string;
  changed?: unknown;
  /** The monitor step: how production fared, for the caller's report. */
  monitor?: MonitorLiveResult;
  /** The monitor step: a breach rolled traffic back (the step failed, the release is rolled back). */
  rolledBack?: boolean;
}

type StepRunner = (context: StepContext) => Promise<StepOutcome>;

/**
 * Each step of a release as a call of the single-step flows, against the release's target. Every one converges
 * when run again after an interruption (the deploys replace what they find, migrations skip what is applied, a
 * replication drops its leftovers, a switch finishes a half-done one), which is what makes `resume` safe.
 */
export const STEP_RUNNERS: Record<Exclude<ReleaseStepId, 'approval'>, StepRunner> = {
  async pull({ config, docker, record, onEvent, signal }) {
    const images = [
      ...imagesOf(config, 'backend', record.versions.backend),
      ...imagesOf(config, 'frontend', record.versions.frontend),
    ];
    await pullImages({ config, docker, onEvent, ...(signal ? { signal } : {}) }, images);
    return { summary: `pulled ${images.length} images`, changed: { images } };
  },

  async 'deploy-backend'({ config, docker, record, onEvent, signal }) {
    const result = await deployBackend({
      config,
      env: record.target,
      version: record.versions.backend,
      docker,
      onEvent,
      pulled: true,
      ...(signal ? { signal } : {}),
    });
    return {
      summary: `${record.target}'s API runs ${record.versions.backend}${result.databaseKept ? ' (database kept)' : ''}`,
      changed: { started: result.started, removed: result.removed, databaseKept: result.databaseKept },
    };
  },

  async replicate({ config, docker, record, onEvent, signal }) {
    if (!record.from) throw new RelError('STEP_FAILED', 'nothing is live to copy from');
    const result = await replicateEnvironment({
      config,
      from: record.from,
      to: record.target,
      docker,
      onEvent,
      ...(signal ? { signal } : {}),
    });
    const rows = result.tables.reduce((sum, t) => sum + t.rows, 0);
    return {
      summary: `${record.target} holds ${record.from}'s data as of ${result.snapshotAt}: ${result.tables.length} tables, ${rows} rows, verified`,
      changed: {
        snapshotAt: result.snapshotAt,
        method: result.method,
        previousDatabase: result.previousDatabase ?? null,
        tables: result.tables.length,
        rows,
      },
    };
  },

  async migrate({ config, docker, record, onEvent, signal }) {
    const result = (await migrateEnvironment({
      config,
      env: record.target,
      docker,
      onEvent,
      ...(signal ? { signal } : {}),
    })) as MigrateResult;
    return {
      summary:
        result.applied.length === 0
          ? `${record.target}'s database is up to date (${result.alreadyApplied.length} migration(s) applied before)`
          : `applied ${result.applied.join(', ')}`,
      changed: { applied: result.applied, backup: result.backup?.file ?? null },
    };
  },

  async 'deploy-frontend'({ config, docker, record, onEvent, signal }) {
    const result = await deployFrontend({
      config,
      env: record.target,
      version: record.versions.frontend,
      docker,
      onEvent,
      pulled: true,
      ...(signal ? { signal } : {}),
    });
    return {
      summary: `${record.target}'s client runs ${record.versions.frontend}`,
      changed: { started: result.started, removed: result.removed },
    };
  },

  async checks({ config, docker, record, onEvent, signal }) {
    const runs = await runPreSwitchChecks({
      config,
      docker,
      env: record.target,
      release: { id: record.id, versions: record.versions, live: record.from },
      onEvent,
      ...(signal ? { signal } : {}),
    });
    return {
      summary: `${record.target} is healthy${runs.length ? `; ${runs.map((r) => r.name).join(', ')} passed` : ''}`,
      changed: { checks: runs },
    };
  },

  async switch({ config, docker, record, onEvent, signal, notificationFields }) {
    const result = await switchEnvironment({
      config,
      env: record.target,
      docker,
      onEvent,
      notifyFailure: false,
      notificationFields,
      ...(signal ? { signal } : {}),
    });
    const took = Object.values(result.durations).reduce((a, b) => a + b, 0);
    return {
      summary: result.changed
        ? `${record.target} is live (was ${result.from ?? 'nothing'}; ${result.method} method, verified in ${formatDuration(took)})`
        : `${record.target} is live already`,
      changed: { from: result.from ?? null, to: record.target, method: result.method, changed: result.changed },
    };
  },

  async monitor({ config, docker, record, onEvent, signal, notificationFields }) {
    const live = (await readLive(config))?.live;
    if (live !== record.target && live === record.from && record.from !== null) {
      // an earlier run of this step rolled back and was stopped before it could record it
      return { summary: `traffic is back on ${record.from}`, rolledBack: true };
    }
    const result = await monitorLive({
      config,
      docker,
      durationMs: record.options.monitorMs,
      policy: { ...config.monitor, intervalMs: record.options.monitorIntervalMs },
      rollback: record.from !== null,
      ...(record.from ? { rollbackTarget: record.from } : {}),
      expectLive: record.target,
      notificationFields,
      onEvent,
      ...(signal ? { signal } : {}),
    });
    const { monitor } = result;
    const s = monitor.summary;
    const figures = `${s.checks} checks, ${s.failures} failed${s.latencyMs ? `, p95 ${s.latencyMs.p95}ms` : ''}`;
    const files = { log: result.logPath, report: result.reportPath };
    if (monitor.outcome === 'passed') {
      return {
        summary: `${record.target} passed ${formatDuration(s.durationMs)} of watching: ${figures}`,
        changed: files,
        monitor: result,
      };
    }
    if (monitor.outcome === 'stopped')
      throw new RelError('ABORTED', `the watch of ${record.target} stopped: ${monitor.reason}`);
    const why = monitor.breach?.message ?? monitor.reason;
    if (monitor.action?.ok) {
      return {
        summary: `${record.target} failed in production (${why}): traffic rolled back to ${record.from}`,
        changed: files,
        monitor: result,
        rolledBack: true,
      };
    }
    const failure = monitor.action
      ? `and the rollback to ${record.from} failed: ${monitor.action.error.message}`
      : '(nothing to roll back to: it was the first release)';
    throw new RelError(
      'STEP_FAILED',
      `${record.target} failed in production (${why}) ${failure}; logs: ${result.logPath}`,
      {
        details: files,
      },
    );
  },
};

/** One line on what a failed release left: where traffic is, and what the target runs. */
export async function describeLeft(config: RelConfig, docker: DockerClient, record: ReleaseRecord): Promise<string> {
  const switched = record.steps.find((s) => s.id === 'switch')?.status === 'done';
  let traffic: string;
  try {
    const live = (await readLive(config))?.live;
    traffic = switched
      ? `traffic is on ${live ?? 'neither environment'}`
      : `traffic untouched (${live ? `on ${live}` : 'nothing live'})`;
  } catch {
    traffic = 'traffic: unknown (nginx config unreadable)';
  }
  let target: string;
  try {
    const containers = await findContainers(docker, { project: config.project, environment: record.target });
    target = containers.length
      ? containers
          .map((c) => `${c.role} ${c.version} ${c.state}${c.health !== 'none' ? ` (${c.health})` : ''}`)
          .join(', ')
      : 'no containers';
  } catch {
    target = 'unknown (the Docker engine did not answer)';
  }
  return `${traffic}; ${record.target} runs: ${target}`;
}
