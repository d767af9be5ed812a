import { type Environment, type EventSink, log, runStep } from '@rel/core';
import {
  type ContainerInfo,
  type ContainerSpec,
  type DockerClient,
  ensureNetwork,
  ensureVolume,
  environmentLabels,
  findContainers,
  LABELS,
  pullImage,
  removeContainers,
  runContainer,
  validateTag,
  Wait,
  waitForReady,
} from '@rel/docker';
import type { RelConfig } from '../config/schema.js';
import { type Role, resourceNames } from './names.js';
import { registryAuthFor } from './registry-auth.js';

export interface DeployOptions {
  config: RelConfig;
  env: Environment;
  version: string;
  docker: DockerClient;
  onEvent: EventSink;
  signal?: AbortSignal;
  /** The images were pulled already (a release pulls every image first): do not ask the registry again. */
  pulled?: boolean;
}

export interface DeployResult {
  env: Environment;
  version: string;
  /** Containers started by this deploy. */
  started: { role: Role; id: string; name: string }[];
  /** Containers removed by this deploy (the environment's previous ones). */
  removed: { role: string; name: string; version: string }[];
  /** True when the running database container was kept as it was. */
  databaseKept: boolean;
  /** How long the last health wait took after its container started. */
  readyAfterMs: number;
}

/** The steps a deploy would take, for --dry-run. */
export interface DeployPlan {
  steps: string[];
}

/**
 * The seed's deploy-backend.sh: pull the API image (and the database image) first, so a bad tag changes
 * nothing; then remove the environment's API, start its database if it is not already running (the data
 * volume survives), wait until PostgreSQL is ready, start the API wired to it and wait until it is healthy.
 * Only containers labelled with this environment are touched.
 */
export async function deployBackend(options: DeployOptions): Promise<DeployResult> {
  const { config, env, version, docker, onEvent: sink, signal } = options;
  validateTag(version);
  const names = resourceNames(config, env);
  const apiImage = `${config.images.backend}:${version}`;
  const [, existing] = await Promise.all([
    options.pulled ? undefined : pullImages(options, [apiImage, config.images.database]),
    findContainers(docker, { project: config.project, environment: env }),
  ]);
  const oldApis = existing.filter((c) => c.role === 'api');
  const databases = existing.filter((c) => c.role === 'db');

  const labels = (role: Role, v: string) => ({
    ...config.labels,
    ...environmentLabels({ project: config.project, environment: env, role, version: v }),
  });
  const resourceLabels = { ...config.labels, [LABELS.project]: config.project, [LABELS.environment]: env };
  await runStep(sink, 'network', `prepare network ${names.network} and volume ${names.dbVolume}`, async () => {
    await Promise.all([
      ensureNetwork(docker, names.network, resourceLabels),
      ensureVolume(docker, names.dbVolume, resourceLabels),
    ]);
  });

  const removed: DeployResult['removed'] = [];
  const dbName = names.container('db');
  const dbVersion = config.images.database.split(':').pop()!;
  const current = databases.find(
    (c) => c.state === 'running' && c.image === config.images.database && c.name === dbName,
  );
  const databaseKept = current !== undefined && databases.length === 1;

  // The old API and the database are independent: stop the one while the other starts or is checked.
  const stopOldApi = async () => {
    if (oldApis.length === 0) return;
    await runStep(sink, 'stop-api', `stop ${env}'s API (${describe(oldApis)})`, async (_, inner) => {
      await removeContainers(docker, oldApis, { onEvent: inner });
      removed.push(...oldApis.map(summary));
    });
  };
  const readyDatabase = async () => {
    let dbId = current?.id;
    if (databaseKept) {
      log(sink, 'info', `${env}'s database ${dbName} is running; keeping it`, 'database');
    } else {
      dbId = await runStep(
        sink,
        'database',
        `start ${env}'s database ${dbName} (volume ${names.dbVolume})`,
        async (_, inner) => {
          if (databases.length > 0) {
            await removeContainers(docker, databases, { onEvent: inner });
            removed.push(...databases.map(summary));
          }
          const started = await runContainer(
            docker,
            {
              name: dbName,
              image: config.images.database,
              env: {
                POSTGRES_USER: config.database.user,
                POSTGRES_PASSWORD: config.database.password,
                POSTGRES_DB: config.database.name,
              },
              labels: labels('db', dbVersion),
              network: { name: names.network, aliases: [names.dbHost] },
              ports: [{ container: config.database.port, host: config.environments[env].dbPort }],
              volumes: [{ name: names.dbVolume, target: '/var/lib/postgresql/data' }],
              restart: 'unless-stopped',
            },
            { onEvent: inner },
          );
          return started.id;
        },
      );
    }
    await runStep(sink, 'database-ready', `wait for ${env}'s database to accept connections`, async (_, inner) => {
      await waitForReady(
        docker,
        dbId!,
        Wait.forPostgres({ user: config.database.user, database: config.database.name }).withTimeout(
          config.databaseReadyTimeoutMs,
        ),
        { ...(signal ? { signal } : {}), onEvent: inner },
      );
    });
  };
  await allOrFirstError([stopOldApi(), readyDatabase()]);

  const apiName = names.container('api');
  const { id, readyAfterMs } = await startService(options, 'api', {
    name: apiName,
    image: apiImage,
    env: {
      ...config.backend.env,
      PORT: String(config.backend.port),
      PGHOST: names.dbHost,
      PGPORT: String(config.database.port),
      PGUSER: config.database.user,
      PGPASSWORD: config.database.password,
      PGDATABASE: config.database.name,
    },
    labels: labels('api', version),
    network: { name: names.network },
    ports: [{ container: config.backend.port, host: config.environments[env].apiPort }],
    restart: 'unless-stopped',
  });
  return {
    env,
    version,
    started: [{ role: 'api', id, name: apiName }],
    removed,
    databaseKept,
    readyAfterMs,
  };
}

