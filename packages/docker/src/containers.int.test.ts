import type { RelEvent } from '@rel/core';
import { caught, dockerTestScope, TEST_LABELS } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findContainers, removeContainers, startContainer, stopContainer } from './containers.js';
import { execInContainer } from './exec.js';
import { environmentLabels } from './labels.js';
import { tailLogs } from './logs.js';
import { ensureNetwork, ensureVolume, removeNetwork, removeVolume } from './resources.js';
import { runContainer } from './run.js';
import { containerStats, watchContainerStats } from './stats.js';
import type { ContainerSpec } from './types.js';
import { Wait, waitForReady } from './wait.js';

// the file's share of the engine: client, name prefix, its own network (not Docker's default bridge), busybox image
const scope = dockerTestScope('containers', { network: true });
const { client, prefix, network } = scope;
beforeAll(scope.setup);
afterAll(scope.teardown);
const project = prefix; // a project of its own: findContainers sees only this file's containers

function spec(name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: `${prefix}-${name}`,
    image: scope.image,
    labels: { ...TEST_LABELS, ...environmentLabels({ project, environment: 'green', role: name, version: 'v1' }) },
    network: { name: network },
    ...extra,
  };
}

describe('networks and volumes', () => {
  it('ensureNetwork creates once and returns the same id, even when callers race', async () => {
    const name = `${prefix}-net-race`;
    const ids = await Promise.all([1, 2, 3].map(() => ensureNetwork(client, name, TEST_LABELS)));
    expect(new Set(ids).size).toBe(1);
    expect(await ensureNetwork(client, name, TEST_LABELS)).toBe(ids[0]);
    const all = await client.docker.listNetworks({ filters: { name: [name] } });
    expect(all.filter((n) => n.Name === name)).toHaveLength(1);
    expect(await removeNetwork(client, name)).toBe(true);
    expect(await removeNetwork(client, name)).toBe(false);
  });

  it('ensureVolume is idempotent and keeps its labels', async () => {
    const name = `${prefix}-vol-idem`;
    expect(await ensureVolume(client, name, TEST_LABELS)).toBe(name);
    expect(await ensureVolume(client, name, TEST_LABELS)).toBe(name);
    expect((await client.docker.getVolume(name).inspect()).Labels).toMatchObject(TEST_LABELS);
    expect(await removeVolume(client, name)).toBe(true);
    expect(await removeVolume(client, name)).toBe(false);
  });
});

