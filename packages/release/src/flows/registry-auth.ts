import type { RegistryAuth } from '@rel/docker';
import { readDockerConfigAuth, registryOfImage } from '@rel/docker';
import type { RelConfig } from '../config/schema.js';

/**
 * Credentials for the registry an image lives in: the config's explicit ones, else Docker's config.json (whose
 * password joins `config.secrets`, which every output redacts).
 */
export async function registryAuthFor(config: RelConfig, image: string): Promise<RegistryAuth | undefined> {
  const registry = registryOfImage(image);
  const { server, username, password, dockerConfig } = config.registry;
  if (registry === server && username !== undefined && password !== undefined) {
    return { serveraddress: server, username, password };
  }
  const auth = await readDockerConfigAuth(registry, dockerConfig === undefined ? {} : { configDir: dockerConfig });
  // a password from Docker's config.json is as secret as one in rel.config.yaml: never printed either
  if (auth?.password && !config.secrets.includes(auth.password)) config.secrets.push(auth.password);
  return auth;
}