/** The seed's deploy-frontend.sh: pull the client image, replace the environment's client, wait until healthy. */
export async function deployFrontend(options: DeployOptions): Promise<DeployResult> {
  const { config, env, version, docker, onEvent: sink } = options;
  validateTag(version);
  const names = resourceNames(config, env);
  const image = `${config.images.frontend}:${version}`;
  if (!options.pulled) await pullImages(options, [image]);
  await runStep(sink, 'network', `prepare network ${names.network}`, async () => {
    await ensureNetwork(docker, names.network, {
      ...config.labels,
      [LABELS.project]: config.project,
      [LABELS.environment]: env,
    });
  });
  const removed: DeployResult['removed'] = [];
  const old = await findContainers(docker, { project: config.project, environment: env, role: 'client' });
  if (old.length > 0) {
    await runStep(sink, 'stop-client', `stop ${env}'s client (${describe(old)})`, async (_, inner) => {
      await removeContainers(docker, old, { onEvent: inner });
      removed.push(...old.map(summary));
    });
  }
  const name = names.container('client');
  const { id, readyAfterMs } = await startService(options, 'client', {
    name,
    image,
    env: { ...config.frontend.env },
    labels: {
      ...config.labels,
      ...environmentLabels({ project: config.project, environment: env, role: 'client', version }),
    },
    network: { name: names.network },
    ports: [{ container: config.frontend.port, host: config.environments[env].clientPort }],
    restart: 'unless-stopped',
  });
  return { env, version, started: [{ role: 'client', id, name }], removed, databaseKept: false, readyAfterMs };
}

