import { RelError } from '@rel/core';
import Dockerode from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDocker, engineError, engineMessage, isConnectionError } from './client.js';

describe('connectDocker', () => {
  const saved = process.env.DOCKER_HOST;
  afterEach(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  });

  it('defaults to the local socket', () => {
    delete process.env.DOCKER_HOST;
    const client = connectDocker();
    expect(client.endpoint).toBe('unix:///var/run/docker.sock');
    expect(client.docker.modem).toMatchObject({ socketPath: '/var/run/docker.sock' });
    // an IP literal as Host: Node does not compile its IPv6 pattern to test `localhost` (client.int.test.ts
    // shows the engine answering through it)
    expect(client.docker.modem).toMatchObject({ headers: { host: '127.0.0.1' } });
  });

  it('follows DOCKER_HOST, but an explicit host wins over it', () => {
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:2375';
    expect(connectDocker()).toMatchObject({ endpoint: 'tcp://127.0.0.1:2375' });
    expect(connectDocker().docker.modem).toMatchObject({ host: '127.0.0.1', port: 2375 });
    const local = connectDocker({ host: 'unix:///tmp/nope.sock' });
    expect(local.endpoint).toBe('unix:///tmp/nope.sock');
    expect(local.docker.modem).toMatchObject({ socketPath: '/tmp/nope.sock', host: undefined });
  });

  it("takes the caller's dockerode and describes it", () => {
    const docker = new Dockerode({ socketPath: '/run/user/1000/docker.sock' });
    expect(connectDocker({ docker })).toEqual({ docker, endpoint: 'unix:///run/user/1000/docker.sock' });
  });

  it.each(['ssh://me@host', 'tcp://host', 'unix://', 'docker.sock'])('refuses %j with CONFIG', (host) => {
    expect(() => connectDocker({ host })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('engineError', () => {
  const client = { docker: new Dockerode(), endpoint: 'unix:///var/run/docker.sock' };
  const httpError = (statusCode: number, message: string) =>
    Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), { statusCode, json: { message } });

  it('maps a missing socket to UNREACHABLE naming the endpoint', () => {
    const cause = Object.assign(new Error('connect ENOENT /var/run/docker.sock'), {
      code: 'ENOENT',
      syscall: 'connect',
    });
    expect(isConnectionError(cause)).toBe(true);
    const error = engineError(client, cause, 'listing');
    expect(error).toBeInstanceOf(RelError);
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toBe(
      'cannot reach the Docker engine at unix:///var/run/docker.sock (set DOCKER_HOST or start dockerd): connect ENOENT /var/run/docker.sock',
    );
  });

  it("maps 404 to NOT_FOUND and the rest to STEP_FAILED, in the engine's words", () => {
    expect(engineError(client, httpError(404, 'No such container: x'), 'inspecting x')).toMatchObject({
      code: 'NOT_FOUND',
      message: 'inspecting x failed: No such container: x',
    });
    expect(engineError(client, httpError(500, 'boom\nsecond line'), 'starting x')).toMatchObject({
      code: 'STEP_FAILED',
      message: 'starting x failed: boom second line',
    });
  });

  it("strips dockerode's prefix when the engine sent no JSON", () => {
    expect(engineMessage(new Error('(HTTP code 409) conflict - name in use '))).toBe('name in use');
  });
});
