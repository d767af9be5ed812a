import { describe, expect, it, vi } from 'vitest';
import {
  formatDuration,
  isRelError,
  otherEnvironment,
  parseDuration,
  parseEnvironment,
  pollUntil,
  RelError,
  type RelEvent,
  runStep,
} from './index.js';

describe('parseEnvironment', () => {
  it('accepts blue and green', () => {
    expect(parseEnvironment('blue')).toBe('blue');
    expect(parseEnvironment('green')).toBe('green');
    expect(otherEnvironment('blue')).toBe('green');
  });
  it.each(['Blue', 'red', '', 'green ', 'blue;rm -rf /'])('refuses %j with BAD_INPUT naming the value', (value) => {
    const error = (() => {
      try {
        parseEnvironment(value);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('BAD_INPUT');
    expect((error as RelError).message).toContain(JSON.stringify(value));
  });
});

describe('parseDuration', () => {
  it.each([
    ['600', 600_000],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['250ms', 250],
    ['1.5s', 1500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['0', '-5', '10x', 'ten', '', '5 m', '0s'])('refuses %j', (text) => {
    expect(() => parseDuration(text, 'interval')).toThrow(/invalid interval/);
  });
  it('formats', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(1234)).toBe('1.2s');
    expect(formatDuration(95_000)).toBe('1m35s');
  });
});

describe('pollUntil', () => {
  it('returns the first truthy result', async () => {
    let n = 0;
    const result = await pollUntil(() => (++n >= 3 ? `done after ${n}` : undefined), {
      timeoutMs: 2000,
      intervalMs: 5,
      waitingFor: 'three tries',
    });
    expect(result).toBe('done after 3');
  });
  it('times out with what it waited for and the last error', async () => {
    const error = await pollUntil(
      () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 50, intervalMs: 10, waitingFor: 'the API on :8080', onTimeout: () => ({ logs: 'last line' }) },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('TIMEOUT');
    expect((error as RelError).message).toMatch(/waiting for the API on :8080 \(last error: connection refused\)/);
    expect((error as RelError).details).toMatchObject({ logs: 'last line' });
  });
  it('stops when aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const started = Date.now();
    const error = await pollUntil(() => undefined, {
      timeoutMs: 10_000,
      intervalMs: 1000,
      signal: controller.signal,
      waitingFor: 'never',
    }).catch((e: unknown) => e);
    expect((error as RelError).code).toBe('ABORTED');
    expect(Date.now() - started).toBeLessThan(1000);
  });
  it('does not swallow a non-transient RelError', async () => {
    const error = await pollUntil(
      () => {
        throw new RelError('AUTH', 'denied');
      },
      { timeoutMs: 1000, waitingFor: 'x' },
    ).catch((e: unknown) => e);
    expect((error as RelError).code).toBe('AUTH');
  });
});

describe('runStep', () => {
  it('emits start and finish with a duration', async () => {
    const events: RelEvent[] = [];
    const value = await runStep(events.push.bind(events), 'pull', 'pulling', async (progress) => {
      progress('half', { current: 1, total: 2 });
      return 42;
    });
    expect(value).toBe(42);
    expect(events.map((e) => e.type)).toEqual(['step:start', 'step:progress', 'step:finish']);
  });
  it('emits fail with the error code and rethrows', async () => {
    const events: RelEvent[] = [];
    await expect(
      runStep(events.push.bind(events), 'pull', 'pulling', async () => {
        throw new RelError('NOT_FOUND', 'no such tag');
      }),
    ).rejects.toThrow('no such tag');
    expect(events[1]).toMatchObject({ type: 'step:fail', error: { code: 'NOT_FOUND', message: 'no such tag' } });
  });
});

describe('RelError across copies of @rel/core', () => {
  it('an error made by another copy of the module is a RelError here (isRelError and instanceof)', async () => {
    // a second, separate evaluation of errors.ts: what a bundle or a second installed version amounts to
    vi.resetModules();
    const other = await import('./errors.js');
    expect(other.RelError).not.toBe(RelError);
    const foreign = new other.RelError('LOCKED', 'held by someone');
    expect(isRelError(foreign)).toBe(true);
    expect(isRelError(foreign, 'LOCKED')).toBe(true);
    expect(isRelError(foreign, 'CONFIG')).toBe(false);
    expect(foreign instanceof RelError).toBe(true);
    expect(other.isRelError(new RelError('AUTH', 'denied'), 'AUTH')).toBe(true);
  });
  it('plain errors and look-alikes without the brand are not RelErrors', () => {
    expect(isRelError(new Error('x'))).toBe(false);
    expect(isRelError({ name: 'RelError', code: 'LOCKED', message: 'x' })).toBe(false);
    expect(isRelError(null)).toBe(false);
    expect(isRelError('LOCKED')).toBe(false);
  });
});
