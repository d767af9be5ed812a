// A WaitContext for unit tests of one strategy's check: no engine, the container given as the test wants it.
import type Dockerode from 'dockerode';
import type { DockerClient } from '../src/types.js';
import type { WaitContext } from '../src/wait/strategy.js';

export function fakeContext(
  extra: { container?: Partial<Dockerode.ContainerInspectInfo>; ports?: Record<number, number> } = {},
): WaitContext {
  return {
    client: {} as DockerClient,
    containerId: 'abc123',
    containerName: 'app-1',
    container: { State: { Status: 'running' }, ...extra.container } as Dockerode.ContainerInspectInfo,
    hostPort: (containerPort) => {
      const port = extra.ports?.[containerPort];
      if (port === undefined) throw new Error(`port ${containerPort} not published in this test`);
      return port;
    },
    signal: new AbortController().signal,
  };
}
