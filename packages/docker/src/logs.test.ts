import { describe, expect, it } from 'vitest';
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

describe('splitLines', () => {
  it('drops only the empty line after a trailing newline', () => {
    expect(splitLines('a\r\nb\n\nc\n')).toEqual(['a', 'b', '', 'c']);
    expect(splitLines('')).toEqual([]);
  });
});
