import { type EventSink, ignoreEvents, RelError, runStep, sleep } from '@rel/core';
import type Dockerode from 'dockerode';
import { engineError, engineMessage, shortId, statusOf } from './client.js';
import { LABELS } from './labels.js';
import { compareCodeUnits } from './order.js';
import type { ContainerInfo, DockerClient, PortBinding } from './types.js';

export interface FindContainersQuery {
  /** Value of the `rel.project` label. */
  project: string;
  /** Value of the `rel.environment` label. Default: any. */
  environment?: string;
  /** Value of the `rel.role` label. Default: any. */
  role?: string;
  /** Include stopped containers. Default `true`. */
  all?: boolean;
}

/** The containers carrying the given `rel.*` labels, sorted by name. */
export async function findContainers(client: DockerClient, query: FindContainersQuery): Promise<ContainerInfo[]> {
  const label = [`${LABELS.project}=${query.project}`];
  if (query.environment !== undefined) label.push(`${LABELS.environment}=${query.environment}`);
  if (query.role !== undefined) label.push(`${LABELS.role}=${query.role}`);
  let list: Dockerode.ContainerInfo[];
  try {
    list = await client.docker.listContainers({ all: query.all ?? true, filters: { label } });
  } catch (error) {
    throw engineError(client, error, `listing the containers of project ${query.project}`);
  }
  return list.map(toContainerInfo).sort((a, b) => compareCodeUnits(a.name, b.name));
}

function toContainerInfo(container: Dockerode.ContainerInfo): ContainerInfo {
  const labels = container.Labels ?? {};
  const ports = new Map<string, PortBinding>();
  for (const port of container.Ports ?? []) {
    // IPv4 and IPv6 bindings of one port are listed separately.
    if (port.PublicPort)
      ports.set(`${port.PrivatePort}:${port.PublicPort}`, { container: port.PrivatePort, host: port.PublicPort });
  }
  return {
    id: container.Id,
    name: (container.Names?.[0] ?? container.Id).replace(/^\//, ''),
    image: container.Image,
    project: labels[LABELS.project] ?? '',
    environment: labels[LABELS.environment] ?? '',
    role: labels[LABELS.role] ?? '',
    version: labels[LABELS.version] ?? '',
    state: container.State,
    status: container.Status,
    health: healthOfStatus(container.Status),
    ports: [...ports.values()],
    labels,
    createdAt: new Date(container.Created * 1000),
  };
}

/** Docker's list reports health only inside its status text: `Up 3 seconds (health: starting)`. */
export function healthOfStatus(status: string): ContainerInfo['health'] {
  if (status.includes('(healthy)')) return 'healthy';
  if (status.includes('(unhealthy)')) return 'unhealthy';
  if (status.includes('(health: starting)')) return 'starting';
  return 'none';
}

export interface RemoveContainersOptions {
  /** Seconds to let each container stop before it is killed. Default 10. */
  stopTimeoutSec?: number;
  /** Also remove the anonymous volumes they created (never named volumes). Default `true`. */
  removeVolumes?: boolean;
  /** Progress events (step `remove`). */
  onEvent?: EventSink;
}

/**
 * Stops, then removes, containers (in parallel). Containers already gone are fine: running it again
 * converges. Returns the ids (as given) of the containers that existed and were removed.
 */
export async function removeContainers(
  client: DockerClient,
  containers: ReadonlyArray<string | Pick<ContainerInfo, 'id'>>,
  options: RemoveContainersOptions = {},
): Promise<string[]> {
  const ids = containers.map((container) => (typeof container === 'string' ? container : container.id));
  const { stopTimeoutSec = 10, removeVolumes = true } = options;
  const label = ids.length === 1 ? `container ${shortId(ids[0]!)}` : `${ids.length} containers`;
  return runStep(
    options.onEvent ?? ignoreEvents,
    'remove',
    `removing ${label}`,
    async (progress) => {
      let done = 0;
      const removed = await Promise.all(
        ids.map(async (id) => {
          const existed = await removeOne(client, id, stopTimeoutSec, removeVolumes);
          done += 1;
          progress(`${existed ? 'removed' : 'already gone:'} ${shortId(id)}`, {
            current: done,
            total: ids.length,
            unit: 'containers',
          });
          return existed ? id : undefined;
        }),
      );
      return removed.filter((id): id is string => id !== undefined);
    },
    (removed) => `removed ${removed.length} of ${ids.length} containers`,
  );
}

async function removeOne(client: DockerClient, id: string, stopTimeoutSec: number, removeVolumes: boolean) {
  const container = client.docker.getContainer(id);
  try {
    await container.stop({ t: stopTimeoutSec });
  } catch (error) {
    // 304: already stopped; 404: already gone. Either way removal below decides.
    const status = statusOf(error);
    if (status !== 304 && status !== 404) throw engineError(client, error, `stopping container ${shortId(id)}`);
  }
  try {
    await container.remove({ force: true, v: removeVolumes });
    return true;
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) return false;
    // Another caller is removing it already: wait for that to finish, so callers see it gone.
    if (status === 409 && /already in progress/i.test(engineMessage(error))) {
      await waitUntilGone(client, id);
      return true;
    }
    throw engineError(client, error, `removing container ${shortId(id)}`);
  }
}

async function waitUntilGone(client: DockerClient, id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await client.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw engineError(client, error, `inspecting container ${shortId(id)}`);
    }
    await sleep(100);
  }
}

/**
 * Stops a container (SIGTERM, then SIGKILL after `stopTimeoutSec`, default 10) and keeps it, to be started
 * again with `startContainer`. Returns false when it was stopped already. NOT_FOUND when it does not exist.
 */
export async function stopContainer(
  client: DockerClient,
  id: string,
  options: { stopTimeoutSec?: number } = {},
): Promise<boolean> {
  try {
    await client.docker.getContainer(id).stop({ t: options.stopTimeoutSec ?? 10 });
    return true;
  } catch (error) {
    const status = statusOf(error);
    if (status === 304) return false;
    if (status === 404) throw new RelError('NOT_FOUND', `container ${shortId(id)} not found`);
    throw engineError(client, error, `stopping container ${shortId(id)}`);
  }
}

/** Starts a stopped container. Returns false when it was running already. NOT_FOUND when it does not exist. */
export async function startContainer(client: DockerClient, id: string): Promise<boolean> {
  try {
    await client.docker.getContainer(id).start();
    return true;
  } catch (error) {
    const status = statusOf(error);
    if (status === 304) return false;
    if (status === 404) throw new RelError('NOT_FOUND', `container ${shortId(id)} not found`);
    throw engineError(client, error, `starting container ${shortId(id)}`);
  }
}
