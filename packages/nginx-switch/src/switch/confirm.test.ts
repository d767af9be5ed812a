import { readFile, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PhaseFixture, phaseFixture } from '../../test/phase-fixture.js';
import { readLiveLink } from '../socket-route.js';
import { readState, writeState } from '../state.js';
import type { LiveState } from '../types.js';
import { fallbackOf } from './apply.js';
import { settleMsOf, switchBack, verifyTarget } from './confirm.js';
import { RELOAD_SETTLE_MS } from './run.js';

// Stands in for nginx: answers with the environment `serving` names.
let serving = 'blue';
let server: Server;
let url: string;
let fixture: PhaseFixture | undefined;

const PENDING: LiveState = {
  live: 'blue',
  since: '2025-11-01T10:00:00.000Z',
  previous: null,
  method: 'reload',
  pending: { from: 'blue', to: 'green', startedAt: '2025-11-01T11:00:00.000Z', pid: 1, host: 'h' },
};

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.setHeader('X-Rel-Environment', serving);
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
  serving = 'blue';
});

const quick = () => ({ verifyUrl: url, verifyConsecutive: 2, verifySettleMs: 0, verifyTimeoutMs: 2000 });

describe('verifyTarget', () => {
  it('settles 500 ms after a reload and not at all for a flip, unless told', async () => {
    fixture = await phaseFixture('reload');
    const run = await fixture.start();
    expect(settleMsOf(run, 'reload')).toBe(RELOAD_SETTLE_MS);
    expect(settleMsOf(run, 'socket')).toBe(0);
    expect(settleMsOf(await fixture.start({ verifySettleMs: 50 }), 'reload')).toBe(50);
  });

  it('ok when the target answers; ok: false with what it saw otherwise, never an error', async () => {
    fixture = await phaseFixture('reload');
    const run = await fixture.start(quick());
    serving = 'green';
    expect(await verifyTarget(run, 'reload')).toMatchObject({ ok: true, environment: 'green' });
    serving = 'blue';
    const failed = await verifyTarget(run, 'reload');
    expect(failed).toMatchObject({ ok: false, environment: 'green', seen: expect.stringContaining('blue') });
    const unreachable = await verifyTarget(await fixture.start({ ...quick(), verifyUrl: 'not a url' }), 'reload');
    expect(unreachable.ok).toBe(false);
  });
});

describe('switchBack', () => {
  it('reload: writes the old config, reloads, verifies blue, records it and throws STEP_FAILED saying so', async () => {
    fixture = await phaseFixture('reload');
    const run = await fixture.start(quick());
    await writeState(fixture.stateFile, PENDING);
    const failed = {
      ok: false,
      environment: 'green',
      requests: 4,
      durationMs: 400,
      seen: 'X-Rel-Environment: blue (200) 4 times',
      reason: 'deadline passed',
    } as const;
    await expect(
      switchBack(run, run.routing!, fallbackOf(run, run.routing!, false), failed, PENDING),
    ).rejects.toMatchObject({
      code: 'STEP_FAILED',
      message:
        'green failed verification: deadline passed; got X-Rel-Environment: blue (200) 4 times; switched back to blue, which answers',
      details: { result: 'switched-back', from: 'blue', to: 'green', switchBackVerification: { ok: true } },
    });
    expect(await readFile(fixture.configFile, 'utf8')).toBe(fixture.original);
    expect(await readState(fixture.stateFile)).toEqual({ ...PENDING, pending: undefined });
    expect((await fixture.readAudit()).map((event) => event.result)).toEqual(['switched-back']);
  });

  it('when switching back fails too: says so, and the state file keeps pending for a rerun', async () => {
    fixture = await phaseFixture('reload');
    const run = await fixture.start({ ...quick(), reload: { kind: 'command', command: ['false'] } });
    await writeState(fixture.stateFile, PENDING);
    const failed = {
      ok: false,
      environment: 'green',
      requests: 0,
      durationMs: 0,
      seen: 'nothing',
      reason: 'refused',
    } as const;
    await expect(switchBack(run, run.routing!, fallbackOf(run, run.routing!, false), failed, PENDING)).rejects.toThrow(
      /^green failed verification \(refused; got nothing\) and switching back failed too: /,
    );
    expect((await readState(fixture.stateFile))?.pending).toEqual(PENDING.pending);
    expect((await fixture.readAudit()).map((event) => event.result)).toEqual(['failed']);
  });

  it('socket, first switch: removes the live link and the state file; nothing to verify', async () => {
    fixture = await phaseFixture('socket');
    await unlink(`${fixture.socketDir}/live`);
    const run = await fixture.start(quick());
    const first: LiveState = {
      live: null,
      since: PENDING.since,
      previous: null,
      method: 'socket',
      pending: { ...PENDING.pending!, from: null },
    };
    await writeState(fixture.stateFile, first);
    const failed = {
      ok: false,
      environment: 'green',
      requests: 0,
      durationMs: 0,
      seen: 'nothing',
      reason: 'refused',
    } as const;
    await expect(switchBack(run, run.routing!, fallbackOf(run, run.routing!, false), failed, first)).rejects.toThrow(
      'green failed verification: refused; got nothing; switched back to the old routing',
    );
    expect((await readLiveLink(fixture.socketDir)).target).toBeNull();
    expect(await readState(fixture.stateFile)).toBeUndefined();
  });
});
