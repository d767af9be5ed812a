import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { formatDuration, RelError } from '@rel/core';
import { normalizeRegistry } from './image-ref.js';
import type { RegistryAuth } from './types.js';

export interface ReadDockerConfigAuthOptions {
  /** The directory holding `config.json`. Default `$DOCKER_CONFIG`, else `~/.docker`. */
  configDir?: string;
  /** How long a credential helper may take to answer. Default 30 s (long enough to unlock a keychain). */
  helperTimeoutMs?: number;
}

interface DockerConfigEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
}

interface DockerConfig {
  auths?: Record<string, DockerConfigEntry>;
  credsStore?: unknown;
  credHelpers?: Record<string, unknown>;
}

const HELPER_TIMEOUT_MS = 30_000;

/**
 * The credentials `docker login` stored for `registry`, found as docker finds them: a credential helper
 * configured in `config.json` for that registry (`credHelpers`), else for all registries (`credsStore`), is
 * run (`docker-credential-<helper> get`); without one, `auths[registry]` (`auth`, base64 of `user:password`,
 * or its `username`/`password` fields). Returns `undefined` when there is no file, no entry, or the helper
 * has no credentials for it, and for an identity token stored in `auths` (not supported). A file that is not
 * JSON, or an entry that cannot be decoded, is RelError CONFIG naming the file and the registry, never the
 * value; a helper that is missing (CONFIG), fails (AUTH) or takes too long (TIMEOUT) is named.
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
  let config: DockerConfig;
  try {
    config = JSON.parse(text);
  } catch {
    throw new RelError('CONFIG', `Docker config ${file} is not valid JSON`);
  }
  const wanted = normalizeRegistry(registry);
  const helper = credentialHelperFor(config, wanted, file);
  if (helper) return runCredentialHelper(helper, wanted, options.helperTimeoutMs ?? HELPER_TIMEOUT_MS);
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

interface CredentialHelper {
  /** `docker-credential-<name>`. */
  program: string;
  /** Where it was configured, for messages: `credHelpers["ghcr.io"] in /root/.docker/config.json`. */
  configuredAs: string;
}

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The helper docker would ask for `registry`: its own in `credHelpers`, else `credsStore`. */
function credentialHelperFor(config: DockerConfig, registry: string, file: string): CredentialHelper | undefined {
  const helpers = config?.credHelpers && typeof config.credHelpers === 'object' ? config.credHelpers : {};
  const key = Object.keys(helpers).find((name) => normalizeRegistry(name) === registry);
  const [name, configuredAs] =
    key !== undefined
      ? [helpers[key], `credHelpers[${JSON.stringify(key)}] in ${file}`]
      : [config?.credsStore, `credsStore in ${file}`];
  if (name === undefined || name === '') return undefined;
  if (typeof name !== 'string' || !HELPER_NAME.test(name)) {
    throw new RelError(
      'CONFIG',
      `Docker config: ${configuredAs} is not a credential helper name: ${JSON.stringify(name)}`,
    );
  }
  return { program: `docker-credential-${name}`, configuredAs };
}

/**
 * Runs `<helper> get` as docker does: the server on its standard input, the answer as JSON
 * (`{ ServerURL, Username, Secret }`) on its standard output. "credentials not found" is no credentials.
 */
async function runCredentialHelper(
  helper: CredentialHelper,
  registry: string,
  timeoutMs: number,
): Promise<RegistryAuth | undefined> {
  // Docker Hub's credentials are stored under its legacy address, as `docker login` stores them.
  const server = registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
  const named = `credential helper ${helper.program} (${helper.configuredAs})`;
  const run = await runHelper(helper.program, server, timeoutMs).catch((error: NodeJS.ErrnoException) => {
    const why =
      error.code === 'ENOENT'
        ? 'is not installed (not found on PATH)'
        : `cannot be run (${error.code ?? error.message})`;
    throw new RelError('CONFIG', `${named} ${why}`, { cause: error, details: { helper: helper.program } });
  });
  if (run.timedOut) {
    throw new RelError('TIMEOUT', `${named} did not answer within ${formatDuration(timeoutMs)} for ${server}`, {
      details: { helper: helper.program },
    });
  }
  if (run.code !== 0) {
    // helpers write their errors on standard output (docker reads nothing else), some on standard error
    const said = firstLine(run.stdout) || firstLine(run.stderr);
    // the protocol's own words for "nothing stored for this server"
    if (/credentials not found/i.test(said)) return undefined;
    const how = run.code === null ? `was killed by ${run.signal}` : `exited with ${run.code}`;
    throw new RelError('AUTH', `${named} ${how} for ${server}${said ? `: ${said}` : ''}`, {
      details: { helper: helper.program },
    });
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = JSON.parse(run.stdout);
  } catch {
    // never echoed: it may hold the secret
    throw new RelError('AUTH', `${named} answered ${server} with something that is not its JSON`, {
      details: { helper: helper.program },
    });
  }
  const { Username: username, Secret: password } = answer ?? {};
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new RelError('AUTH', `${named} answered ${server} without Username and Secret`, {
      details: { helper: helper.program },
    });
  }
  if (username === '' && password === '') return undefined;
  if (username === '<token>') {
    throw new RelError(
      'AUTH',
      `${named} holds an identity token for ${server}, which is not supported: log in with a user and password (or token as password)`,
      { details: { helper: helper.program } },
    );
  }
  return { serveraddress: registry, username, password };
}

interface HelperRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const HELPER_OUTPUT_MAX = 1 << 20;

/**
 * Runs `program get` with `input` on its standard input; rejects only when it cannot be started. Past
 * `timeoutMs` (or 1 MiB of output) it is killed and the run ends then, whatever its children still hold open.
 */
function runHelper(program: string, input: string, timeoutMs: number): Promise<HelperRun> {
  // loaded here: most runs need no helper, and child_process costs start-up CPU
  const { spawn } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const output = { stdout: [] as Buffer[], stderr: [] as Buffer[], bytes: 0 };
    let settled = false;
    const finish = (run: Omit<HelperRun, 'stdout' | 'stderr'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
      resolve({ ...run, stdout: text(output.stdout), stderr: text(output.stderr) });
    };
    const kill = (timedOut: boolean) => {
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      finish({ code: null, signal: 'SIGKILL', timedOut });
    };
    const timer = setTimeout(() => kill(true), timeoutMs);
    for (const name of ['stdout', 'stderr'] as const) {
      child[name].on('data', (chunk: Buffer) => {
        output[name].push(chunk);
        output.bytes += chunk.length;
        if (output.bytes > HELPER_OUTPUT_MAX) kill(false);
      });
    }
    // a helper that exits without reading its input: not an error of ours
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.once('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => finish({ code, signal, timedOut: false }));
  });
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const trimmed = line.trim();
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}...` : trimmed;
}
