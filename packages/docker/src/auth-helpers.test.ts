// Docker credential helpers (`credsStore`, `credHelpers` in config.json), run for real: small executables on
// PATH speaking docker's protocol (`docker-credential-<name> get`, the server on stdin, JSON on stdout).
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caught } from '@rel/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readDockerConfigAuth } from './auth.js';

let dir: string;
let bin: string;
let configDir: string;
let configFile: string;
const savedPath = process.env.PATH;

const HELPERS: Record<string, string> = {
  // answers for two registries, "not found" for the rest; records what it was asked
  fake: `#!/bin/sh
[ "$1" = get ] || { echo "unsupported action: $1"; exit 1; }
server=$(cat)
printf '%s %s\\n' "$1" "$server" >> "$(dirname "$0")/asked"
case "$server" in
  127.0.0.1:5000) printf '{"ServerURL":"%s","Username":"rel","Secret":"s3cret-from-helper"}\\n' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hub","Secret":"hub-s3cret"}\\n' "$server" ;;
  tokens.example) printf '{"ServerURL":"%s","Username":"<token>","Secret":"id-s3cret"}\\n' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
  locked: `#!/bin/sh
cat >/dev/null
echo 'error getting credentials - err: exit status 1, out: \`keychain is locked\`'
exit 1
`,
  garbage: `#!/bin/sh
cat >/dev/null
echo '{"Username":"rel","Secret":"s3cret-but-cut'
`,
  slow: `#!/bin/sh
exec sleep 30
`,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-docker-helpers-'));
  bin = join(dir, 'bin');
  await mkdir(bin);
  for (const [name, script] of Object.entries(HELPERS)) {
    await writeFile(join(bin, `docker-credential-${name}`), script);
    await chmod(join(bin, `docker-credential-${name}`), 0o755);
  }
  process.env.PATH = `${bin}:${savedPath}`;
});

afterAll(async () => {
  process.env.PATH = savedPath;
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  configDir = await mkdtemp(join(dir, 'config-'));
  configFile = join(configDir, 'config.json');
  await rm(join(bin, 'asked'), { force: true });
});

const write = (config: unknown) => writeFile(configFile, JSON.stringify(config));
const read = (registry: string, helperTimeoutMs?: number) =>
  readDockerConfigAuth(registry, { configDir, ...(helperTimeoutMs ? { helperTimeoutMs } : {}) });
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('readDockerConfigAuth with credential helpers', () => {
  it('asks the credsStore helper: `get`, the server on its standard input', async () => {
    await write({ auths: { '127.0.0.1:5000': {} }, credsStore: 'fake' });
    expect(await read('127.0.0.1:5000')).toEqual({
      serveraddress: '127.0.0.1:5000',
      username: 'rel',
      password: 's3cret-from-helper',
    });
    expect(await readFile(join(bin, 'asked'), 'utf8')).toBe('get 127.0.0.1:5000\n');
  });

  it("a registry's own helper (credHelpers) comes before credsStore and before auths", async () => {
    await write({
      auths: { '127.0.0.1:5000': { auth: b64('from-file:pw') } },
      credsStore: 'locked',
      credHelpers: { '127.0.0.1:5000': 'fake' },
    });
    expect(await read('127.0.0.1:5000')).toMatchObject({ username: 'rel' });
  });

  it("Docker Hub is asked for under docker's legacy address", async () => {
    await write({ credsStore: 'fake' });
    expect(await read('docker.io')).toEqual({ serveraddress: 'docker.io', username: 'hub', password: 'hub-s3cret' });
    expect(await readFile(join(bin, 'asked'), 'utf8')).toBe('get https://index.docker.io/v1/\n');
  });

  it('"credentials not found" is no credentials, even with an old entry in auths (the store decides)', async () => {
    await write({ auths: { 'ghcr.io': { auth: b64('stale:pw') } }, credsStore: 'fake' });
    expect(await read('ghcr.io')).toBeUndefined();
  });

  it('a helper that is not installed is CONFIG naming it and where it is configured', async () => {
    await write({ credHelpers: { 'ghcr.io': 'nope' } });
    expect(await caught(read('ghcr.io'))).toMatchObject({
      code: 'CONFIG',
      message: `credential helper docker-credential-nope (credHelpers["ghcr.io"] in ${configFile}) is not installed (not found on PATH)`,
    });
  });

  it('a helper that fails is AUTH with its own one-line words', async () => {
    await write({ credsStore: 'locked' });
    expect(await caught(read('127.0.0.1:5000'))).toMatchObject({
      code: 'AUTH',
      message: `credential helper docker-credential-locked (credsStore in ${configFile}) exited with 1 for 127.0.0.1:5000: error getting credentials - err: exit status 1, out: \`keychain is locked\``,
    });
  });

  it('a helper that does not answer in time is killed: TIMEOUT', async () => {
    await write({ credsStore: 'slow' });
    const started = performance.now();
    expect(await caught(read('127.0.0.1:5000', 300))).toMatchObject({
      code: 'TIMEOUT',
      message: `credential helper docker-credential-slow (credsStore in ${configFile}) did not answer within 300ms for 127.0.0.1:5000`,
    });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('an answer that is not its JSON, or an identity token, is an error that never echoes the secret', async () => {
    await write({ credsStore: 'garbage' });
    const garbage = await caught(read('127.0.0.1:5000'));
    expect(garbage).toMatchObject({
      code: 'AUTH',
      message: `credential helper docker-credential-garbage (credsStore in ${configFile}) answered 127.0.0.1:5000 with something that is not its JSON`,
    });
    await write({ credsStore: 'fake' });
    const token = await caught(read('tokens.example'));
    expect(token).toMatchObject({ code: 'AUTH' });
    expect(token.message).toMatch(/holds an identity token for tokens\.example, which is not supported/);
    for (const error of [garbage, token]) expect(error.message).not.toMatch(/s3cret/);
  });

  it('refuses a helper name that is not one (a path)', async () => {
    await write({ credsStore: '../../bin/sh' });
    expect(await caught(read('127.0.0.1:5000'))).toMatchObject({
      code: 'CONFIG',
      message: `Docker config: credsStore in ${configFile} is not a credential helper name: "../../bin/sh"`,
    });
  });
});
