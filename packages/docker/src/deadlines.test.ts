import { describe, expect, it } from 'vitest';
import { boundsOf, DEFAULT_DEADLINES, type DialRequest, resolveDeadlines } from './deadlines.js';

const bounds = (request: DialRequest) => boundsOf(request, DEFAULT_DEADLINES);
const id = 'f'.repeat(64);

describe('boundsOf: what each Docker call may take', () => {
  it('pings, reads and changes are bounded whole: 5 s, 10 s, 30 s', () => {
    expect(bounds({ path: '/_ping', method: 'GET' })).toMatchObject({ what: 'GET /_ping', answerMs: 5_000 });
    expect(bounds({ path: '/containers/json?', method: 'GET', options: { all: true } })).toEqual({
      what: 'GET /containers/json',
      answerMs: 10_000,
      openAnswer: false,
      changes: false,
    });
    expect(bounds({ path: `/containers/${id}/json`, method: 'GET' })).toMatchObject({
      what: 'GET /containers/ffffffffffff/json',
      answerMs: 10_000,
    });
    expect(bounds({ path: '/containers/create?', method: 'POST', options: { _query: { name: 'x' } } })).toEqual({
      what: 'POST /containers/create',
      answerMs: 30_000,
      openAnswer: false,
      changes: true,
    });
    expect(bounds({ path: '/networks/n', method: 'DELETE' })).toMatchObject({ answerMs: 30_000, changes: true });
  });

  it('a stop or restart gets its grace period on top', () => {
    expect(bounds({ path: '/containers/x/stop?', method: 'POST', options: { t: 60 } }).answerMs).toBe(90_000);
    expect(bounds({ path: '/containers/x/restart?', method: 'POST', options: { _query: { t: 0 } } }).answerMs).toBe(
      30_000,
    );
    expect(bounds({ path: '/containers/x/stop?', method: 'POST' }).answerMs).toBe(40_000);
  });

  it('transfers are bounded by silence, not by their total time', () => {
    for (const request of [
      { path: '/images/create?', method: 'POST', isStream: true },
      { path: '/images/127.0.0.1:5000/x/push?', method: 'POST', isStream: true },
      { path: '/build?', method: 'POST', isStream: true, file: 'context.tar' },
      { path: '/containers/x/archive?', method: 'PUT', file: Buffer.from('') },
    ]) {
      expect(bounds(request)).toMatchObject({ answerMs: 120_000, idleMs: 120_000 });
    }
  });

  it('follows, exec and waits are open-ended once begun, which must happen within 10 s', () => {
    const open = [
      { path: '/containers/x/logs?', method: 'GET', isStream: true, options: { follow: true } },
      { path: '/containers/x/stats?', method: 'GET', isStream: true, options: {} },
      { path: '/events?', method: 'GET', isStream: true },
      { path: '/exec/x/start', method: 'POST', isStream: true, hijack: true, options: { hijack: true } },
      { path: '/containers/x/attach?', method: 'POST', isStream: true },
    ];
    for (const request of open) {
      const b = bounds(request);
      expect(b).toMatchObject({ answerMs: 10_000, openAnswer: false });
      expect(b.idleMs).toBeUndefined();
    }
    // dockerode collects a wait's answer whole: it is streamed instead, so that only its start is bounded
    expect(bounds({ path: `/containers/x/wait?`, method: 'POST' })).toMatchObject({
      answerMs: 10_000,
      openAnswer: true,
      changes: false,
    });
    // the one-shot variants are plain reads
    expect(bounds({ path: '/containers/x/logs?', method: 'GET', options: { follow: false, tail: 20 } })).toMatchObject({
      answerMs: 10_000,
    });
    expect(bounds({ path: '/containers/x/stats?', method: 'GET', options: { stream: false } })).toMatchObject({
      answerMs: 10_000,
    });
  });

  it('never puts the query (which may carry values) into the description', () => {
    const b = bounds({ path: '/containers/create?name=x&Env=PASSWORD%3Ds3cret', method: 'POST' });
    expect(b.what).toBe('POST /containers/create');
  });
});

describe('resolveDeadlines', () => {
  it('puts what is given over the defaults, and refuses what is not a number of milliseconds', () => {
    expect(resolveDeadlines({ readMs: 2_000, pingMs: undefined })).toEqual({ ...DEFAULT_DEADLINES, readMs: 2_000 });
    for (const readMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => resolveDeadlines({ readMs })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    }
  });
});