/** What a deploy would do, from the engine's current state; changes nothing. */
export async function planDeploy(
  options: Omit<DeployOptions, 'onEvent'> & { role: 'backend' | 'frontend' },
): Promise<DeployPlan> {
  const { config, env, version, docker, role } = options;
  validateTag(version);
  const names = resourceNames(config, env);
  const roles: Role[] = role === 'backend' ? ['api', 'db'] : ['client'];
  const existing = await findContainers(docker, { project: config.project, environment: env });
  const image = role === 'backend' ? `${config.images.backend}:${version}` : `${config.images.frontend}:${version}`;
  const steps = [`pull ${image}${role === 'backend' ? ` and ${config.images.database}` : ''}`];
  for (const c of existing.filter((c) => roles.includes(c.role as Role))) {
    const keep = c.role === 'db' && c.state === 'running' && c.image === config.images.database;
    steps.push(
      keep ? `keep ${c.name} (database, running)` : `stop and remove ${c.name} (${c.role} ${c.version}, ${c.state})`,
    );
  }
  if (role === 'backend') {
    if (!existing.some((c) => c.role === 'db' && c.state === 'running' && c.image === config.images.database)) {
      steps.push(
        `start ${names.container('db')} from ${config.images.database} on 127.0.0.1:${config.environments[env].dbPort}, volume ${names.dbVolume}`,
      );
    }
    steps.push(`wait for PostgreSQL in ${names.container('db')}`);
    steps.push(`start ${names.container('api')} from ${image} on 127.0.0.1:${config.environments[env].apiPort}`);
    steps.push(
      `wait until http://127.0.0.1:${config.environments[env].apiPort}${config.backend.health.path} answers 200`,
    );
  } else {
    steps.push(`start ${names.container('client')} from ${image} on 127.0.0.1:${config.environments[env].clientPort}`);
    steps.push(
      `wait until http://127.0.0.1:${config.environments[env].clientPort}${config.frontend.health.path} answers 200`,
    );
  }
  return { steps };
}

/** Starts the API or the client and waits until its health path answers 200; returns how long that took. */
async function startService(options: DeployOptions, role: 'api' | 'client', spec: ContainerSpec) {
  const { config, env, version, docker, onEvent: sink, signal } = options;
  const service = role === 'api' ? config.backend : config.frontend;
  const what = role === 'api' ? 'API' : 'client';
  return runStep(
    sink,
    role,
    `start ${env}'s ${what} ${spec.name} ${version} and wait until ${service.health.path} answers 200`,
    async (_, inner) => {
      const started = await runContainer(docker, spec, { onEvent: inner });
      const t0 = Date.now();
      await waitForReady(
        docker,
        started.id,
        Wait.forHttp(service.health.path, { port: service.port }).withTimeout(service.health.timeoutMs),
        { ...(signal ? { signal } : {}), onEvent: inner },
      );
      return { id: started.id, readyAfterMs: Date.now() - t0 };
    },
  );
}

/** The images a deploy of `role` at `version` runs: the API's and the database's, or the client's. */
export function imagesOf(config: RelConfig, role: 'backend' | 'frontend', version: string): string[] {
  return role === 'backend'
    ? [`${config.images.backend}:${version}`, config.images.database]
    : [`${config.images.frontend}:${version}`];
}

/** Pulls the images in parallel, with the registry's credentials; the first failure is thrown once all have settled. */
export async function pullImages(
  options: Pick<DeployOptions, 'config' | 'docker' | 'onEvent' | 'signal'>,
  images: string[],
): Promise<void> {
  const { config, docker, onEvent: sink, signal } = options;
  await runStep(sink, 'pull', `pull ${images.join(' and ')}`, async (_, inner) => {
    await allOrFirstError(
      images.map(async (ref) => {
        const auth = await registryAuthFor(config, ref);
        // false: no credentials found where the config says to look; pull anonymously rather than guess
        await pullImage(docker, ref, { auth: auth ?? false, onEvent: inner, ...(signal ? { signal } : {}) });
      }),
    );
  });
}

/** Waits for every task (none is left running behind a failure), then throws the first failure. */
async function allOrFirstError(tasks: Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function summary(c: ContainerInfo) {
  return { role: c.role, name: c.name, version: c.version };
}

function describe(containers: ContainerInfo[]): string {
  return containers.map((c) => `${c.name} ${c.version}`).join(', ');
}
