import { connectDocker, type DockerClient, pingDocker } from '@rel/docker';

/** The Docker engine named by DOCKER_HOST (or the default socket), checked to answer. */
export async function dockerClient(): Promise<DockerClient> {
  const client = connectDocker();
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
