// Keep-alive load through nginx while traffic moves back and forth. The socket method must not fail a
// single request; the reload method's count is printed for comparison, not asserted (an exiting worker
// closes idle keep-alive connections while a request may be on its way).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@rel/core';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SwitchFixture, startSwitchFixture } from '../test/switch-fixture.js';
import { switchTraffic } from './index.js';
import type { SwitchMethod } from './types.js';

const LOAD_MS = 5_000;
const SWITCHES = 6;
const CONNECTIONS = 8;

interface LoadResult {
  requests: number;
  non2xx: number;
  errors: Record<string, number>;
  switchMs: number[];
}

async function switchUnderLoad(fixture: SwitchFixture, stateDir: string): Promise<LoadResult> {
  const pool = new Pool(`http://127.0.0.1:${fixture.nginx.port}`, { connections: CONNECTIONS, pipelining: 1 });
  const result: LoadResult = { requests: 0, non2xx: 0, errors: {}, switchMs: [] };
  let running = true;
  const worker = async () => {
    while (running) {
      result.requests += 1;
      try {
        const response = await pool.request({ path: '/api/health', method: 'GET' });
        await response.body.dump();
        if (response.statusCode < 200 || response.statusCode >= 300) result.non2xx += 1;
      } catch (error) {
        const code = (error as { code?: string }).code ?? String(error);
        result.errors[code] = (result.errors[code] ?? 0) + 1;
      }
    }
  };
  const workers = Array.from({ length: CONNECTIONS }, worker);
  const started = Date.now();
  try {
    await sleep(300);
    for (let i = 0; i < SWITCHES; i += 1) {
      const switchStarted = Date.now();
      await switchTraffic(fixture.options(i % 2 === 0 ? 'green' : 'blue', stateDir, { verifyConsecutive: 3 }));
      result.switchMs.push(Date.now() - switchStarted);
      await sleep(Math.max(100, (LOAD_MS - (Date.now() - started)) / (SWITCHES - i)));
    }
  } finally {
    running = false;
    await Promise.all(workers);
    await pool.close();
  }
  return result;
}

describe.each(['socket', 'reload'] as const)('switching under keep-alive load, %s method', (method: SwitchMethod) => {
  let fixture: SwitchFixture;
  let stateDir: string;

  beforeAll(async () => {
    fixture = await startSwitchFixture(method);
    stateDir = await mkdtemp(join(tmpdir(), 'rel-ns-state-'));
  });

  afterAll(async () => {
    await fixture?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it(`${SWITCHES} switches during ${LOAD_MS / 1000} s of load over ${CONNECTIONS} keep-alive connections`, async () => {
    const result = await switchUnderLoad(fixture, stateDir);
    const failed = result.non2xx + Object.values(result.errors).reduce((sum, count) => sum + count, 0);
    const median = [...result.switchMs].sort((a, b) => a - b)[Math.floor(result.switchMs.length / 2)];
    console.log(
      `${method}: ${result.requests} requests, ${failed} failed (non-2xx ${result.non2xx}, errors ${JSON.stringify(result.errors)}), ${SWITCHES} switches, median switch ${median} ms`,
    );
    expect(result.switchMs).toHaveLength(SWITCHES);
    expect(result.requests).toBeGreaterThan(1000);
    if (method === 'socket') {
      expect(result.errors).toEqual({});
      expect(result.non2xx).toBe(0);
    }
  });
});
