import type { IncomingMessage } from 'node:http';
import { type EventSink, ignoreEvents, RelError, runStep } from '@rel/core';
import type Dockerode from 'dockerode';
import { engineError, shortId } from './client.js';
import { removeContainers } from './containers.js';
import { splitFrames } from './exec.js';
import { createError, createOptions, createRequest, validateSpec } from './run.js';
import { firstFileOfTar, tarArchive } from './tar.js';
import type { ContainerSpec, DockerClient, ExecResult } from './types.js';

/** A file written into a one-off container before it starts. */
export interface OneOffFile {
  /** Absolute path in the container, at most 100 bytes; missing parent directories are created. */
  path: string;
  content: string | Uint8Array;
  /** Permission bits. Default `0o600`. The file belongs to the user the container runs as. */
  mode?: number;
}

export interface RunOneOffOptions {
  /**
   * Written into the container after it is created and before it starts (the engine's archive endpoint, in
   * a request body): for secrets, which then appear neither in the container's configuration
   * (`docker inspect`: its env, command and labels) nor on any process's command line. They live in the
   * container's own filesystem, and go with it.
   */
  files?: OneOffFile[];
  /**
   * Containers carrying all these labels are leftovers of an earlier run whose process was killed before it
   * removed its container (one never started, or one still running): they are removed first. Default: the
   * spec's labels, which must then not be empty.
   */
  leftoverLabels?: Record<string, string>;
  /** Bytes of each of stdout and stderr kept (the last ones). Default 1 MiB. */
  maxOutputBytes?: number;
  /** Seconds a leftover gets to stop before it is killed. Default 10. */
  stopTimeoutSec?: number;
  /** Progress events (step `run`). */
  onEvent?: EventSink;
  /** Kills and removes the container, then rejects with RelError ABORTED. */
  signal?: AbortSignal;
}

/**
 * Runs a command in a one-off container to its end, like `docker run --rm`, and returns its exit code and
 * output (a non-zero exit code is a result, not an error). The container is created with `AutoRemove`: the
 * engine removes it when it exits, even when the caller's process was killed meanwhile; leftovers of a killed
 * run are removed (by their labels) before a new one starts, and this run's container is gone when it returns
 * or throws. `files` reach the container without passing through its configuration.
 */
export async function runOneOffContainer(
  client: DockerClient,
  spec: ContainerSpec,
  options: RunOneOffOptions = {},
): Promise<ExecResult> {
  validateSpec(spec);
  const leftoverLabels = options.leftoverLabels ?? spec.labels ?? {};
  validateOneOff(spec, leftoverLabels, options.files ?? []);
  const { signal, maxOutputBytes = 1024 * 1024 } = options;
  return runStep(
    options.onEvent ?? ignoreEvents,
    'run',
    `running ${spec.name} from ${spec.image}`,
    async (progress, inner) => {
      const leftovers = await findLeftovers(client, leftoverLabels);
      if (leftovers.length > 0) {
        progress(`removing what an earlier run left: ${leftovers.map((c) => c.Names[0]?.slice(1) ?? c.Id).join(', ')}`);
        await removeContainers(
          client,
          leftovers.map((c) => c.Id),
          { stopTimeoutSec: options.stopTimeoutSec ?? 10, onEvent: inner },
        );
      }
      if (signal?.aborted) throw new RelError('ABORTED', `stopped before running ${spec.name}`);

      const create = createOptions(spec);
      create.HostConfig = { ...create.HostConfig, AutoRemove: true };
      let container: Dockerode.Container;
      try {
        container = await client.docker.createContainer(createRequest(create));
      } catch (error) {
        throw createError(client, spec, error);
      }
      const id = container.id;
      const kill = () => removeContainers(client, [id], { stopTimeoutSec: 0 }).catch(() => []);
      signal?.addEventListener('abort', kill, { once: true });
      try {
        if (options.files?.length) {
          await putFiles(client, container, options.files);
          progress(`wrote ${options.files.length} file${options.files.length === 1 ? '' : 's'} into ${spec.name}`);
        }
        // Both registered before the start, so neither the exit nor the first output can be missed.
        const { exitCode: exited } = await waitForExit(client, id);
        exited.catch(() => undefined); // awaited below, unless this run stops before the start
        const { output } = await attachOutput(client, container, maxOutputBytes);
        if (signal?.aborted) throw new RelError('ABORTED', `stopped before running ${spec.name}`);
        try {
          await container.start();
        } catch (error) {
          throw engineError(client, error, `starting container ${spec.name}`);
        }
        progress(`started ${spec.name} (${shortId(id)})`);
        const [exitCode, { stdout, stderr }] = await Promise.all([exited, output]);
        if (signal?.aborted) throw new RelError('ABORTED', `stopped ${spec.name} (${shortId(id)}) before it finished`);
        return { exitCode, stdout, stderr };
      } finally {
        signal?.removeEventListener('abort', kill);
        // AutoRemove has usually done it; this covers a container that never started or is still running.
        await removeContainers(client, [id], { stopTimeoutSec: 0 }).catch(() => undefined);
      }
    },
    (result) => `${spec.name} exited with code ${result.exitCode}`,
  );
}

