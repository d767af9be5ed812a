import { describe, expect, it } from 'vitest';
import { Wait } from '../wait.js';
import { WaitStrategy } from './strategy.js';

describe('WaitStrategy', () => {
  it('defaults to 60 s and 50 ms, and with* returns new values', () => {
    const http = Wait.forHttp('/health', { port: 8080 });
    expect(http).toMatchObject({ timeoutMs: 60_000, pollIntervalMs: 50 });
    const short = http.withTimeout(5000).withPollInterval(20);
    expect(short).toMatchObject({ timeoutMs: 5000, pollIntervalMs: 20, description: http.description });
    expect(http.timeoutMs).toBe(60_000);
  });

  it('refuses a timeout or poll interval that is not milliseconds > 0 with BAD_INPUT', () => {
    expect(() => Wait.forHealthCheck().withTimeout(0)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => Wait.forHealthCheck().withPollInterval(Number.NaN)).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: 'invalid wait poll interval NaN: expected milliseconds > 0',
      }),
    );
  });

  it('start() makes a fresh check from its factory for each wait, and with* keep the factory', () => {
    let made = 0;
    const strategy = new WaitStrategy('something', () => {
      made += 1;
      return async () => true;
    });
    strategy.start();
    strategy.withTimeout(10).start();
    expect(made).toBe(2);
  });

  it('forCondition runs the given check as it is, under the given description', async () => {
    const check = async () => true;
    const strategy = Wait.forCondition('the cache is warm', check);
    expect(strategy.description).toBe('the cache is warm');
    expect(strategy.start()).toBe(check);
  });
});
