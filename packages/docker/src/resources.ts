import { RelError } from '@rel/core';
import type Dockerode from 'dockerode';
import { engineError, statusOf } from './client.js';
import { compareCodeUnits } from './order.js';
import type { DockerClient } from './types.js';

/**
 * Creates a bridge network named `name` unless one exists; returns its id. Idempotent and race-safe: the
 * engine lets concurrent creators make several networks of one name (its duplicate check is best-effort),
 * so each creator keeps the oldest of that name and removes its own if it lost.
 */
export async function ensureNetwork(
  client: DockerClient,
  name: string,
  labels: Record<string, string> = {},
): Promise<string> {
  const existing = await networksNamed(client, name);
  if (existing[0]) return existing[0].Id;
  let mine: string | undefined;
  try {
    const network = await client.docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: labels,
    });
    mine = network.id;
  } catch (error) {
    if (statusOf(error) !== 409) throw engineError(client, error, `creating network ${name}`);
  }
  const winner = (await networksNamed(client, name))[0];
  if (!winner) throw new RelError('STEP_FAILED', `creating network ${name} failed: it was removed right away`);
  if (mine && mine !== winner.Id) {
    await client.docker
      .getNetwork(mine)
      .remove()
      .catch(() => undefined);
  }
  return winner.Id;
}

/** Networks of exactly this name (the engine's filter matches substrings), oldest first. */
async function networksNamed(client: DockerClient, name: string): Promise<Dockerode.NetworkInspectInfo[]> {
  let networks: Dockerode.NetworkInspectInfo[];
  try {
    networks = await client.docker.listNetworks({ filters: { name: [name] } });
  } catch (error) {
    throw engineError(client, error, `listing networks named ${name}`);
  }
  return networks
    .filter((network) => network.Name === name)
    .sort((a, b) => compareCreated(a.Created, b.Created) || compareCodeUnits(a.Id, b.Id));
}

/** Orders the engine's RFC 3339 timestamps, whose fractions have up to 9 digits (trailing zeros dropped). */
function compareCreated(a: string, b: string): number {
  const parse = (text: string) => {
    const match = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
    if (!match) return [Number.NaN, ''] as const;
    return [Date.parse(`${match[1]}${match[3]}`), (match[2] ?? '').padEnd(9, '0')] as const;
  };
  const [secondsA, fractionA] = parse(a);
  const [secondsB, fractionB] = parse(b);
  // the fractions are digits of one length: code-unit order is numeric order
  return secondsA - secondsB || compareCodeUnits(fractionA, fractionB);
}

/** Removes the network(s) of that name; none is fine. Returns whether one existed. */
export async function removeNetwork(client: DockerClient, name: string): Promise<boolean> {
  const networks = await networksNamed(client, name);
  for (const network of networks) {
    try {
      await client.docker.getNetwork(network.Id).remove();
    } catch (error) {
      if (statusOf(error) !== 404) throw engineError(client, error, `removing network ${name}`);
    }
  }
  return networks.length > 0;
}

/** Creates a local volume named `name` unless one exists; returns its name. Idempotent. */
export async function ensureVolume(
  client: DockerClient,
  name: string,
  labels: Record<string, string> = {},
): Promise<string> {
  try {
    await client.docker.getVolume(name).inspect();
    return name;
  } catch (error) {
    if (statusOf(error) !== 404) throw engineError(client, error, `inspecting volume ${name}`);
  }
  try {
    // Creating a volume that exists returns it: a racing creator is no error.
    const volume = await client.docker.createVolume({ Name: name, Driver: 'local', Labels: labels });
    return volume.name;
  } catch (error) {
    throw engineError(client, error, `creating volume ${name}`);
  }
}

/** Removes a volume; one already gone is fine. A volume still in use is STEP_FAILED. Returns whether it existed. */
export async function removeVolume(client: DockerClient, name: string): Promise<boolean> {
  try {
    await client.docker.getVolume(name).remove();
    return true;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw engineError(client, error, `removing volume ${name}`);
  }
}
