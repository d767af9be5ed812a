// The sandbox (`scripts/sandbox`): what tests, benchmarks and test/sandbox-setup.ts know about it.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { RegistryAuth } from '@rel/docker';

/** The repository's root directory (this file is packages/test-utils/{src,dist}/...). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The sandbox registry (basic auth, user `rel`). */
export const SANDBOX_REGISTRY = '127.0.0.1:5000';
/** Its API root: answers 401 without credentials. */
export const SANDBOX_REGISTRY_URL = `http://${SANDBOX_REGISTRY}/v2/`;
/** The sandbox's own nginx (in front of the sandbox's project; tests start nginx instances of their own). */
export const SANDBOX_NGINX_URL = 'http://127.0.0.1:8088';

/** The sample images `scripts/sandbox` pushes to the sandbox registry. */
export const SANDBOX_IMAGES = {
  postgres: `${SANDBOX_REGISTRY}/rel-sample/postgres:15`,
  api: `${SANDBOX_REGISTRY}/rel-sample/api:v1`,
  client: `${SANDBOX_REGISTRY}/rel-sample/client:v1`,
} as const;

/** Every resource a test creates carries this label, so leftovers can be found (the sandbox removes them). */
export const TEST_LABELS = { 'rel.test': '1' } as const;

const PASSWORD_FILE = `${REPO_ROOT}.sandbox/registry/password`;

/** The sandbox registry's password (`scripts/sandbox` writes it to .sandbox/registry/password). */
export function registryPassword(): string {
  return readFileSync(PASSWORD_FILE, 'utf8').trim();
}

/** The sandbox registry's credentials, for the Docker engine. */
export async function sandboxRegistryAuth(): Promise<RegistryAuth> {
  const password = await readFile(PASSWORD_FILE, 'utf8').catch(() => {
    throw new Error(`${PASSWORD_FILE} is missing: run \`bash scripts/sandbox\` first`);
  });
  return { serveraddress: SANDBOX_REGISTRY, username: 'rel', password: password.trim() };
}
