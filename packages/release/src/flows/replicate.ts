import { type Environment, type EventSink, log, RelError, runStep } from '@rel/core';
import {
  type ContainerInfo,
  type DockerClient,
  findContainers,
  startContainer,
  stopContainer,
  Wait,
  waitForReady,
} from '@rel/docker';
import type { ReplicateResult } from '@rel/replicate';
import type { RelConfig } from '../config/schema.js';
import { connection, databaseExec } from './database.js';
import { readLive } from './switch.js';

export interface ReplicateEnvironmentOptions {
  config: RelConfig;
  from: Environment;
  to: Environment;
  docker: DockerClient;
  onEvent: EventSink;
  signal?: AbortSignal;
  /** Allow `to` to be the live environment. */
  force?: boolean;
  freezeWrites?: boolean;
  /** Default: `replicate.parallel` of the config. */
  parallel?: number;
}

export interface ReplicatePlan {
  from: Environment;
  to: Environment;
  live?: Environment;
  steps: string[];
}

/**
 * Refuses what must never run: the same environment twice, and (without `force`) a copy into the live
 * environment, whose users would see their data replaced under them. Returns the live environment.
 */
/** BAD_INPUT when the source and the target are one environment. */
export function checkReplicatePair(from: Environment | string, to: Environment | string): void {
  if (from === to) {
    throw new RelError(
      'BAD_INPUT',
      `cannot replicate ${from} into itself: name the source and then the other environment (rel db replicate blue green)`,
    );
  }
}

export async function checkReplicateTargets(
  config: RelConfig,
  from: Environment,
  to: Environment,
  force: boolean,
): Promise<Environment | undefined> {
  checkReplicatePair(from, to);
  const live = (await readLive(config))?.live;
  if (live === to && !force) {
    throw new RelError(
      'BAD_INPUT',
      `refusing to replicate into ${to}: it is the live environment, and its database (with the writes its users made) would be replaced by ${from}'s; replicate into the idle environment, or pass --force if that is what you mean`,
    );
  }
  return live;
}

async function runningContainer(
  config: RelConfig,
  docker: DockerClient,
  env: Environment,
  role: 'db' | 'api',
): Promise<ContainerInfo | undefined> {
  const found = await findContainers(docker, { project: config.project, environment: env, role });
  return found.find((c) => c.state === 'running');
}

export function planReplicate(
  config: RelConfig,
  from: Environment,
  to: Environment,
  live?: Environment,
): ReplicatePlan {
  const db = config.database.name;
  return {
    from,
    to,
    ...(live ? { live } : {}),
    steps: [
      `take a snapshot of ${from}'s database ${db} (writes after it are not copied)`,
      `build the copy in ${db}__rel_new beside ${to}'s database: schema, rows (${config.replicate.parallel} parallel COPY streams), indexes and constraints, sequences, large objects`,
      `verify it against ${from} at the snapshot: schema, row counts, per-table checksums`,
      `stop ${to}'s API, swap the databases (${to}'s current one is kept as ${db}__rel_previous), start the API and wait for ${config.backend.health.path}`,
    ],
  };
}

/**
 * The seed's replicate.sh, made safe: blue's data into green through a copy that is built beside green's
 * database, verified, and only then swapped in while green's API is stopped.
 */
export async function replicateEnvironment(options: ReplicateEnvironmentOptions): Promise<ReplicateResult> {
  const { config, from, to, docker, onEvent: sink, signal } = options;
  await checkReplicateTargets(config, from, to, options.force ?? false);
  const sourceDb = await runningContainer(config, docker, from, 'db');
  const targetDb = await runningContainer(config, docker, to, 'db');
  for (const [env, found] of [
    [from, sourceDb],
    [to, targetDb],
  ] as const) {
    if (!found) {
      throw new RelError(
        'NOT_FOUND',
        `${env} has no running database container (deploy it first: rel deploy backend ${env} <version>)`,
      );
    }
  }
  const api = await runningContainer(config, docker, to, 'api');
  if (!api) log(sink, 'info', `${to} has no running API: nothing to stop around the swap`, 'replicate');
  const healthPath = config.backend.health.path;
  // pg and the replication library load when a copy runs, not with @rel/release
  const { replicateDatabase } = await import('@rel/replicate');
  return replicateDatabase({
    source: connection(config, from),
    target: connection(config, to),
    execSource: databaseExec(docker, sourceDb!.id),
    execTarget: databaseExec(docker, targetDb!.id),
    parallel: options.parallel ?? config.replicate.parallel,
    freezeWrites: options.freezeWrites ?? false,
    ...(api
      ? {
          stopConsumer: () =>
            runStep(sink, 'stop-api', `stop ${to}'s API ${api.name} for the swap`, async () => {
              await stopContainer(docker, api.id);
            }),
          startConsumer: () =>
            runStep(sink, 'start-api', `start ${to}'s API ${api.name} and wait for ${healthPath}`, async () => {
              await startContainer(docker, api.id);
              await waitForReady(
                docker,
                api.id,
                Wait.forHttp(healthPath, { port: config.backend.port }).withTimeout(config.backend.health.timeoutMs),
                { onEvent: sink, ...(signal ? { signal } : {}) },
              );
            }),
        }
      : {}),
    onEvent: sink,
    ...(signal ? { signal } : {}),
  });
}
