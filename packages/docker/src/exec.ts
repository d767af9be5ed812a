import { formatDuration, RelError, sleep } from '@rel/core';
import { engineError, engineMessage, shortId, statusOf } from './client.js';
import { demultiplexToText } from './logs.js';
import type { DockerClient, ExecResult } from './types.js';

export interface ExecOptions {
  /** Extra environment variables for the command. Their values never appear in messages. */
  env?: Record<string, string>;
  /** User to run as (`postgres`, `1000:1000`). Default: the container's. */
  user?: string;
  /** Give up (RelError TIMEOUT) if the command has not finished by then. Default: no limit. */
  timeoutMs?: number;
  /** Stops waiting for the command with RelError ABORTED (the command itself keeps running). */
  signal?: AbortSignal;
}

/**
 * Runs a command (an arguments array, no shell) in a running container and returns its exit code and
 * output. A non-zero exit code is a result, not an error; a command that cannot be started is usually
 * exit code 126 or 127 with the engine's explanation on stdout.
 */
export async function execInContainer(
  client: DockerClient,
  id: string,
  cmd: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  if (cmd.length === 0) throw new RelError('BAD_INPUT', 'execInContainer needs a command');
  const program = cmd[0]!;
  const where = `container ${shortId(id)}`;
  const container = client.docker.getContainer(id);
  let exec: Awaited<ReturnType<typeof container.exec>>;
  let stream: NodeJS.ReadWriteStream;
  try {
    exec = await container.exec({
      Cmd: cmd,
      Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
      ...(options.user === undefined ? {} : { User: options.user }),
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadWriteStream;
  } catch (error) {
    if (statusOf(error) === 409) {
      throw new RelError('STEP_FAILED', `cannot run ${program} in ${where}: ${engineMessage(error)}`, { cause: error });
    }
    throw engineError(client, error, `running ${program} in ${where}`);
  }
  const output = await collect(stream, options, `${program} in ${where}`);
  // The stream can end a moment before the engine records the exit code.
  for (let attempt = 0; ; attempt++) {
    let info: Awaited<ReturnType<typeof exec.inspect>>;
    try {
      info = await exec.inspect();
    } catch (error) {
      throw engineError(client, error, `inspecting ${program} in ${where}`);
    }
    if (!info.Running && info.ExitCode !== null) {
      const { stdout, stderr } = demultiplexToText(output);
      return { exitCode: info.ExitCode, stdout, stderr };
    }
    if (attempt >= 100) throw new RelError('STEP_FAILED', `${program} in ${where} ended without an exit code`);
    await sleep(10);
  }
}

function collect(stream: NodeJS.ReadWriteStream, options: ExecOptions, what: string): Promise<Buffer> {
  const { timeoutMs, signal } = options;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const destroy = () => (stream as NodeJS.ReadWriteStream & { destroy?: () => void }).destroy?.();
    let settled = false;
    const finish = (error?: RelError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error) {
        destroy();
        reject(error);
      } else {
        resolve(Buffer.concat(chunks));
      }
    };
    const onAbort = () => finish(new RelError('ABORTED', `stopped waiting for ${what}`));
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => finish(new RelError('TIMEOUT', `${what} did not finish within ${formatDuration(timeoutMs)}`)),
            timeoutMs,
          );
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => finish());
    stream.on('close', () => finish());
    stream.on('error', (error: Error) =>
      finish(new RelError('STEP_FAILED', `${what} broke: ${error.message}`, { cause: error })),
    );
  });
}
