import { ignoreEvents, RelError, runStep } from '@rel/core';
import type Dockerode from 'dockerode';
import { engineError, engineMessage, shortId, statusOf } from './client.js';
import { removeContainers } from './containers.js';
import type { ContainerSpec, DockerClient, PortBinding, RunContainerOptions, RunContainerResult } from './types.js';

const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Creates and starts a container from a local image. Published ports are bound to 127.0.0.1 only. A
 * container of the same name is an error (STEP_FAILED) unless `replace` is set; a missing image or network
 * is NOT_FOUND (this never pulls). If the container cannot start, it is removed again before the error is
 * thrown, so a retry does not trip over it.
 */
export async function runContainer(
  client: DockerClient,
  spec: ContainerSpec,
  options: RunContainerOptions = {},
): Promise<RunContainerResult> {
  validateSpec(spec);
  return runStep(
    options.onEvent ?? ignoreEvents,
    'run',
    `starting container ${spec.name} from ${spec.image}`,
    async (progress) => {
      const existing = await inspectContainer(client, spec.name);
      if (existing) {
        if (!options.replace) {
          throw new RelError(
            'STEP_FAILED',
            `a container named ${spec.name} already exists (${shortId(existing.Id)}, ${existing.State.Status}); ` +
              'remove it first or pass replace: true',
            { details: { container: spec.name, id: existing.Id } },
          );
        }
        progress(`removing the existing container ${spec.name} (${shortId(existing.Id)})`);
        await removeContainers(client, [existing.Id], { stopTimeoutSec: options.stopTimeoutSec ?? 10 });
      }
      let container: Dockerode.Container;
      try {
        container = await client.docker.createContainer(createRequest(createOptions(spec)));
      } catch (error) {
        throw createError(client, spec, error);
      }
      progress(`created ${spec.name} (${shortId(container.id)})`);
      try {
        await container.start();
      } catch (error) {
        await container.remove({ force: true, v: true }).catch(() => undefined);
        throw engineError(client, error, `starting container ${spec.name}`);
      }
      let info: Dockerode.ContainerInspectInfo;
      try {
        info = await container.inspect();
      } catch (error) {
        throw engineError(client, error, `inspecting container ${spec.name}`);
      }
      return { id: container.id, name: spec.name, ports: publishedPorts(info) };
    },
    (result) => `started container ${result.name} (${shortId(result.id)})`,
  );
}

/** The container of that name or id, or `undefined` when there is none. */
export async function inspectContainer(
  client: DockerClient,
  nameOrId: string,
): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    return await client.docker.getContainer(nameOrId).inspect();
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw engineError(client, error, `inspecting container ${nameOrId}`);
  }
}

/** Host ports Docker bound for a container's TCP ports. */
export function publishedPorts(info: Dockerode.ContainerInspectInfo): PortBinding[] {
  const ports: PortBinding[] = [];
  for (const [key, bindings] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
    const [port, protocol] = key.split('/');
    const host = bindings?.[0]?.HostPort;
    if (protocol === 'tcp' && host) ports.push({ container: Number(port), host: Number(host) });
  }
  return ports.sort((a, b) => a.container - b.container);
}

/**
 * The options of `createContainer`, split for the engine's request. docker-modem (dockerode's transport) puts
 * options into the URL's query string as well as into the body unless they come as `_query` and `_body`:
 * every env value (passwords) would travel in the URL of `POST /containers/create`, where dockerd's debug log
 * and socket proxies record it. The query carries the name only; the rest goes in the body.
 */
export function createRequest(options: Dockerode.ContainerCreateOptions): Dockerode.ContainerCreateOptions {
  const { name, ...body } = options;
  const request = { _query: { name }, _body: body };
  return request as Dockerode.ContainerCreateOptions;
}

