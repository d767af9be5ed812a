import { readFile, writeFile } from 'node:fs/promises';
import { RelError } from '@rel/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ADDRESSES, type PhaseFixture, phaseFixture, reloadConfig } from '../../test/phase-fixture.js';
import { readLiveLink } from '../socket-route.js';
import { readState, writeState } from '../state.js';
import type { LiveState } from '../types.js';
import { applyRouting, describeReload, fallbackOf } from './apply.js';

const FAILING_TEST = [
  'sh',
  '-c',
  'echo "nginx: [emerg] unknown directive \\"bogus\\" in /etc/nginx.conf:3" >&2; exit 1',
];
const PENDING: LiveState = {
  live: 'blue',
  since: '2025-11-01T10:00:00.000Z',
  previous: null,
  method: 'reload',
  pending: { from: 'blue', to: 'green', startedAt: '2025-11-01T11:00:00.000Z', pid: 1, host: 'h' },
};

let fixture: PhaseFixture | undefined;

afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('applyRouting, reload method', () => {
  it('rewrites the upstream servers and the header, then tests and reloads; returns what changed', async () => {
    fixture = await phaseFixture('reload');
    const run = await fixture.start();
    const changes = await applyRouting(run, run.routing!, fallbackOf(run, run.routing!, false), false, undefined);
    expect(await readFile(fixture.configFile, 'utf8')).toBe(reloadConfig(ADDRESSES.green.api));
    expect(changes.join('\n')).toContain(ADDRESSES.green.api);
    expect(Object.keys(run.durations)).toEqual(['write', 'test', 'reload']);
  });

  it('a config nginx -t rejects: the original bytes back, the state file back to blue, a failed audit line', async () => {
    fixture = await phaseFixture('reload');
    const run = await fixture.start({ testCommand: FAILING_TEST });
    await writeState(fixture.stateFile, PENDING);
    const error = await applyRouting(run, run.routing!, fallbackOf(run, run.routing!, false), false, PENDING).then(
      () => undefined,
      (e: unknown) => e as RelError,
    );
    expect(error).toBeInstanceOf(RelError);
    expect(error).toMatchObject({ code: 'CONFIG', details: { result: 'failed', from: 'blue', to: 'green' } });
    expect(error?.message).toBe(
      `nginx config test failed: nginx: [emerg] unknown directive "bogus" in /etc/nginx.conf:3 (${fixture.configFile} restored, nginx not reloaded; blue still serving)`,
    );
    expect(await readFile(fixture.configFile, 'utf8')).toBe(fixture.original);
    const state = await readState(fixture.stateFile);
    expect(state).toMatchObject({ live: 'blue', since: PENDING.since });
    expect(state?.pending).toBeUndefined();
    expect((await fixture.readAudit()).map((event) => event.result)).toEqual(['failed']);
    expect(run.durations).not.toHaveProperty('reload');
  });

  it('resumed (the config already routes to green): not rewritten, and a failure leaves the state file pending', async () => {
    fixture = await phaseFixture('reload');
    await writeFile(fixture.configFile, reloadConfig(ADDRESSES.green.api));
    const run = await fixture.start({ reload: { kind: 'command', command: ['false'] } });
    run.from = 'blue';
    await writeState(fixture.stateFile, PENDING);
    const fallback = fallbackOf(run, run.routing!, true);
    expect(fallback).toEqual({ env: 'blue', text: reloadConfig(ADDRESSES.blue.api) });
    await expect(applyRouting(run, run.routing!, fallback, true, PENDING)).rejects.toThrow(
      `restored, nginx not reloaded)`,
    );
    expect(Object.keys(run.durations)).toEqual(['test', 'reload']);
    expect((await readState(fixture.stateFile))?.pending).toEqual(PENDING.pending);
  });
});

describe('applyRouting, socket method', () => {
  it('points the live link at the target', async () => {
    fixture = await phaseFixture('socket');
    const run = await fixture.start();
    const changes = await applyRouting(run, run.routing!, fallbackOf(run, run.routing!, false), false, undefined);
    expect(changes).toEqual([`${fixture.socketDir}/live -> green`]);
    expect((await readLiveLink(fixture.socketDir)).live).toBe('green');
    expect(Object.keys(run.durations)).toEqual(['flip']);
  });
});

describe('describeReload', () => {
  it('names the command, the signal or the docker command', () => {
    expect(describeReload({ kind: 'command', command: ['nginx', '-s', 'reload'] })).toBe('nginx -s reload');
    expect(describeReload({ kind: 'signal', pidFile: '/run/nginx.pid' })).toBe('SIGHUP to the pid in /run/nginx.pid');
    expect(describeReload({ kind: 'docker', container: 'edge' })).toBe('docker kill -s HUP edge');
  });
});
