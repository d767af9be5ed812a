import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { formatDuration, RelError, sleep } from '@rel/core';
import { engineError, engineMessage, shortId, statusOf } from './client.js';
import type { DockerClient, ExecResult } from './types.js';

export interface ExecOptions {
  /** Extra environment variables for the command. Their values never appear in messages. */
  env?: Record<string, string>;
  /** User to run as (`postgres`, `1000:1000`). Default: the container's. */
  user?: string;
  /** Give up (RelError TIMEOUT) if the command has not finished by then. Default: no limit. */
  timeoutMs?: number;
  /**
   * Stops waiting for the command with RelError ABORTED (as `timeoutMs` does with TIMEOUT). The connection is
   * closed, so its standard input ends, but the command itself keeps running to its end: Docker has no way to
   * stop an exec'd process, and the engine reads and discards what it still writes.
   */
  signal?: AbortSignal;
}

export interface ExecStreamOptions extends ExecOptions {
  /**
   * Piped into the command's standard input, which is closed (EOF) when it ends. The command may stop reading
   * early: the rest is not sent, and that is not an error. The stream is not destroyed here.
   */
  stdin?: Readable;
  /**
   * Receives the command's standard output as it comes (with backpressure), and is ended (`end()`; wait for
   * its `finish` to know it is flushed) when the command has finished; the result's `stdout` is then `''`.
   * On an error (abort, timeout, broken connection) it is left as it is, neither ended nor destroyed: the
   * caller decides what to do with a partial output.
   */
  stdout?: Writable;
}

/**
 * Runs a command (an arguments array, no shell) in a running container and returns its exit code and
 * output. A non-zero exit code is a result, not an error; a command that cannot be started is usually
 * exit code 126 or 127 with the engine's explanation on stdout.
 */
export function execInContainer(
  client: DockerClient,
  id: string,
  cmd: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const { env, user, timeoutMs, signal } = options;
  return execInContainerStream(client, id, cmd, {
    ...(env === undefined ? {} : { env }),
    ...(user === undefined ? {} : { user }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(signal === undefined ? {} : { signal }),
  });
}

/**
 * Like `execInContainer`, streaming: `stdin` is piped into the command (then closed), its standard output
 * goes into `stdout` as it comes (or is collected), standard error is collected. For `pg_dump` to a file
 * and `pg_restore` from one, without holding either in memory.
 */
export async function execInContainerStream(
  client: DockerClient,
  id: string,
  cmd: string[],
  options: ExecStreamOptions = {},
): Promise<ExecResult> {
  if (cmd.length === 0) throw new RelError('BAD_INPUT', 'execInContainerStream needs a command');
  const { stdin, signal } = options;
  const what = `${cmd[0]!} in container ${shortId(id)}`;
  if (signal?.aborted) throw new RelError('ABORTED', `stopped before running ${what}`);
  const container = client.docker.getContainer(id);
  let exec: Awaited<ReturnType<typeof container.exec>>;
  let socket: Socket;
  try {
    exec = await container.exec({
      Cmd: cmd,
      Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
      ...(options.user === undefined ? {} : { User: options.user }),
      AttachStdin: stdin !== undefined,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    socket = (await exec.start({ hijack: true, stdin: stdin !== undefined })) as unknown as Socket;
  } catch (error) {
    if (statusOf(error) === 409) {
      throw new RelError('STEP_FAILED', `cannot run ${what}: ${engineMessage(error)}`, { cause: error });
    }
    throw engineError(client, error, `running ${what}`);
  }
  const output = await transfer(socket, options, what);
  const exitCode = await exitCodeOf(client, exec, what);
  return { exitCode, stdout: output.stdout.toString('utf8'), stderr: output.stderr.toString('utf8') };
}

/** Moves stdin in and the output out of the hijacked connection until the engine closes it. */
function transfer(
  socket: Socket,
  options: ExecStreamOptions,
  what: string,
): Promise<{ stdout: Buffer; stderr: Buffer }> {
  const { stdin, stdout, timeoutMs, signal } = options;
  return new Promise((resolve, reject) => {
    const stdoutChunks: Buffer[] = [];
    const stderrChunks: Buffer[] = [];
    let settled = false;
    let timer: NodeJS.Timeout | undefined;

    // Input: piped in, then the connection is half-closed so that the command reads EOF.
    const onStdinEnd = () => {
      if (!settled && !socket.writableEnded) socket.end();
    };
    const onStdinError = (error: Error) =>
      finish(new RelError('STEP_FAILED', `reading the input for ${what} failed: ${error.message}`, { cause: error }));
    const stopInput = () => {
      if (!stdin) return;
      stdin.unpipe(socket);
      stdin.off('end', onStdinEnd);
      stdin.off('error', onStdinError);
    };

    // Output: demultiplexed as it arrives; the connection is paused while `stdout` asks to wait.
    let waitingForDrain = false;
    const onDrain = () => {
      waitingForDrain = false;
      socket.resume();
    };
    const frames = splitFrames((stream, data) => {
      if (stream === 'stderr') stderrChunks.push(data);
      else if (!stdout) stdoutChunks.push(data);
      else if (!stdout.write(data) && !waitingForDrain) {
        waitingForDrain = true;
        socket.pause();
        stdout.once('drain', onDrain);
      }
    });

    const onAbort = () => finish(new RelError('ABORTED', `stopped waiting for ${what}`));
    function finish(error?: RelError) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stopInput();
      stdout?.off('drain', onDrain);
      socket.destroy();
      if (error) return reject(error);
      frames.end();
      stdout?.end();
      resolve({ stdout: Buffer.concat(stdoutChunks), stderr: Buffer.concat(stderrChunks) });
    }

    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => finish(new RelError('TIMEOUT', `${what} did not finish within ${formatDuration(timeoutMs)}`)),
        timeoutMs,
      );
    }
    socket.on('data', (chunk: Buffer) => {
      if (!settled) frames.push(chunk);
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.syscall === 'write' || error.syscall === 'shutdown' || error.code === 'EPIPE') {
        // The command stopped reading its input (or has finished): send no more of it, read the output on.
        stopInput();
      } else if (error.code === 'ECONNRESET') {
        // The engine closed the connection with input of ours still unread: the command has finished, what
        // it wrote has arrived before this, and its exit code tells the rest.
        finish();
      } else {
        finish(new RelError('STEP_FAILED', `the connection to ${what} broke: ${error.message}`, { cause: error }));
      }
    });
    if (stdin) {
      preventDestroyOnWriteError(socket);
      if (stdin.readableEnded) return onStdinEnd(); // read to its end already: nothing to send, EOF at once
      stdin.once('end', onStdinEnd);
      stdin.once('error', onStdinError);
      stdin.pipe(socket, { end: false });
    }
  });
}

