import { connectDocker, type DockerClient, pingDocker } from '@rel/docker';

/** The Docker engine named by DOCKER_HOST (or the default socket), checked to answer. */
export async function dockerClient(): Promise<DockerClient> {
  const client = connectDocker();
  await pingDocker(client);
  return client;
}
