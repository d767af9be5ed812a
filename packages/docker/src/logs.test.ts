import { describe, expect, it } from 'vitest';
import { splitFrames } from './exec.js';
import { demultiplex, demultiplexToText, splitLines } from './logs.js';

function frame(stream: 0 | 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('demultiplex', () => {
  it('splits stdout and stderr frames and keeps their order', () => {
    const buffer = Buffer.concat([frame(1, 'one\n'), frame(2, 'oops\n'), frame(1, 'two\nthree\n')]);
    expect(demultiplex(buffer).map((f) => [f.stream, f.data.toString()])).toEqual([
      ['stdout', 'one\n'],
      ['stderr', 'oops\n'],
      ['stdout', 'two\nthree\n'],
    ]);
    expect(demultiplexToText(buffer)).toEqual({
      stdout: 'one\ntwo\nthree\n',
      stderr: 'oops\n',
      all: 'one\noops\ntwo\nthree\n',
    });
  });

  it('handles payloads larger than 255 bytes, empty frames and multibyte text', () => {
    const long = 'é'.repeat(1000);
    const buffer = Buffer.concat([frame(1, ''), frame(1, long), frame(2, '✓')]);
    expect(demultiplexToText(buffer)).toMatchObject({ stdout: long, stderr: '✓' });
  });

  it('keeps what arrived of a truncated last frame', () => {
    const whole = frame(1, 'complete line\n');
    const cut = frame(2, 'cut short').subarray(0, 8 + 3);
    expect(demultiplexToText(Buffer.concat([whole, cut]))).toEqual({
      stdout: 'complete line\n',
      stderr: 'cut',
      all: 'complete line\ncut',
    });
  });

  it('passes raw TTY output through as stdout', () => {
    expect(demultiplexToText(Buffer.from('hello from a tty\r\n'))).toMatchObject({ stdout: 'hello from a tty\r\n' });
    expect(demultiplex(Buffer.alloc(0))).toEqual([]);
  });

  it('keeps the rest when the stream becomes misaligned', () => {
    const buffer = Buffer.concat([frame(1, 'ok\n'), Buffer.from('garbage that is no header')]);
    expect(demultiplexToText(buffer).stdout).toBe('ok\ngarbage that is no header');
  });
});

/** Feeds `buffer` to splitFrames in chunks of `size` bytes; returns the text of each stream and the pieces. */
function splitInChunks(buffer: Buffer, size: number) {
  const pieces: [string, Buffer][] = [];
  const frames = splitFrames((stream, data) => pieces.push([stream, data]));
  for (let offset = 0; offset < buffer.length; offset += size) frames.push(buffer.subarray(offset, offset + size));
  frames.end();
  const text = (wanted: string) =>
    Buffer.concat(pieces.filter(([stream]) => stream === wanted).map(([, data]) => data)).toString('utf8');
  return { stdout: text('stdout'), stderr: text('stderr'), pieces };
}

describe('splitFrames (streaming demultiplex of exec output)', () => {
  const buffer = Buffer.concat([
    frame(1, 'one\n'),
    frame(2, 'oops\n'),
    frame(1, ''),
    frame(1, 'é'.repeat(5000)),
    frame(2, '✓ done\n'),
  ]);

  it('gives the same streams as demultiplex, however the chunks cut headers and payloads', () => {
    const expected = demultiplexToText(buffer);
    for (const size of [1, 3, 7, 8, 9, 100, 4096, buffer.length]) {
      const { stdout, stderr } = splitInChunks(buffer, size);
      expect({ size, stdout, stderr }).toEqual({ size, stdout: expected.stdout, stderr: expected.stderr });
    }
  });

  it('hands payloads over without copying them, in order', () => {
    const { pieces } = splitInChunks(buffer, buffer.length);
    expect(pieces.map(([stream, data]) => [stream, data.length])).toEqual([
      ['stdout', 4],
      ['stderr', 5],
      ['stdout', 10_000],
      ['stderr', 9],
    ]);
    expect(pieces[2]![1].buffer).toBe(buffer.buffer);
  });

  it('passes raw TTY output through, even shorter than a header, and keeps the rest after a misalignment', () => {
    expect(splitInChunks(Buffer.from('hello from a tty\r\n'), 5).stdout).toBe('hello from a tty\r\n');
    expect(splitInChunks(Buffer.from('hi\n'), 1).stdout).toBe('hi\n');
    expect(splitInChunks(Buffer.alloc(0), 1).pieces).toEqual([]);
    const misaligned = Buffer.concat([frame(1, 'ok\n'), Buffer.from('garbage that is no header')]);
    expect(splitInChunks(misaligned, 6).stdout).toBe('ok\ngarbage that is no header');
  });

  it('keeps what arrived of a truncated last frame', () => {
    const cut = Buffer.concat([frame(1, 'complete line\n'), frame(2, 'cut short').subarray(0, 8 + 3)]);
    expect(splitInChunks(cut, 4)).toMatchObject({ stdout: 'complete line\n', stderr: 'cut' });
  });
});

describe('splitLines', () => {
  it('drops only the empty line after a trailing newline', () => {
    expect(splitLines('a\r\nb\n\nc\n')).toEqual(['a', 'b', '', 'c']);
    expect(splitLines('')).toEqual([]);
  });
});
