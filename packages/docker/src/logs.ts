import { engineError } from './client.js';
import type { DockerClient } from './types.js';

/** One chunk of a container's output, as Docker multiplexes stdout and stderr on one stream. */
export interface OutputFrame {
  stream: 'stdin' | 'stdout' | 'stderr';
  data: Buffer;
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;

/**
 * Splits Docker's multiplexed output (containers without a TTY): frames of an 8-byte header (stream type,
 * three zero bytes, big-endian payload length) and the payload. Output that does not start with such a
 * header (a TTY's raw stream) comes back as one stdout frame; a truncated last frame keeps what arrived.
 */
export function demultiplex(buffer: Buffer): OutputFrame[] {
  if (!looksMultiplexed(buffer)) return buffer.length ? [{ stream: 'stdout', data: buffer }] : [];
  const frames: OutputFrame[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    if (!looksMultiplexed(buffer.subarray(offset))) {
      // Misaligned: keep the rest as it is rather than lose it.
      frames.push({ stream: 'stdout', data: buffer.subarray(offset) });
      break;
    }
    const stream = STREAMS[buffer[offset]!]!;
    const length = buffer.readUInt32BE(offset + 4);
    frames.push({ stream, data: buffer.subarray(offset + 8, Math.min(offset + 8 + length, buffer.length)) });
    offset += 8 + length;
  }
  return frames;
}

function looksMultiplexed(buffer: Buffer): boolean {
  return buffer.length >= 8 && buffer[0]! <= 2 && buffer[1] === 0 && buffer[2] === 0 && buffer[3] === 0;
}

/** Text of each stream, in the order the frames arrived. */
export function demultiplexToText(buffer: Buffer): { stdout: string; stderr: string; all: string } {
  const frames = demultiplex(buffer);
  const text = (wanted?: OutputFrame['stream']) =>
    Buffer.concat(
      frames.filter((frame) => wanted === undefined || frame.stream === wanted).map((frame) => frame.data),
    ).toString('utf8');
  return { stdout: text('stdout'), stderr: text('stderr'), all: text() };
}

/** Splits output into lines, without the empty line after a trailing newline. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The last `lines` lines a container wrote, stdout and stderr interleaved as they came. Default 20. */
export async function tailLogs(client: DockerClient, id: string, lines = 20): Promise<string[]> {
  return splitLines(demultiplexToText(await readLogs(client, id, { tail: lines })).all).slice(-lines);
}

/** All of a container's output so far (or its last `tail` lines), still multiplexed. */
export async function readLogs(client: DockerClient, id: string, options: { tail?: number } = {}): Promise<Buffer> {
  try {
    const output: unknown = await client.docker.getContainer(id).logs({
      stdout: true,
      stderr: true,
      follow: false,
      ...(options.tail === undefined ? {} : { tail: options.tail }),
    });
    if (Buffer.isBuffer(output)) return output;
    // dockerode parses a body that happens to be JSON (a TTY container's raw output can be).
    return Buffer.from(typeof output === 'string' ? output : JSON.stringify(output));
  } catch (error) {
    throw engineError(client, error, `reading the logs of container ${id.slice(0, 12)}`);
  }
}
