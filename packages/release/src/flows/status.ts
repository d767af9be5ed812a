import { ENVIRONMENTS, type Environment } from '@rel/core';
import { type DockerClient, findContainers } from '@rel/docker';
import type { LiveEnvironment } from '@rel/nginx-switch';
import type { RelConfig } from '../config/schema.js';

export interface EnvironmentStatus {
  env: Environment;
  containers: {
    role: string;
    name: string;
    version: string;
    state: string;
    health: string;
    ports: string[];
  }[];
  /** `running` when every container runs and none is unhealthy; `down` when none runs; `degraded` otherwise. */
  summary: 'running' | 'degraded' | 'down' | 'empty';
}

const ROLE_ORDER = ['db', 'api', 'client'];

/** What runs in each environment, read from the Docker engine by label. */
export async function readStatus(config: RelConfig, docker: DockerClient): Promise<EnvironmentStatus[]> {
  const all = await findContainers(docker, { project: config.project });
  return ENVIRONMENTS.map((env) => {
    const containers = all
      .filter((c) => c.environment === env)
      .sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role))
      .map((c) => ({
        role: c.role,
        name: c.name,
        version: c.version,
        state: c.state,
        health: c.health ?? 'none',
        ports: c.ports.map((p) => `127.0.0.1:${p.host}->${p.container}`),
      }));
    const running = containers.filter((c) => c.state === 'running');
    const summary: EnvironmentStatus['summary'] =
      containers.length === 0
        ? 'empty'
        : running.length === 0
          ? 'down'
          : running.length === containers.length && !containers.some((c) => c.health === 'unhealthy')
            ? 'running'
            : 'degraded';
    return { env, containers, summary };
  });
}

export function formatLive(live: LiveEnvironment | undefined): string {
  if (!live) return 'live: unknown (no nginx section in the config)';
  const since = live.since ? ` since ${live.since}` : '';
  const notes = [
    live.mismatch
      ? `the state file says ${live.mismatch.state ?? 'nothing'}, nginx routes to ${live.mismatch.config ?? 'neither'}`
      : '',
    live.pending
      ? `a switch to ${live.pending.to} started ${live.pending.startedAt} did not finish (the next switch completes it)`
      : '',
    live.stateProblem ?? '',
  ].filter(Boolean);
  return `live: ${live.live ?? 'unknown'}${since} (${live.method} method)${notes.length ? `; ${notes.join('; ')}` : ''}`;
}

export function formatStatus(statuses: EnvironmentStatus[]): string {
  const lines: string[] = [];
  for (const s of statuses) {
    lines.push(`${s.env}: ${s.summary}`);
    for (const c of s.containers) {
      lines.push(
        `  ${c.role.padEnd(7)} ${c.name.padEnd(28)} ${c.version.padEnd(14)} ${c.state.padEnd(8)} ${c.health.padEnd(10)} ${c.ports.join(' ')}`.trimEnd(),
      );
    }
  }
  return lines.join('\n');
}
