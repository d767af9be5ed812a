import { connectDocker, type DockerClient, pingDocker } from '@rel/docker';
import { currentRunSignal } from '../cli.js';

/**
 * The Docker engine named by DOCKER_HOST (or the default socket; TLS from DOCKER_TLS_VERIFY and
 * DOCKER_CERT_PATH), checked to answer. SIGINT/SIGTERM interrupt whatever call to it is in flight.
 */
export async function dockerClient(): Promise<DockerClient> {
  const signal = currentRunSignal();
  const client = connectDocker(signal ? { signal } : {});
  await pingDocker(client);
  return client;
}

/** `dockerClient()` on first call, the same client after: arguments are checked before the engine is asked. */
export function lazyDockerClient(): () => Promise<DockerClient> {
  let client: Promise<DockerClient> | undefined;
  return () => {
    client ??= dockerClient();
    return client;
  };
}
