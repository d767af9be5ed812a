// The Docker engine in tests: unique names, the busybox test image, and removing what a test created (through the
// engine's API with a @rel/docker client, or through the docker CLI).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  connectDocker,
  type DockerClient,
  ensureNetwork,
  pingDocker,
  removeContainers,
  removeNetwork,
  removeVolume,
} from '@rel/docker';
import { TEST_LABELS } from './sandbox.js';

const run = promisify(execFile);

/** A name no other test run uses: `reltest-docker-<what>-<random>`. */
export function uniqueName(what: string): string {
  return `reltest-docker-${what}-${randomBytes(4).toString('hex')}`;
}

// A FROM-scratch image with the host's static busybox: an HTTP server (httpd) with /health, a fake
// pg_isready that succeeds once /tmp/pg-ready exists, and sh for whatever a test wants to run. COPY only,
// no RUN: building needs no container (nor Docker's default bridge).
const PG_ISREADY = `#!/bin/sh
if [ -e /tmp/pg-ready ]; then echo "127.0.0.1:5432 - accepting connections"; exit 0; fi
echo "127.0.0.1:5432 - no response"; exit 2
`;
const BUSYBOX_DOCKERFILE = `FROM scratch
COPY rootfs/ /
LABEL rel.test=1
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
`;

/** Builds the busybox test image (once per content) and returns its tag. */
export async function buildBusyboxImage(client: DockerClient): Promise<string> {
  const hash = createHash('sha256').update(BUSYBOX_DOCKERFILE).update(PG_ISREADY).digest('hex').slice(0, 12);
  const tag = `reltest-docker/busybox:${hash}`;
  const exists = await client.docker
    .getImage(tag)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (exists) return tag;
  const dir = await mkdtemp(join(tmpdir(), 'reltest-docker-build-'));
  try {
    const rootfs = join(dir, 'rootfs');
    for (const sub of ['bin', 'www', 'tmp']) await mkdir(join(rootfs, sub), { recursive: true });
    await chmod(join(rootfs, 'tmp'), 0o1777);
    await copyFile('/usr/bin/busybox', join(rootfs, 'bin/busybox'));
    const { stdout } = await run('/usr/bin/busybox', ['--list']);
    for (const applet of stdout.split('\n').filter((name) => name && name !== 'busybox')) {
      await symlink('busybox', join(rootfs, 'bin', applet));
    }
    await writeFile(join(rootfs, 'www/health'), 'ok\n');
    await writeFile(join(rootfs, 'bin/pg_isready'), PG_ISREADY, { mode: 0o755 });
    await writeFile(join(dir, 'Dockerfile'), BUSYBOX_DOCKERFILE);
    const stream = await client.docker.buildImage(
      { context: dir, src: ['Dockerfile', 'rootfs'] },
      { t: tag, rm: true },
    );
    const output = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>((resolve, reject) =>
      client.docker.modem.followProgress(stream, (error, result) => (error ? reject(error) : resolve(result))),
    );
    const failure = output.find((entry) => entry.error);
    if (failure) throw new Error(`building ${tag} failed: ${failure.errorDetail?.message ?? failure.error}`);
    return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes the test containers, networks and volumes (label rel.test=1) whose names start with `prefix`. */
export async function removeTestResources(client: DockerClient, prefix: string): Promise<void> {
  const label = [`rel.test=1`];
  const containers = await client.docker.listContainers({ all: true, filters: { label } });
  const ours = containers.filter((c) => c.Names.some((name) => name.replace(/^\//, '').startsWith(prefix)));
  await removeContainers(
    client,
    ours.map((c) => c.Id),
    { stopTimeoutSec: 1 },
  );
  const networks = await client.docker.listNetworks({ filters: { label } });
  for (const network of networks.filter((n) => n.Name.startsWith(prefix))) await removeNetwork(client, network.Name);
  const { Volumes: volumes } = await client.docker.listVolumes({ filters: { label } });
  for (const volume of (volumes ?? []).filter((v) => v.Name.startsWith(prefix)))
    await removeVolume(client, volume.Name);
}

/** Runs the docker CLI; its standard output, trimmed. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 1 << 26 });
  return stdout.trim();
}

/** Removes every container, network and volume of a project (label rel.project=<project>) with the docker CLI. */
export async function removeProject(project: string): Promise<void> {
  const ids = (await docker('ps', '-aq', '--filter', `label=rel.project=${project}`)).split('\n').filter(Boolean);
  // "already in progress" / "no such container": someone else is removing it, which is what we want
  if (ids.length > 0) await docker('rm', '-f', '-v', ...ids).catch(() => undefined);
  for (const kind of ['network', 'volume'] as const) {
    const names = (await docker(kind, 'ls', '-q', '--filter', `label=rel.project=${project}`))
      .split('\n')
      .filter(Boolean);
    if (names.length > 0) await docker(kind, 'rm', ...names).catch(() => undefined);
  }
}

/** Container IDs of a project's environment by role, from the engine. */
export async function containerIds(project: string, env: string): Promise<Record<string, string>> {
  const out = await docker(
    'ps',
    '-a',
    '--filter',
    `label=rel.project=${project}`,
    '--filter',
    `label=rel.environment=${env}`,
    '--format',
    '{{.Label "rel.role"}} {{.ID}}',
  );
  return Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

/** One test file's share of the engine: its client, the prefix of everything it creates, its network and image. */
export interface DockerTestScope {
  client: DockerClient;
  /** `reltest-docker-<what>-<random>`: every container, network and volume of the file starts with it. */
  prefix: string;
  /** `<prefix>-net`, created by `setup` when asked for (containers join it rather than Docker's default bridge). */
  network: string;
  /** The busybox test image (built by `setup`; cached by its inputs). */
  readonly image: string;
  /** For `beforeAll`: the engine answers, the busybox image is built (unless `busybox: false`), the network made. */
  setup(): Promise<void>;
  /** For `afterAll`: everything under the prefix removed (labelled rel.test). */
  teardown(): Promise<void>;
}

/** A test file's share of the engine: `beforeAll(scope.setup)` and `afterAll(scope.teardown)` in the file. */
export function dockerTestScope(what: string, options: { network?: boolean; busybox?: boolean } = {}): DockerTestScope {
  const client = connectDocker();
  const prefix = uniqueName(what);
  const network = `${prefix}-net`;
  let image: string | undefined;
  return {
    client,
    prefix,
    network,
    get image() {
      if (image === undefined) throw new Error('the busybox image is built by setup(): read it inside a test or hook');
      return image;
    },
    async setup() {
      await pingDocker(client);
      if (options.busybox !== false) image = await buildBusyboxImage(client);
      if (options.network) await ensureNetwork(client, network, TEST_LABELS);
    },
    async teardown() {
      await removeTestResources(client, prefix);
    },
  };
}
