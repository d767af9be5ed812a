import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PhaseFixture, phaseFixture } from '../../test/phase-fixture.js';
import { writeState } from '../state.js';
import { checkBeforeSwitching, checkTargetCanTakeTraffic, describePending } from './check.js';
import { startSwitch } from './run.js';

let nginx: Server;
let url: string;
let fixture: PhaseFixture | undefined;

beforeAll(async () => {
  // Stands in for nginx's public URL: the checks only need something that answers HTTP.
  nginx = createHttpServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => nginx.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(nginx.address() as AddressInfo).port}/health`;
});

afterAll(async () => {
  nginx.closeAllConnections();
  await new Promise((resolve) => nginx.close(resolve));
});

afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('checkBeforeSwitching', () => {
  it('finds the routing and the state file, and says when they disagree (the config wins)', async () => {
    fixture = await phaseFixture('reload');
    await writeState(fixture.stateFile, {
      live: 'green',
      since: '2025-11-01T10:00:00.000Z',
      previous: null,
      method: 'reload',
    });
    const run = startSwitch(fixture.options({ verifyUrl: url }));
    const checked = await checkBeforeSwitching(run);
    expect(checked.routing).toMatchObject({ method: 'reload', live: 'blue', configPath: fixture.configFile });
    expect(checked.state?.live).toBe('green');
    expect(checked.mismatch).toEqual({ state: 'green', config: 'blue' });
    expect(run).toMatchObject({ auditReady: true, routing: checked.routing });
    expect(fixture.events).toContainEqual(
      expect.objectContaining({
        type: 'log',
        level: 'warn',
        step: 'nginx:check',
        message: expect.stringContaining('state file says green is live'),
      }),
    );
  });

  it('nginx not answering on the public URL: UNREACHABLE, the audit log already usable', async () => {
    fixture = await phaseFixture('reload');
    const run = startSwitch(fixture.options({ verifyUrl: 'http://127.0.0.1:9/health' }));
    await expect(checkBeforeSwitching(run)).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: 'nginx is not running: http://127.0.0.1:9/health refuses connections',
    });
    expect(run.auditReady).toBe(true);
  });

  it('a state directory that is not writable: CONFIG before the audit log counts as usable', async () => {
    fixture = await phaseFixture('reload');
    const run = startSwitch(fixture.options({ verifyUrl: url, stateFile: join(fixture.configFile, 'state.json') }));
    await expect(checkBeforeSwitching(run)).rejects.toMatchObject({ code: 'CONFIG' });
    expect(run.auditReady).toBe(false);
    expect(run.routing?.live).toBe('blue');
  });
});

describe('checkTargetCanTakeTraffic', () => {
  it("refuses with UNHEALTHY and the caller's reason, or the error its check threw", async () => {
    fixture = await phaseFixture('reload');
    const unhealthy = await fixture.start({ checkTarget: async () => ({ ok: false, reason: '2 of 3 containers up' }) });
    await expect(checkTargetCanTakeTraffic(unhealthy, unhealthy.routing!)).rejects.toMatchObject({
      code: 'UNHEALTHY',
      message: 'green is not healthy: 2 of 3 containers up',
    });
    const throwing = await fixture.start({
      checkTarget: async () => {
        throw new Error('docker is away');
      },
    });
    await expect(checkTargetCanTakeTraffic(throwing, throwing.routing!)).rejects.toThrow(
      'green is not healthy: docker is away',
    );
  });

  it('skipTargetCheck (an emergency rollback) does not ask', async () => {
    fixture = await phaseFixture('reload');
    let asked = 0;
    const run = await fixture.start({
      skipTargetCheck: true,
      checkTarget: async () => {
        asked += 1;
        return { ok: false };
      },
    });
    await checkTargetCanTakeTraffic(run, run.routing!);
    expect(asked).toBe(0);
  });

  it("socket method: refuses with UNREACHABLE until nginx listens on the target's socket", async () => {
    fixture = await phaseFixture('socket');
    const run = await fixture.start();
    await expect(checkTargetCanTakeTraffic(run, run.routing!)).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: expect.stringMatching(
        /^green's internal nginx server is not up: .*; add it \(renderSocketRoutingConfig\)/,
      ),
    });
    const listener = createServer(() => undefined);
    await new Promise<void>((resolve) => listener.listen(join(fixture!.socketDir, 'green', 'api.sock'), resolve));
    try {
      await checkTargetCanTakeTraffic(run, run.routing!);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});

describe('describePending', () => {
  it('names the process that left a switch unfinished', () => {
    const pending = {
      from: 'blue',
      to: 'green',
      startedAt: '2025-11-01T11:00:00.000Z',
      pid: 42,
      host: 'ci-1',
    } as const;
    expect(describePending({ live: 'blue', since: '', previous: null, method: 'reload', pending })).toBe(
      'pid 42 on ci-1 (started 2025-11-01T11:00:00.000Z)',
    );
    expect(describePending(undefined)).toBe('an earlier run');
  });
});
