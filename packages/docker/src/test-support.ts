// Helpers for this package's integration tests; not part of the published API (index.ts does not export it).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeContainers } from './containers.js';
import { removeNetwork, removeVolume } from './resources.js';
import type { DockerClient, RegistryAuth } from './types.js';

/** Every resource a test creates carries this label, so leftovers can be found (the sandbox removes them). */
export const TEST_LABELS = { 'rel.test': '1' } as const;

export const SANDBOX_REGISTRY = '127.0.0.1:5000';
export const SANDBOX_IMAGES = {
  postgres: `${SANDBOX_REGISTRY}/rel-sample/postgres:15`,
  api: `${SANDBOX_REGISTRY}/rel-sample/api:v1`,
  client: `${SANDBOX_REGISTRY}/rel-sample/client:v1`,
} as const;

const REPO_ROOT = new URL('../../../', import.meta.url);

/** A name no other test run uses: `reltest-docker-<what>-<random>`. */
export function uniqueName(what: string): string {
  return `reltest-docker-${what}-${randomBytes(4).toString('hex')}`;
}

/** The sandbox registry's credentials (`scripts/sandbox` writes the password to .sandbox/registry/password). */
export async function sandboxRegistryAuth(): Promise<RegistryAuth> {
  const file = new URL('.sandbox/registry/password', REPO_ROOT);
  const password = await readFile(file, 'utf8').catch(() => {
    throw new Error(`${file.pathname} is missing: run \`bash scripts/sandbox\` first`);
  });
  return { serveraddress: SANDBOX_REGISTRY, username: 'rel', password: password.trim() };
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
    const { stdout } = await promisify(execFile)('/usr/bin/busybox', ['--list']);
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

/** Removes the test containers, networks and volumes whose names start with `prefix`. */
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

/** Collects everything thrown, for assertions on RelErrors. */
export async function caught(promise: Promise<unknown>): Promise<Error & { code?: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a result');
}
