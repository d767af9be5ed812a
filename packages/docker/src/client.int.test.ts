import { caught } from '@rel/test-utils';
import { describe, expect, it } from 'vitest';
import { connectDocker, pingDocker } from './client.js';
import { findContainers, removeContainers } from './containers.js';
import { execInContainer } from './exec.js';
import { tailLogs } from './logs.js';
import { pullImage } from './pull.js';
import { ensureNetwork } from './resources.js';
import { runContainer } from './run.js';
import { containerStats } from './stats.js';
import { Wait, waitForReady } from './wait.js';

describe('the Docker engine', () => {
  it('answers on the default socket', async () => {
    await expect(pingDocker(connectDocker())).resolves.toBeUndefined();
  });

  it('a TCP endpoint where nothing listens is UNREACHABLE naming it', async () => {
    const error = await caught(pingDocker(connectDocker({ host: 'tcp://127.0.0.1:1' })));
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toMatch(/^cannot reach the Docker engine at tcp:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/);
  });

  it('every call against a socket that does not exist is UNREACHABLE naming it', async () => {
    const client = connectDocker({ host: 'unix:///tmp/nope.sock' });
    const calls: [string, () => Promise<unknown>][] = [
      ['pingDocker', () => pingDocker(client)],
      ['findContainers', () => findContainers(client, { project: 'x' })],
      ['pullImage', () => pullImage(client, '127.0.0.1:5000/rel-sample/api:v1', { auth: false })],
      ['runContainer', () => runContainer(client, { name: 'reltest-docker-nope', image: 'x' })],
      ['removeContainers', () => removeContainers(client, ['abc'])],
      ['ensureNetwork', () => ensureNetwork(client, 'reltest-docker-nope')],
      ['containerStats', () => containerStats(client, 'abc')],
      ['tailLogs', () => tailLogs(client, 'abc')],
      ['execInContainer', () => execInContainer(client, 'abc', ['true'])],
      ['waitForReady', () => waitForReady(client, 'abc', Wait.forHealthCheck())],
    ];
    for (const [name, call] of calls) {
      const error = await caught(call());
      expect({ name, code: error.code }).toEqual({ name, code: 'UNREACHABLE' });
      expect(error.message).toMatch(
        /^cannot reach the Docker engine at unix:\/\/\/tmp\/nope\.sock \(set DOCKER_HOST or start dockerd\): connect ENOENT \/tmp\/nope\.sock$/,
      );
    }
  });
});
