import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendJsonLine, JsonLinesWriter } from './index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-core-jsonl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = async (path: string) => (await readFile(path, 'utf8')).split('\n');

describe('JsonLinesWriter', () => {
  it('appends one line per value, creating the directory (file mode 0644) and keeping earlier content', async () => {
    const path = join(dir, 'nested', 'deeper', 'log.jsonl');
    const first = new JsonLinesWriter(path);
    first.append({ n: 1 });
    first.append({ text: 'two\nlines' });
    first.close();
    first.close();
    const second = new JsonLinesWriter<{ n: number }>(path, {
      stringify: (value) => JSON.stringify({ ...value, x: 1 }),
    });
    second.append({ n: 3 });
    second.close();
    expect(await lines(path)).toEqual(['{"n":1}', '{"text":"two\\nlines"}', '{"n":3,"x":1}', '']);
    expect((await stat(path)).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  it('refuses a closed file and a value that is not one line', () => {
    const writer = new JsonLinesWriter(join(dir, 'a.jsonl'), { stringify: (value) => value as string });
    expect(() => writer.append('{"a":1}\n{"b":2}')).toThrow(/must be one line of JSON/);
    expect(() => writer.append(undefined)).toThrow(/must be one line of JSON/);
    writer.close();
    expect(() => writer.append('{}')).toThrow(`${join(dir, 'a.jsonl')} is closed`);
  });

  it("throws the file system's error when the file cannot be opened", async () => {
    const file = join(dir, 'a-file');
    appendJsonLine(file, {});
    expect(() => new JsonLinesWriter(join(file, 'x.jsonl'))).toThrow(/ENOTDIR|EEXIST/);
    expect(() => new JsonLinesWriter(dir)).toThrow(/EISDIR/);
  });
});

describe('appendJsonLine', () => {
  it('appends one value and closes the file', async () => {
    const path = join(dir, 'audit.jsonl');
    appendJsonLine(path, { at: 1 });
    appendJsonLine(path, { at: 2 });
    expect(await lines(path)).toEqual(['{"at":1}', '{"at":2}', '']);
  });
});