function validateOneOff(spec: ContainerSpec, leftoverLabels: Record<string, string>, files: OneOffFile[]): void {
  const bad = (message: string) => new RelError('BAD_INPUT', message);
  if (Object.keys(leftoverLabels).length === 0) {
    throw bad(`a one-off container (${spec.name}) needs labels: they find the leftovers of a killed run`);
  }
  if (spec.restart && spec.restart !== 'no') {
    throw bad(`a one-off container (${spec.name}) cannot have a restart policy (${spec.restart})`);
  }
  for (const file of files) {
    const path = file.path;
    const segments = path.split('/').slice(1);
    const plain = path.startsWith('/') && segments.every((s) => s !== '' && s !== '.' && s !== '..');
    if (!plain || Buffer.byteLength(path) > 101) {
      throw bad(`invalid file path ${JSON.stringify(path)} for ${spec.name}: absolute, normalized, at most 100 bytes`);
    }
  }
}

async function findLeftovers(client: DockerClient, labels: Record<string, string>) {
  const label = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
  try {
    return await client.docker.listContainers({ all: true, filters: { label } });
  } catch (error) {
    throw engineError(client, error, `listing containers labelled ${label.join(', ')}`);
  }
}

/** Writes `files` into the created container, owned by the user it will run as. */
async function putFiles(client: DockerClient, container: Dockerode.Container, files: OneOffFile[]): Promise<void> {
  try {
    const { uid, gid } = await containerUser(container);
    const archive = tarArchive(
      files.map((file) => ({
        path: file.path.slice(1),
        content: Buffer.from(file.content),
        mode: file.mode ?? 0o600,
        uid,
        gid,
      })),
    );
    await container.putArchive(archive, { path: '/' });
  } catch (error) {
    throw engineError(client, error, `writing files into container ${shortId(container.id)}`);
  }
}

/**
 * The numeric uid and gid the container runs as: its `User` (`''` is root; `1000`, `1000:1000`; a name is
 * looked up in the container's own /etc/passwd). A named group counts as the user's primary group.
 */
async function containerUser(container: Dockerode.Container) {
  const user = (await container.inspect()).Config.User ?? '';
  const [name = '', group] = user.split(':');
  if (name === '') return { uid: 0, gid: 0 };
  const numericGroup = group !== undefined && /^\d+$/.test(group) ? Number(group) : undefined;
  if (/^\d+$/.test(name)) return { uid: Number(name), gid: numericGroup ?? 0 };
  const stream = (await container.getArchive({ path: '/etc/passwd' })) as unknown as NodeJS.ReadableStream;
  const passwd = firstFileOfTar(await readAll(stream, 4 * 1024 * 1024))?.toString('utf8') ?? '';
  const entry = passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name && /^\d+$/.test(fields[2] ?? ''));
  if (!entry) {
    throw new RelError('STEP_FAILED', `user ${name} of container ${shortId(container.id)} is not in its /etc/passwd`);
  }
  return { uid: Number(entry[2]), gid: numericGroup ?? Number(entry[3] ?? 0) };
}

async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += buffer.length;
    if (size > limit) throw new Error(`more than ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Registers a wait for the container's next exit and resolves once the engine has (it answers with its
 * headers at once, the body when the container exits); `exitCode` comes with the exit. Registered before
 * the start, the exit code cannot be missed, whatever the engine does with the container then (AutoRemove).
 */
function waitForExit(client: DockerClient, id: string): Promise<{ exitCode: Promise<number> }> {
  return new Promise((registered, reject) => {
    client.docker.modem.dial(
      {
        path: `/containers/${id}/wait?`,
        method: 'POST',
        options: { _query: { condition: 'next-exit' }, _body: {} },
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
      },
      (error: unknown, response: unknown) => {
        if (error) return reject(engineError(client, error, `waiting for container ${shortId(id)}`));
        registered({
          exitCode: readAll(response as IncomingMessage, 64 * 1024).then(
            (body) => {
              const result = JSON.parse(body.toString('utf8') || '{}') as { StatusCode?: unknown };
              if (typeof result.StatusCode !== 'number') {
                throw new RelError('STEP_FAILED', `the engine did not say how container ${shortId(id)} exited`);
              }
              return result.StatusCode;
            },
            (cause: Error) => {
              throw new RelError('STEP_FAILED', `waiting for container ${shortId(id)} failed: ${cause.message}`, {
                cause,
              });
            },
          ),
        });
      },
    );
  });
}

/** Attaches to the container's stdout and stderr; once attached, `output` is their text when they end. */
async function attachOutput(
  client: DockerClient,
  container: Dockerode.Container,
  maxBytes: number,
): Promise<{ output: Promise<{ stdout: string; stderr: string }> }> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
  } catch (error) {
    throw engineError(client, error, `attaching to container ${shortId(container.id)}`);
  }
  const kept = { stdout: new Tail(maxBytes), stderr: new Tail(maxBytes) };
  const frames = splitFrames((name, data) => {
    if (name !== 'stdin') kept[name].push(data);
  });
  const output = new Promise<{ stdout: string; stderr: string }>((resolve) => {
    let ended = false;
    const done = () => {
      if (ended) return;
      ended = true;
      frames.end();
      resolve({ stdout: kept.stdout.text(), stderr: kept.stderr.text() });
    };
    stream.on('data', (chunk: Buffer) => frames.push(chunk));
    stream.on('end', done);
    stream.on('close', done);
    // A connection that breaks ends the output; the exit code still says how the command ended.
    stream.on('error', done);
  });
  return { output };
}

/** The last `max` bytes of a stream of chunks. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(data: Buffer): void {
    this.chunks.push(Buffer.from(data));
    this.size += data.length;
    while (this.size - this.chunks[0]!.length >= this.max) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}
