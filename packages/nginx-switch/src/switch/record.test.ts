import { readFile, stat } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PhaseFixture, phaseFixture } from '../../test/phase-fixture.js';
import { readState, writeState } from '../state.js';
import type { LiveState } from '../types.js';
import { liveState, recordIntentAndBackUp, recordLive, repairStateOfLiveTarget, settleState } from './record.js';

const OLD: LiveState = {
  live: 'blue',
  since: '2025-11-01T10:00:00.000Z',
  previous: 'green',
  versions: { blue: 'v1', green: 'v0' },
  method: 'reload',
};

let fixture: PhaseFixture;

beforeEach(async () => {
  fixture = await phaseFixture('reload');
});

afterEach(async () => {
  await fixture.cleanup();
});

describe('liveState', () => {
  it('keeps since and previous when the same environment stays live, and merges versions', () => {
    expect(liveState('blue', OLD, 'reload', { green: 'v2' })).toEqual({
      ...OLD,
      versions: { blue: 'v1', green: 'v2' },
    });
  });

  it('a newly live environment: since now, previous the old live one', () => {
    const state = liveState('green', OLD, 'socket', undefined);
    expect(state).toMatchObject({ live: 'green', previous: 'blue', method: 'socket' });
    expect(Date.now() - Date.parse(state.since)).toBeLessThan(5000);
    expect(liveState('green', undefined, 'reload', undefined)).not.toHaveProperty('versions');
  });
});

describe('repairStateOfLiveTarget', () => {
  it('rewrites a state file that names the other environment, and leaves a right one alone', async () => {
    const run = await fixture.start();
    await writeState(fixture.stateFile, OLD);
    expect(await repairStateOfLiveTarget(run, OLD, 'reload')).toBe(true);
    expect(await readState(fixture.stateFile)).toMatchObject({ live: 'green', previous: 'blue' });
    const right = (await readState(fixture.stateFile))!;
    const before = (await stat(fixture.stateFile)).mtimeMs;
    expect(await repairStateOfLiveTarget(run, right, 'reload')).toBe(false);
    expect((await stat(fixture.stateFile)).mtimeMs).toBe(before);
  });
});

describe('recordIntentAndBackUp', () => {
  it('records the switch as pending, then saves the config as it was', async () => {
    const run = await fixture.start();
    const backup = await recordIntentAndBackUp(run, run.routing!, OLD);
    const state = await readState(fixture.stateFile);
    expect(state).toMatchObject({ live: 'blue', since: OLD.since, previous: 'green', versions: OLD.versions });
    expect(state?.pending).toMatchObject({ from: 'blue', to: 'green', pid: process.pid });
    expect(await readFile(backup.configPath, 'utf8')).toBe(fixture.original);
    expect(run.backup).toBe(backup);
    expect(run.durations.backup).toEqual(expect.any(Number));
  });

  it('in socket mode also saves where the live link pointed', async () => {
    const socket = await phaseFixture('socket');
    try {
      const run = await socket.start();
      const backup = await recordIntentAndBackUp(run, run.routing!, undefined);
      expect(JSON.parse(await readFile(backup.linkPath!, 'utf8'))).toEqual({ live: 'blue' });
    } finally {
      await socket.cleanup();
    }
  });
});

describe('settleState', () => {
  it('records the environment given, else the one the state named, without pending', async () => {
    const run = await fixture.start();
    const pending = {
      ...OLD,
      pending: { from: 'blue', to: 'green', startedAt: OLD.since, pid: 1, host: 'h' },
    } as const;
    await writeState(fixture.stateFile, pending);
    await settleState(run, 'blue', pending, 'reload');
    expect(await readState(fixture.stateFile)).toEqual(OLD);
    await settleState(run, undefined, pending, 'reload');
    expect(await readState(fixture.stateFile)).toEqual(OLD);
  });

  it('removes the state file when nothing was live (a first switch undone)', async () => {
    const run = await fixture.start();
    const first: LiveState = { live: null, since: OLD.since, previous: null, method: 'reload' };
    await writeState(fixture.stateFile, first);
    await settleState(run, undefined, first, 'reload');
    expect(await readState(fixture.stateFile)).toBeUndefined();
  });
});

describe('recordLive', () => {
  it('records the target as live since now, the previous environment, and no pending', async () => {
    const run = await fixture.start({ versions: { green: 'v2' } });
    await recordLive(
      run,
      { ...OLD, pending: { from: 'blue', to: 'green', startedAt: OLD.since, pid: 1, host: 'h' } },
      'reload',
    );
    const state = await readState(fixture.stateFile);
    expect(state).toMatchObject({ live: 'green', previous: 'blue', versions: { blue: 'v1', green: 'v2' } });
    expect(state?.pending).toBeUndefined();
    expect(state?.since).not.toBe(OLD.since);
  });
});