/**
 * A socket destroys itself when a write fails, dropping output that has arrived but was not read yet. When
 * the command stops reading its input early and exits, the engine closes the connection and the next write
 * of input fails (EPIPE): the output must still be read to its end.
 */
function preventDestroyOnWriteError(socket: Socket): void {
  const state = (socket as unknown as { _writableState?: { autoDestroy?: boolean } })._writableState;
  const readable = (socket as unknown as { _readableState?: { autoDestroy?: boolean } })._readableState;
  if (state && readable) {
    // Node destroys on a write error when either side has autoDestroy; the socket is destroyed explicitly.
    state.autoDestroy = false;
    readable.autoDestroy = false;
  }
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;
type StreamName = (typeof STREAMS)[number];

/**
 * Docker's multiplexed output (see `demultiplex` in logs.ts), split as it arrives: each frame's payload is
 * handed to `onData` in pieces as the chunks bring it, without copying. A stream that does not start with a
 * frame header (a TTY's raw output) goes to stdout as it is, and so does the rest of one that loses alignment.
 * `end()` hands over what is left of a raw stream shorter than a header.
 */
export function splitFrames(onData: (stream: StreamName, data: Buffer) => void): {
  push(chunk: Buffer): void;
  end(): void;
} {
  const header = Buffer.alloc(8);
  let headerBytes = 0;
  let remaining = 0;
  let stream: StreamName = 'stdout';
  let mode: 'start' | 'frames' | 'raw' = 'start';
  return {
    push(chunk) {
      if (mode === 'raw') {
        if (chunk.length) onData('stdout', chunk);
        return;
      }
      let offset = 0;
      while (offset < chunk.length) {
        if (remaining > 0) {
          const end = Math.min(chunk.length, offset + remaining);
          onData(stream, chunk.subarray(offset, end));
          remaining -= end - offset;
          offset = end;
          continue;
        }
        const take = Math.min(8 - headerBytes, chunk.length - offset);
        chunk.copy(header, headerBytes, offset, offset + take);
        headerBytes += take;
        offset += take;
        if (headerBytes < 8) return;
        headerBytes = 0;
        const type = header[0]!;
        if (type > 2 || header[1] !== 0 || header[2] !== 0 || header[3] !== 0) {
          mode = 'raw';
          onData('stdout', Buffer.from(header));
          if (offset < chunk.length) onData('stdout', chunk.subarray(offset));
          return;
        }
        mode = 'frames';
        stream = STREAMS[type]!;
        remaining = header.readUInt32BE(4);
      }
    },
    end() {
      // A truncated header after whole frames is dropped, as `demultiplex` does.
      if (mode === 'start' && headerBytes > 0) onData('stdout', Buffer.from(header.subarray(0, headerBytes)));
      headerBytes = 0;
    },
  };
}

/** The engine records the exit code a moment after the output ends: polls until it has. */
async function exitCodeOf(
  client: DockerClient,
  exec: { inspect(): Promise<{ Running: boolean; ExitCode: number | null }> },
  what: string,
): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    let info: { Running: boolean; ExitCode: number | null };
    try {
      info = await exec.inspect();
    } catch (error) {
      throw engineError(client, error, `inspecting ${what}`);
    }
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    if (Date.now() > deadline) {
      throw new RelError('STEP_FAILED', `${what} closed its output but did not exit within 30 s`, {
        details: { running: info.Running },
      });
    }
    await sleep(delay);
  }
}
