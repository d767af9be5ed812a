import { describe, expect, it } from 'vitest';
import { FakeClient, fakeRun, logs, PASSWORD } from './fakes.js';
import { freezeSource, unfreezeSource, type WriteFreeze, writeGap } from './freeze.js';

function source(readOnly: string | null) {
  return new FakeClient((sql) => {
    if (sql.includes("LIKE 'default_transaction_read_only=%'"))
      return { rows: readOnly === null ? [] : [{ value: readOnly }] };
    if (sql.includes('clock_timestamp')) return { rows: [{ now: '2026-12-07 00:00:00+00' }] };
    if (sql.includes('pg_terminate_backend')) return { rows: [{ ended: '3' }] };
  });
}

const aFreeze = () => ({ startedAt: Date.now() - 1500, serverStartedAt: 'then', previous: null, terminated: 0 });

describe('freezeSource', () => {
  it('does nothing without freezeWrites', async () => {
    const admin = source(null);
    const state: WriteFreeze = {};
    await freezeSource(fakeRun(), admin.client, state);
    expect(admin.queries).toEqual([]);
    expect(state.freeze).toBeUndefined();
  });

  it('makes the source read-only with the freeze mark and ends its sessions', async () => {
    const run = fakeRun({ freezeWrites: true });
    const admin = source(null);
    const state: WriteFreeze = {};
    await freezeSource(run, admin.client, state);
    expect(admin.queries).toContain(`ALTER DATABASE "app" SET default_transaction_read_only = 'tru'`);
    expect(state.freeze).toMatchObject({ previous: null, terminated: 3, serverStartedAt: '2026-12-07 00:00:00+00' });
    expect(logs(run.events)).toEqual([
      'info: 127.0.0.1:5433/app is read-only now; ended 3 session(s) so that they reconnect read-only',
    ]);
  });

  it('leaves a source that is read-only already as it is', async () => {
    const run = fakeRun({ freezeWrites: true });
    const state: WriteFreeze = {};
    await freezeSource(run, source('on').client, state);
    expect(state.freeze).toBeUndefined();
    expect(logs(run.events)).toEqual(['info: 127.0.0.1:5433/app is read-only already: left as it is']);
  });
});

describe('unfreezeSource', () => {
  it('does nothing without a freeze, and undoes one once', async () => {
    const run = fakeRun();
    const admin = source('tru');
    let connected = 0;
    const connect = async () => {
      connected++;
      return admin.client;
    };
    await unfreezeSource(run, admin.client, connect, {});
    expect(admin.queries).toEqual([]);
    const state: WriteFreeze = { freeze: aFreeze() };
    await unfreezeSource(run, admin.client, connect, state);
    await unfreezeSource(run, admin.client, connect, state);
    expect(admin.queries.filter((sql) => sql.includes('RESET default_transaction_read_only'))).toHaveLength(1);
    expect(state.freeze).toBeUndefined();
    expect(state.frozenMs).toBeGreaterThanOrEqual(1500);
    expect(connected).toBe(0);
    expect(logs(run.events)).toHaveLength(1);
    expect(logs(run.events)[0]).toMatch(/^info: 127\.0\.0\.1:5433\/app is writable again after /);
  });

  it('tries once more on a new session when the admin session is gone, and ends that session', async () => {
    const run = fakeRun();
    const gone = new FakeClient(() => {
      throw new Error('Connection terminated');
    });
    const fresh = source('tru');
    const state: WriteFreeze = { freeze: { ...aFreeze(), previous: 'off' } };
    await unfreezeSource(run, gone.client, async () => fresh.client, state);
    expect(fresh.queries).toContain(`ALTER DATABASE "app" SET default_transaction_read_only = 'off'`);
    expect(fresh.ended).toBe(true);
    expect(state.frozenMs).toBeDefined();
  });

  it('never throws: says how to undo the freeze by hand, without the password', async () => {
    const run = fakeRun();
    const gone = new FakeClient(() => {
      throw new Error(`password ${PASSWORD} rejected`);
    });
    const state: WriteFreeze = { freeze: aFreeze() };
    await unfreezeSource(run, gone.client, () => Promise.reject(new Error(`still ${PASSWORD}`)), state);
    expect(state.frozenMs).toBeUndefined();
    expect(logs(run.events)).toEqual([
      'error: could not make 127.0.0.1:5433/app writable again (still ***): run ALTER DATABASE app RESET default_transaction_read_only',
    ]);
  });
});

describe('writeGap', () => {
  it('says what the copy misses, with or without the freeze', () => {
    expect(writeGap('2026-12-07T00:00:00.000Z', undefined)).toBe(
      'the copy holds the source as of 2026-12-07T00:00:00.000Z: writes the source accepted after that instant ' +
        '(during the copy, verification and swap) are not in it (freezeWrites closes this gap)',
    );
    expect(writeGap('2026-12-07T00:00:00.000Z', 2000)).toMatch(
      /^the source was read-only for .+, from before the snapshot \(2026-12-07T00:00:00\.000Z\) until the swap: the copy holds every write the source accepted until then; writes accepted after that are not in it$/,
    );
  });
});
