import { describe, expect, it } from 'vitest';
import { fakeRun, fakeSessions } from './fakes.js';

describe('Sessions', () => {
  it('opens the admin session on the source, then the maintenance session on the target server', async () => {
    const run = fakeRun({ maintenanceDatabase: 'admin' });
    const { sessions, opened } = fakeSessions(run);
    const { sourceAdmin, maintenance } = await sessions.openAdmin();
    expect(opened.map((c) => c.name)).toEqual(['app#0', 'admin#1']);
    expect(sessions.sourceAdmin).toBe(sourceAdmin);
    expect(sessions.maintenance).toBe(maintenance);
  });

  it('opens `parallel` source sessions on the snapshot, once', async () => {
    const run = fakeRun({ parallel: 3 });
    const { sessions, opened } = fakeSessions(run);
    await sessions.openSource('00000003-1');
    await sessions.openSource('00000003-1');
    expect(sessions.source).toHaveLength(3);
    expect(opened).toHaveLength(3);
    for (const client of opened) {
      expect(client.queries).toEqual([
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
        "SET TRANSACTION SNAPSHOT '00000003-1'",
      ]);
    }
  });

  it('opens `parallel` sessions on the new database with the loading settings, again after closing them', async () => {
    const run = fakeRun({ parallel: 2, maintenanceWorkMem: '512MB' });
    const { sessions, opened } = fakeSessions(run);
    await sessions.openTarget();
    expect(opened.map((c) => c.name)).toEqual(['app__rel_new#0', 'app__rel_new#1']);
    expect(opened[0]!.queries).toEqual(["SET synchronous_commit = off; SET maintenance_work_mem = '512MB'"]);
    expect(sessions.target.every((s) => s.settings.size === 0)).toBe(true);
    await sessions.closeTarget();
    expect(sessions.target).toEqual([]);
    expect(opened.every((c) => c.ended)).toBe(true);
    await sessions.openTarget();
    expect(opened).toHaveLength(4);
  });

  it('closes the workers with the exporter, then the admin sessions, ignoring failures to end', async () => {
    const run = fakeRun({ parallel: 1 });
    const { sessions, opened } = fakeSessions(run);
    await sessions.openAdmin();
    const exporter = await sessions.openExporter();
    await sessions.openSource('s');
    await sessions.openTarget();
    // The source session fails to end (its server went away): closing goes on.
    opened[3]!.end = () => Promise.reject(new Error('already gone'));
    await sessions.closeWorkers();
    expect(sessions.exporter).toBeUndefined();
    expect(sessions.source).toEqual([]);
    expect(sessions.target).toEqual([]);
    expect(opened.map((c) => c.ended)).toEqual([false, false, true, false, true]);
    expect(exporter).toBe(opened[2]!.client);
    await sessions.closeAdmin();
    expect(opened[0]!.ended && opened[1]!.ended).toBe(true);
  });

  it('connects new sessions of the source and of the new database for the caller', async () => {
    const { sessions, opened } = fakeSessions(fakeRun());
    await sessions.connectSource();
    await sessions.connectNew();
    expect(opened.map((c) => c.name)).toEqual(['app#0', 'app__rel_new#1']);
  });
});
