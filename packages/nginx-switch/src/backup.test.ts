import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackup, listBackups, restoreBackup } from './backup.js';
import { pointLiveLink, readLiveLink } from './socket-route.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-ns-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('backups', () => {
  it('are timestamped, newest first, and only the last N are kept', async () => {
    const configFile = join(dir, 'nginx.conf');
    const backupDir = join(dir, 'backups');
    for (let i = 1; i <= 5; i += 1) {
      await writeFile(configFile, `version ${i}\n`);
      await createBackup({ backupDir, configFile, keep: 3 });
    }
    const entries = await listBackups(backupDir, configFile);
    expect(entries).toHaveLength(3);
    expect(entries[0]!.configPath).toMatch(/nginx\.conf\.\d{8}T\d{9}Z\.bak$/);
    expect(entries.map((entry) => entry.id)).toEqual([...entries.map((entry) => entry.id)].sort().reverse());
    expect(await readFile(entries[0]!.configPath, 'utf8')).toBe('version 5\n');
    expect(await readFile(entries[2]!.configPath, 'utf8')).toBe('version 3\n');
    expect(entries[0]!.createdAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('ignore other files and other configs in the directory', async () => {
    const backupDir = join(dir, 'backups');
    await createBackup({ backupDir, configFile: join(dir, 'a.conf'), configText: 'a' });
    await createBackup({ backupDir, configFile: join(dir, 'b.conf'), configText: 'b' });
    await writeFile(join(backupDir, 'a.conf.notes.bak'), '');
    expect(await listBackups(backupDir, join(dir, 'a.conf'))).toHaveLength(1);
    expect(await listBackups(join(dir, 'missing'), join(dir, 'a.conf'))).toEqual([]);
  });

  it('restore the newest (or a named) config byte for byte, and the live link', async () => {
    const configFile = join(dir, 'nginx.conf');
    const backupDir = join(dir, 'backups');
    const socketDir = join(dir, 'sockets');
    await mkdir(socketDir);
    await writeFile(configFile, 'first\n');
    await pointLiveLink(socketDir, 'blue');
    const first = await createBackup({ backupDir, configFile, liveLink: 'blue' });
    await writeFile(configFile, 'second # ünïcode\n');
    await pointLiveLink(socketDir, 'green');
    await createBackup({ backupDir, configFile, liveLink: 'green' });
    await writeFile(configFile, 'broken');

    await restoreBackup({ backupDir, configFile });
    expect(await readFile(configFile, 'utf8')).toBe('second # ünïcode\n');
    const restored = await restoreBackup({ backupDir, configFile, id: first.id, socketDir });
    expect(restored.liveLink).toBe('blue');
    expect(await readFile(configFile, 'utf8')).toBe('first\n');
    expect((await readLiveLink(socketDir)).live).toBe('blue');
    await expect(restoreBackup({ backupDir, configFile, id: '20000101T000000000Z' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await readdir(backupDir)).filter((name) => name.endsWith('.links.json'))).toHaveLength(2);
  });
});
