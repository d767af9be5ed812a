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
 * takes that long. A container that is not running reports zeros.
 */
export async function containerStats(client: DockerClient, id: string): Promise<ContainerStats> {
  let stats: EngineStats;
  try {
    stats = (await client.docker.getContainer(id).stats({ stream: false })) as EngineStats;
  } catch (error) {
    throw engineError(client, error, `reading the stats of container ${shortId(id)}`);
  }
  const read = stats.read ? new Date(stats.read) : undefined;
  return {
    memoryBytes: memoryUsage(stats),
    memoryLimitBytes: stats.memory_stats?.limit ?? 0,
    cpuPercent: cpuPercent(stats),
    // A stopped container reports the zero time.
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
