import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { fakeContext } from '../../test/wait-context.js';
import { Wait } from '../wait.js';

const withHealth = (health: Partial<Dockerode.ContainerInspectInfo['State']['Health']> | undefined) =>
  fakeContext({
    container: { State: { Status: 'running', Health: health } as Dockerode.ContainerInspectInfo['State'] },
  });

describe('Wait.forHealthCheck', () => {
  it('is ready when the health check reports healthy, and not yet while it is starting', async () => {
    const check = Wait.forHealthCheck().start();
    expect(Wait.forHealthCheck().description).toBe('its health check to report healthy');
    await expect(check(withHealth({ Status: 'healthy' }))).resolves.toBe(true);
    const notYet = await check(withHealth({ Status: 'starting' })).catch((error: unknown) => error);
    expect(notYet).toBeInstanceOf(Error);
    expect(notYet).not.toHaveProperty('code');
    expect((notYet as Error).message).toBe('health: starting');
  });

  it('unhealthy ends the wait with UNHEALTHY and the last check output on one line', async () => {
    const check = Wait.forHealthCheck().start();
    const log = [{ Start: '', End: '', ExitCode: 1, Output: 'curl: (7) Failed\nto connect' }];
    await expect(check(withHealth({ Status: 'unhealthy', Log: log }))).rejects.toMatchObject({
      code: 'UNHEALTHY',
      message: 'container app-1 became unhealthy (last check: curl: (7) Failed to connect)',
    });
  });

  it('a container without a health check is CONFIG', async () => {
    await expect(Wait.forHealthCheck().start()(withHealth(undefined))).rejects.toMatchObject({
      code: 'CONFIG',
      message: 'container app-1 has no health check; wait for something else',
    });
  });
});
