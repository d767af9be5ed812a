import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { normalizeRegistry } from './image-ref.js';
import type { RegistryAuth } from './types.js';

export interface ReadDockerConfigAuthOptions {
  /** The directory holding `config.json`. Default `$DOCKER_CONFIG`, else `~/.docker`. */
  configDir?: string;
}

interface DockerConfigEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
}

/**
 * The credentials `docker login` stored for `registry` in `config.json` (`auths[registry].auth`, base64 of
 * `user:password`, or its `username`/`password` fields). Returns `undefined` when there is no file or no
 * entry, and for credentials kept by a credential helper (`credsStore`, `credHelpers`) or as an identity
 * token: those are not supported. A file that is not JSON, or an entry that cannot be decoded, is RelError
 * CONFIG naming the file and the registry, never the value.
 */
export async function readDockerConfigAuth(
  registry: string,
  options: ReadDockerConfigAuthOptions = {},
): Promise<RegistryAuth | undefined> {
  const dir = options.configDir ?? (process.env.DOCKER_CONFIG || join(homedir(), '.docker'));
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RelError('CONFIG', `cannot read Docker config ${file}: ${(error as Error).message}`, { cause: error });
  }
  let config: { auths?: Record<string, DockerConfigEntry> };
  try {
    config = JSON.parse(text);
  } catch {
    throw new RelError('CONFIG', `Docker config ${file} is not valid JSON`);
  }
  const wanted = normalizeRegistry(registry);
  const key = Object.keys(config?.auths ?? {}).find((name) => normalizeRegistry(name) === wanted);
  if (key === undefined) return undefined;
  const entry = config.auths![key]!;
  const serveraddress = wanted;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw new RelError('CONFIG', `Docker config ${file}: the auth entry for ${key} is not base64 of user:password`);
    }
    return { serveraddress, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { serveraddress, username: entry.username, password: entry.password };
  }
  return undefined;
}
