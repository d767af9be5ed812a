import { RelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import { fakeContext } from '../../test/wait-context.js';
import { Wait } from '../wait.js';

describe('Wait.forAll', () => {
  it('takes the longest timeout and the shortest interval of its parts unless told otherwise', () => {
    const all = Wait.forAll([
      Wait.forHealthCheck().withTimeout(120_000),
      Wait.forListeningPort(80).withPollInterval(10).withTimeout(1000),
    ]);
    expect(all).toMatchObject({ timeoutMs: 120_000, pollIntervalMs: 10 });
    expect(all.withTimeout(3000).timeoutMs).toBe(3000);
    expect(all.description).toBe('its health check to report healthy and container port 80 to accept connections');
  });

  it('refuses an empty list with BAD_INPUT', () => {
    expect(() => Wait.forAll([])).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });

  it('each part once is enough; until all are, says why each pending part is not ready', async () => {
    const calls = { a: 0, b: 0 };
    const a = Wait.forCondition('a', async () => {
      calls.a += 1;
      return calls.a === 1; // ready on the first attempt only: must not be asked again
    });
    const b = Wait.forCondition('b', async () => {
      calls.b += 1;
      if (calls.b === 1) return false;
      if (calls.b === 2) throw new RelError('UNREACHABLE', 'connection refused');
      return true;
    });
    const check = Wait.forAll([a, b]).start();
    const context = fakeContext();
    await expect(check(context)).rejects.toThrow('b: not yet');
    await expect(check(context)).rejects.toThrow('b: connection refused');
    await expect(check(context)).resolves.toBe(true);
    expect(calls).toEqual({ a: 1, b: 3 });
  });

  it('a part that fails with another RelError ends the wait with that error', async () => {
    const broken = Wait.forCondition('broken', async () => {
      throw new RelError('CONFIG', 'port 80 of container app-1 is not published on the host');
    });
    const check = Wait.forAll([Wait.forCondition('fine', async () => false), broken]).start();
    await expect(check(fakeContext())).rejects.toMatchObject({
      code: 'CONFIG',
      message: 'port 80 of container app-1 is not published on the host',
    });
  });
});