export function createOptions(spec: ContainerSpec): Dockerode.ContainerCreateOptions {
  const ports = spec.ports ?? [];
  const hostConfig: Dockerode.HostConfig = {
    PortBindings: Object.fromEntries(
      ports.map((p) => [`${p.container}/tcp`, [{ HostIp: '127.0.0.1', HostPort: p.host ? String(p.host) : '' }]]),
    ),
    Mounts: (spec.volumes ?? []).map((volume) => ({ Type: 'volume', Source: volume.name, Target: volume.target })),
    RestartPolicy: { Name: spec.restart ?? 'no' },
  };
  if (spec.memoryBytes !== undefined) hostConfig.Memory = spec.memoryBytes;
  if (spec.network) hostConfig.NetworkMode = spec.network.name;
  const options: Dockerode.ContainerCreateOptions = {
    name: spec.name,
    Image: spec.image,
    Env: Object.entries(spec.env ?? {}).map(([key, value]) => `${key}=${value}`),
    Labels: spec.labels ?? {},
    ExposedPorts: Object.fromEntries(ports.map((p) => [`${p.container}/tcp`, {}])),
    HostConfig: hostConfig,
  };
  if (spec.cmd) options.Cmd = spec.cmd;
  if (spec.entrypoint) options.Entrypoint = spec.entrypoint;
  if (spec.network) {
    options.NetworkingConfig = {
      EndpointsConfig: { [spec.network.name]: { Aliases: spec.network.aliases ?? [] } },
    };
  }
  if (spec.healthcheck) {
    const h = spec.healthcheck;
    const ns = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 1e6));
    options.Healthcheck = {
      Test: h.test,
      Interval: ns(h.intervalMs),
      Timeout: ns(h.timeoutMs),
      Retries: h.retries,
      StartPeriod: ns(h.startPeriodMs),
    };
  }
  return options;
}

export function createError(client: DockerClient, spec: ContainerSpec, error: unknown): RelError {
  const status = statusOf(error);
  const message = engineMessage(error);
  if (status === 404 && /no such image/i.test(message)) {
    return new RelError(
      'NOT_FOUND',
      `image ${spec.image} is not present locally; pull it first (runContainer never pulls)`,
      { cause: error, details: { image: spec.image } },
    );
  }
  if (status === 404 && /network/i.test(message)) {
    return new RelError('NOT_FOUND', `network ${spec.network?.name} does not exist; create it with ensureNetwork`, {
      cause: error,
    });
  }
  if (status === 409) {
    return new RelError('STEP_FAILED', `a container named ${spec.name} already exists: ${message}`, { cause: error });
  }
  return engineError(client, error, `creating container ${spec.name}`);
}

export function validateSpec(spec: ContainerSpec): void {
  const bad = (message: string) => new RelError('BAD_INPUT', message);
  if (typeof spec.name !== 'string' || !CONTAINER_NAME.test(spec.name)) {
    throw bad(`invalid container name ${JSON.stringify(spec.name)}: expected letters, digits, '_', '.', '-'`);
  }
  if (typeof spec.image !== 'string' || spec.image.trim() === '' || /\s/.test(spec.image)) {
    throw bad(`invalid image ${JSON.stringify(spec.image)} for container ${spec.name}`);
  }
  for (const key of Object.keys(spec.env ?? {})) {
    if (!ENV_NAME.test(key)) throw bad(`invalid environment variable name ${JSON.stringify(key)} for ${spec.name}`);
  }
  for (const port of spec.ports ?? []) {
    const ok = isPort(port.container, 1) && isPort(port.host, 0);
    if (!ok)
      throw bad(`invalid port mapping ${JSON.stringify(port)} for ${spec.name}: ports are 1-65535 (host 0: any)`);
  }
  for (const volume of spec.volumes ?? []) {
    if (!volume.name || !volume.target.startsWith('/')) {
      throw bad(`invalid volume ${JSON.stringify(volume)} for ${spec.name}: needs a name and an absolute target`);
    }
  }
  if (spec.memoryBytes !== undefined && !(Number.isInteger(spec.memoryBytes) && spec.memoryBytes > 0)) {
    throw bad(`invalid memory limit ${spec.memoryBytes} for ${spec.name}: expected a positive number of bytes`);
  }
  if (spec.healthcheck && !['CMD', 'CMD-SHELL', 'NONE'].includes(spec.healthcheck.test[0] ?? '')) {
    throw bad(`invalid health check for ${spec.name}: the test starts with CMD, CMD-SHELL or NONE`);
  }
}

function isPort(value: number, min: number): boolean {
  return Number.isInteger(value) && value >= min && value <= 65535;
}