describe('runContainer, findContainers, removeContainers', () => {
  it('runs with labels, a network alias, a volume, and ports bound to 127.0.0.1 only', async () => {
    const volume = `${prefix}-data`;
    await ensureVolume(client, volume, TEST_LABELS);
    const secret = 'env-Secret-value-42';
    const events: RelEvent[] = [];
    const started = await runContainer(
      client,
      spec('api', {
        env: { APP_SECRET: secret },
        network: { name: network, aliases: ['api'] },
        ports: [{ container: 8080, host: 0 }],
        volumes: [{ name: volume, target: '/data' }],
        memoryBytes: 64 * 1024 * 1024,
      }),
      { onEvent: (event) => events.push(event) },
    );
    expect(started.name).toBe(`${prefix}-api`);
    expect(started.ports).toEqual([{ container: 8080, host: expect.any(Number) }]);
    expect(started.ports[0]!.host).toBeGreaterThan(0);

    const info = await client.docker.getContainer(started.id).inspect();
    expect(info.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(info.NetworkSettings.Ports['8080/tcp']).toEqual([
      { HostIp: '127.0.0.1', HostPort: String(started.ports[0]!.host) },
    ]);
    expect(info.NetworkSettings.Networks[network]?.Aliases).toContain('api');
    expect(info.Mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: volume, Destination: '/data' })]);
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.Config.Labels).toMatchObject({ 'rel.project': project, 'rel.environment': 'green', 'rel.test': '1' });

    await waitForReady(
      client,
      started.id,
      Wait.forHttp('/health', { port: 8080, bodyIncludes: 'ok' }).withTimeout(10_000),
    );
    expect(await (await fetch(`http://127.0.0.1:${started.ports[0]!.host}/health`)).text()).toBe('ok\n');

    expect(events.map((e) => e.type)).toEqual(['step:start', 'step:progress', 'step:finish']);
    expect(JSON.stringify(events)).not.toContain(secret);
  });

  it('findContainers filters by project, environment and role, and reports state, health and ports', async () => {
    await runContainer(client, spec('client', { ports: [{ container: 8080, host: 0 }] }));
    const stopped = await runContainer(client, spec('job', { cmd: ['true'] }));
    await client.docker.getContainer(stopped.id).wait();

    const all = await findContainers(client, { project });
    expect(all.map((c) => c.role)).toEqual(['api', 'client', 'job']); // sorted by name
    const api = all[0]!;
    expect(api).toMatchObject({
      name: `${prefix}-api`,
      image: scope.image,
      project,
      environment: 'green',
      role: 'api',
      version: 'v1',
      state: 'running',
      health: 'none',
      ports: [{ container: 8080, host: expect.any(Number) }],
    });
    expect(api.status).toMatch(/^Up /);
    expect(api.createdAt.getTime()).toBeGreaterThan(Date.now() - 120_000);
    expect(all[2]).toMatchObject({ role: 'job', state: 'exited' });

    expect((await findContainers(client, { project, all: false })).map((c) => c.role)).toEqual(['api', 'client']);
    expect((await findContainers(client, { project, role: 'client' })).map((c) => c.role)).toEqual(['client']);
    expect(await findContainers(client, { project, environment: 'blue' })).toEqual([]);
  });

  it('a name in use is STEP_FAILED unless replace is set', async () => {
    const first = await runContainer(client, spec('dup'));
    const error = await caught(runContainer(client, spec('dup')));
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toContain(`a container named ${prefix}-dup already exists`);
    const second = await runContainer(client, spec('dup'), { replace: true, stopTimeoutSec: 1 });
    expect(second.id).not.toBe(first.id);
    expect((await findContainers(client, { project, role: 'dup' })).map((c) => c.id)).toEqual([second.id]);
  });

  it('an image that is not present locally is NOT_FOUND (never pulled)', async () => {
    const error = await caught(runContainer(client, spec('noimage', { image: 'reltest-docker/absent:v0' })));
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'image reltest-docker/absent:v0 is not present locally; pull it first (runContainer never pulls)',
    });
  });

  it('a container that cannot start is removed again', async () => {
    const taken = (await findContainers(client, { project, role: 'client' }))[0]!.ports[0]!.host;
    const error = await caught(runContainer(client, spec('clash', { ports: [{ container: 8080, host: taken }] })));
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toMatch(/^starting container .*-clash failed: .*port is already allocated/);
    expect(await findContainers(client, { project, role: 'clash' })).toEqual([]);
  });

  it('refuses bad specs with BAD_INPUT', async () => {
    for (const bad of [
      spec('x', { name: 'bad name;rm' }),
      spec('x', { env: { 'A=B': 'x' } }),
      spec('x', { ports: [{ container: 0, host: 1 }] }),
      spec('x', { volumes: [{ name: 'v', target: 'relative' }] }),
    ]) {
      expect((await caught(runContainer(client, bad))).code).toBe('BAD_INPUT');
    }
  });

  it('stopContainer keeps the container and startContainer brings it back; repeats say so; unknown is NOT_FOUND', async () => {
    const { id } = await runContainer(client, spec('stopstart'));
    expect(await stopContainer(client, id, { stopTimeoutSec: 1 })).toBe(true);
    expect((await client.docker.getContainer(id).inspect()).State.Running).toBe(false);
    expect(await stopContainer(client, id)).toBe(false);
    expect(await startContainer(client, id)).toBe(true);
    expect((await client.docker.getContainer(id).inspect()).State.Running).toBe(true);
    expect(await startContainer(client, id)).toBe(false);
    expect(await caught(stopContainer(client, `${prefix}-nonexistent`))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await caught(startContainer(client, `${prefix}-nonexistent`))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('removeContainers stops and removes, and a second run is a no-op', async () => {
    const containers = await findContainers(client, { project });
    expect(containers.length).toBeGreaterThanOrEqual(3);
    const events: RelEvent[] = [];
    const removed = await removeContainers(client, containers, { stopTimeoutSec: 1, onEvent: (e) => events.push(e) });
    expect(removed.sort()).toEqual(containers.map((c) => c.id).sort());
    expect(await findContainers(client, { project })).toEqual([]);
    expect(await removeContainers(client, containers)).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'step:finish', step: 'remove' });
  });
});

