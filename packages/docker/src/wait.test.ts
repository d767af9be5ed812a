import { describe, expect, it } from 'vitest';
import { Wait } from './wait.js';

describe('Wait', () => {
  it('defaults to 60 s and 50 ms, and with* returns new values', () => {
    const http = Wait.forHttp('/health', { port: 8080 });
    expect(http).toMatchObject({ timeoutMs: 60_000, pollIntervalMs: 50 });
    const short = http.withTimeout(5000).withPollInterval(20);
    expect(short).toMatchObject({ timeoutMs: 5000, pollIntervalMs: 20, description: http.description });
    expect(http.timeoutMs).toBe(60_000);
  });

  it('describes what it waits for', () => {
    expect(Wait.forHttp('/health', { port: 8080 }).description).toBe(
      'HTTP 200 from GET /health on container port 8080',
    );
    expect(Wait.forHttp('/v', { port: 80, status: 204, bodyIncludes: 'v2' }).description).toBe(
      'HTTP 204 containing "v2" from GET /v on container port 80',
    );
    expect(Wait.forLogMessage(/ready/i, 2).description).toBe('log message /ready/i 2 times');
    expect(Wait.forListeningPort(5432).description).toBe('container port 5432 to accept connections');
  });

  it('forAll takes the longest timeout and the shortest interval of its parts unless told otherwise', () => {
    const all = Wait.forAll([
      Wait.forHealthCheck().withTimeout(120_000),
      Wait.forListeningPort(80).withPollInterval(10).withTimeout(1000),
    ]);
    expect(all).toMatchObject({ timeoutMs: 120_000, pollIntervalMs: 10 });
    expect(all.withTimeout(3000).timeoutMs).toBe(3000);
    expect(all.description).toBe('its health check to report healthy and container port 80 to accept connections');
  });

  it('refuses bad values with BAD_INPUT', () => {
    expect(() => Wait.forHttp('health', { port: 8080 })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => Wait.forHealthCheck().withTimeout(0)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => Wait.forAll([])).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => Wait.forPostgres({ user: 'rel', database: 'dbname=x host=evil' })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
    expect(() => Wait.forPostgres({ user: '-U', database: 'app' })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
  });
});
