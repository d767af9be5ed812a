// A pull from the sandbox registry (htpasswd) with the credentials a credential helper keeps, as docker does
// with `credsStore`: the helper is a real executable on PATH speaking docker's protocol.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_IMAGES, SANDBOX_REGISTRY, sandboxRegistryAuth } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, pingDocker } from './client.js';
import { pullImage } from './pull.js';

const client = connectDocker();
let dir: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  await pingDocker(client);
  const auth = await sandboxRegistryAuth();
  dir = await mkdtemp(join(tmpdir(), 'reltest-docker-helper-'));
  const bin = join(dir, 'bin');
  await mkdir(bin);
  // the secret lives in a file of its own (0600), as a keychain would keep it; the helper prints it as JSON
  await writeFile(join(dir, 'secret.json'), JSON.stringify({ Username: auth.username, Secret: auth.password }), {
    mode: 0o600,
  });
  const helper = `#!/bin/sh
[ "$1" = get ] || exit 1
server=$(cat)
echo "$server" >> "${dir}/asked"
if [ "$server" = "${SANDBOX_REGISTRY}" ]; then cat "${dir}/secret.json"; exit 0; fi
echo "credentials not found in native keychain"; exit 1
`;
  await writeFile(join(bin, 'docker-credential-reltest'), helper);
  await chmod(join(bin, 'docker-credential-reltest'), 0o755);
  process.env.PATH = `${bin}:${savedPath}`;
  for (const [name, config] of Object.entries({
    store: { credsStore: 'reltest' },
    own: { credsStore: 'reltest-not-installed', credHelpers: { [SANDBOX_REGISTRY]: 'reltest' } },
  })) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'config.json'), JSON.stringify(config));
  }
});

afterAll(async () => {
  process.env.PATH = savedPath;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pullImage with a credential helper (credsStore, credHelpers)', () => {
  it("pulls with the helper's credentials", async () => {
    const result = await pullImage(client, SANDBOX_IMAGES.client, { configDir: join(dir, 'store') });
    expect(result.ref).toBe(SANDBOX_IMAGES.client);
    expect(await readFile(join(dir, 'asked'), 'utf8')).toBe(`${SANDBOX_REGISTRY}\n`);
  });

  it("the registry's own helper (credHelpers) comes before credsStore", async () => {
    const result = await pullImage(client, SANDBOX_IMAGES.client, { configDir: join(dir, 'own') });
    expect(result.ref).toBe(SANDBOX_IMAGES.client);
  });
});