describe('exec, logs and stats of a running container', () => {
  let id: string;
  beforeAll(async () => {
    const script = 'for i in $(seq 1 15); do echo out $i; echo err $i >&2; done; exec sleep 600';
    ({ id } = await runContainer(client, spec('busy', { cmd: ['sh', '-c', script], memoryBytes: 32 << 20 })));
    await waitForReady(client, id, Wait.forLogMessage('err 15').withTimeout(10_000));
  });

  it('execInContainer returns the exit code, stdout and stderr apart, with env and user', async () => {
    const result = await execInContainer(client, id, ['sh', '-c', 'echo "$GREETING"; id -u; echo oops >&2; exit 3'], {
      env: { GREETING: 'hello from exec' },
      user: '1234',
    });
    expect(result).toEqual({ exitCode: 3, stdout: 'hello from exec\n1234\n', stderr: 'oops\n' });
    expect((await execInContainer(client, id, ['true'])).exitCode).toBe(0);
    const missing = await execInContainer(client, id, ['no-such-program']);
    expect(missing.exitCode).toBeGreaterThanOrEqual(126);
  });

  it('execInContainer gives up after timeoutMs', async () => {
    const started = Date.now();
    const error = await caught(execInContainer(client, id, ['sleep', '5'], { timeoutMs: 300 }));
    expect(error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('tailLogs returns the last lines, stdout and stderr interleaved', async () => {
    const lines = await tailLogs(client, id);
    expect(lines).toHaveLength(20);
    expect(lines).toContain('out 15');
    expect(lines).toContain('err 15');
    // stdout and stderr are separate pipes: only the order within each is guaranteed.
    const outs = lines.filter((line) => line.startsWith('out ')).map((line) => Number(line.slice(4)));
    expect(outs).toEqual([...outs].sort((a, b) => a - b));
    expect(await tailLogs(client, id, 3)).toHaveLength(3);
  });

  it('containerStats reports plausible memory and CPU numbers', async () => {
    const idle = await containerStats(client, id);
    expect(idle.memoryLimitBytes).toBe(32 << 20);
    expect(idle.memoryBytes).toBeGreaterThan(0);
    expect(idle.memoryBytes).toBeLessThan(32 << 20);
    expect(idle.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(idle.cpuPercent).toBeLessThan(50);
    expect(Math.abs(idle.at.getTime() - Date.now())).toBeLessThan(10_000);

    // A busy loop in the container: close to one core when the machine is quiet; under load (2 cores shared with
    // whatever else runs) it gets less, so the check is "clearly busy", not "a whole core".
    const spin = await client.docker
      .getContainer(id)
      .exec({ Cmd: ['sh', '-c', 'timeout 6 sh -c "while :; do :; done"'] });
    await spin.start({ Detach: true });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const busy = await containerStats(client, id);
    expect(busy.cpuPercent).toBeGreaterThan(10);

    // The feed: a sample about every second, CPU measured between them, latest() at once; close() ends it.
    const watch = watchContainerStats(client, id);
    const first = await watch.first;
    expect(first.memoryBytes).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const latest = watch.latest()!;
    expect(latest.at.getTime()).toBeGreaterThan(first.at.getTime());
    expect(latest.cpuPercent).toBeGreaterThan(10);
    expect(watch.ended()).toBe(false);
    watch.close();
    expect(watch.ended()).toBe(true);
  });
});
