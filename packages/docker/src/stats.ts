import { RelError } from '@rel/core';
import { engineError, shortId } from './client.js';
import type { ContainerStats, DockerClient } from './types.js';

/** The parts of the engine's stats document this package reads. */
export interface EngineStats {
  read?: string;
  cpu_stats?: CpuSample;
  precpu_stats?: CpuSample;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

interface CpuSample {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

/**
 * One sample of a container's memory and CPU use. The engine measures CPU over about a second, so this
 * takes that long (to sample often, follow the feed of `watchContainerStats`). A container that is not
 * running reports zeros.
 */
export async function containerStats(client: DockerClient, id: string): Promise<ContainerStats> {
  try {
    return sampleOf((await client.docker.getContainer(id).stats({ stream: false })) as EngineStats);
  } catch (error) {
    throw engineError(client, error, `reading the stats of container ${shortId(id)}`);
  }
}

/** A live feed of a container's stats, one sample about every second (as `docker stats` shows them). */
export interface ContainerStatsWatch {
  /** The newest sample, or undefined before the first one. */
  latest(): ContainerStats | undefined;
  /** Set when the feed ended (the container stopped or went away, or the engine closed it). */
  ended(): boolean;
  /** Resolves with the first sample (rejects when the feed fails before it). */
  first: Promise<ContainerStats>;
  /** Stops the feed. */
  close(): void;
}

/**
 * Follows a container's stats as the engine streams them (about one sample a second, CPU measured between
 * them). For monitors that sample often: `latest()` answers at once, where `containerStats` takes a second.
 */
export function watchContainerStats(client: DockerClient, id: string): ContainerStatsWatch {
  const controller = new AbortController();
  let latest: ContainerStats | undefined;
  let ended = false;
  let resolveFirst: (stats: ContainerStats) => void = () => {};
  let rejectFirst: (error: unknown) => void = () => {};
  const first = new Promise<ContainerStats>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  first.catch(() => undefined);
  const fail = (error: unknown) => {
    ended = true;
    rejectFirst(engineError(client, error, `reading the stats of container ${shortId(id)}`));
  };
  const query = { stream: true, abortSignal: controller.signal } as { stream: true };
  client.docker
    .getContainer(id)
    .stats(query)
    .then((stream) => {
      let buffer = '';
      stream.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          const line = buffer.slice(0, i).trim();
          buffer = buffer.slice(i + 1);
          if (!line) continue;
          try {
            latest = sampleOf(JSON.parse(line) as EngineStats);
            resolveFirst(latest);
          } catch {
            // a line cut by a closing stream: the next one counts
          }
        }
      });
      stream.on('end', () => {
        ended = true;
        rejectFirst(new RelError('STEP_FAILED', `the stats of container ${shortId(id)} ended before a sample`));
      });
      stream.on('error', (error) => {
        if (!controller.signal.aborted) fail(error);
        ended = true;
      });
    }, fail);
  return {
    latest: () => latest,
    ended: () => ended,
    first,
    close: () => {
      ended = true;
      controller.abort();
    },
  };
}

function sampleOf(stats: EngineStats): ContainerStats {
  const read = stats.read ? new Date(stats.read) : undefined;
  return {
    memoryBytes: memoryUsage(stats),
    memoryLimitBytes: stats.memory_stats?.limit ?? 0,
    cpuPercent: cpuPercent(stats),
    at: read && read.getTime() > 0 ? read : new Date(),
  };
}

/** CPU use as `docker stats` computes it: the container's share of the host's CPU time, times the CPU count. */
export function cpuPercent(stats: EngineStats): number {
  const cpu = stats.cpu_stats;
  const pre = stats.precpu_stats;
  const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  const cpus = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1;
  // Without a previous sample (a one-shot read) there is no interval to measure over.
  if (!pre?.system_cpu_usage || cpuDelta <= 0 || systemDelta <= 0) return 0;
  return (cpuDelta / systemDelta) * cpus * 100;
}

/**
 * Memory use as `docker stats` computes it: usage minus the inactive page cache (`total_inactive_file` on
 * cgroup v1, `inactive_file` on v2), falling back to cgroup v1's `cache` on engines that report only that.
 */
export function memoryUsage(stats: EngineStats): number {
  const usage = stats.memory_stats?.usage ?? 0;
  const detail = stats.memory_stats?.stats ?? {};
  const reclaimable = detail.total_inactive_file ?? detail.inactive_file ?? detail.cache;
  return reclaimable !== undefined && reclaimable < usage ? usage - reclaimable : usage;
}
