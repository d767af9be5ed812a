import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendJsonLine } from '@rel/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureWritableDir, writeFileAtomic } from './atomic-write.js';
import { appendAuditEvent } from './audit.js';
import { readState, removeState, writeState } from './state.js';
import type { AuditEvent } from './types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-ns-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces the content, keeps the mode, and leaves no temp file behind', async () => {
    const file = join(dir, 'nginx.conf');
    await writeFile(file, 'old');
    await chmod(file, 0o640);
    await writeFileAtomic(file, 'new');
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['nginx.conf']);
  });

  it('replaces the target of a symlink, not the link (sites-enabled -> sites-available)', async () => {
    const real = join(dir, 'site.conf');
    const link = join(dir, 'enabled.conf');
    await writeFile(real, 'old');
    await symlink(real, link);
    await writeFileAtomic(link, 'new');
    expect(await readFile(real, 'utf8')).toBe('new');
    expect(await readlink(link)).toBe(real);
  });

  it('removes its temp file and leaves the target alone when the rename fails', async () => {
    const target = join(dir, 'conf.d');
    await mkdir(target);
    await writeFile(join(target, 'site.conf'), 'keep');
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow(/EISDIR/);
    expect(await readdir(dir)).toEqual(['conf.d']);
    expect(await readFile(join(target, 'site.conf'), 'utf8')).toBe('keep');
  });
});

describe('ensureWritableDir', () => {
  it('creates a missing directory', async () => {
    await ensureWritableDir(join(dir, 'a', 'b'), 'state directory');
    expect((await stat(join(dir, 'a', 'b'))).isDirectory()).toBe(true);
  });

  it('names the directory when it cannot be written (even as root)', async () => {
    const file = join(dir, 'file');
    await writeFile(file, '');
    await expect(ensureWritableDir(join(file, 'state'), 'state directory')).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(new RegExp(`^state directory ${file}/state is not writable: `)),
    });
  });
});

describe('state file', () => {
  it('is undefined when missing, and round-trips', async () => {
    const file = join(dir, 'state.json');
    expect(await readState(file)).toBeUndefined();
    const state = { live: 'green', since: '2025-11-26T10:00:00.000Z', previous: 'blue', method: 'socket' } as const;
    await writeState(file, { ...state, versions: { green: 'v2' } });
    expect(await readState(file)).toEqual({ ...state, versions: { green: 'v2' } });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject(state);
    await removeState(file);
    expect(await readState(file)).toBeUndefined();
  });

  it('refuses a file that is not a valid state, saying why', async () => {
    const file = join(dir, 'state.json');
    await writeFile(file, '{"live": "purple"');
    await expect(readState(file)).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/is not valid JSON/),
    });
    await writeFile(file, '{"live": "purple", "since": "x", "previous": null, "method": "reload"}');
    await expect(readState(file)).rejects.toThrow(/"live" is "purple", expected "blue" or "green"/);
    await writeFile(file, '{"live": null, "since": "x", "previous": null, "method": "reload"}');
    await expect(readState(file)).rejects.toThrow(/"live" is null/);
  });

  it('accepts live null only while a first switch is pending', async () => {
    const file = join(dir, 'state.json');
    const pending = { from: null, to: 'blue', startedAt: 'x', pid: 1, host: 'h' } as const;
    await writeState(file, { live: null, since: 'x', previous: null, method: 'reload', pending });
    expect((await readState(file))?.pending).toEqual(pending);
  });
});

describe('audit log', () => {
  it('appends one JSON line per event', async () => {
    const file = join(dir, 'audit.jsonl');
    const event: AuditEvent = {
      at: '2025-11-26T10:00:00.000Z',
      user: 'ci',
      host: 'build-1',
      from: 'blue',
      to: 'green',
      method: 'socket',
      result: 'switched',
      durations: { check: 10 },
      configFile: '/etc/nginx/nginx.conf',
    };
    await appendAuditEvent(file, event);
    await Promise.all([
      appendAuditEvent(file, { ...event, to: 'blue' }),
      Promise.resolve().then(() => appendJsonLine(file, { manual: true })),
    ]);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0]!)).toEqual(event);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });
});
