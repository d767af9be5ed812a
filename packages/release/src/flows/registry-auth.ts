import type { RegistryAuth } from '@rel/docker';
import { readDockerConfigAuth, registryOfImage } from '@rel/docker';
import type { RelConfig } from '../config/schema.js';

/** Credentials for the registry an image lives in: the config's explicit ones, else Docker's config.json. */
export async function registryAuthFor(config: RelConfig, image: string): Promise<RegistryAuth | undefined> {
  const registry = registryOfImage(image);
  const { server, username, password, dockerConfig } = config.registry;
  if (registry === server && username !== undefined && password !== undefined) {
    return { serveraddress: server, username, password };
  }
  return readDockerConfigAuth(registry, dockerConfig === undefined ? {} : { configDir: dockerConfig });
}
