import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const LIBRARIES = ['core', 'docker', 'postgres', 'db-migrate', 'replicate', 'nginx-switch', 'monitor', 'release'];
const PUBLISHED = [...LIBRARIES.map((l) => `packages/${l}`), 'apps/cli', 'apps/jenkins'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs a command; its output in the error when it fails (the step that failed is named by the test). */
async function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  try {
    return await exec(command, args, {
      cwd: options.cwd,
      // plain text whatever the terminal: the assertions read the tools' messages
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...options.env },
      maxBuffer: 1 << 26,
      timeout: 240_000,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      stripVTControlCharacters(
        `${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
      ),
    );
  }
}

// The release path of the packages, for real: changesets versions them (CHANGELOGs, internal ranges), publishes
// them to a Verdaccio on 127.0.0.1 (storage in a temporary folder, no uplink: never the public registry), a scratch
// project outside the repository installs every library and uses it from TypeScript and plain Node, the CLI and the
// Jenkins adapter install globally and run, and a second release of one library reaches the project by npm update.
describe('publish and upgrade through a registry', () => {
  const work = mkdtempSync(join(tmpdir(), 'rel-publish-'));
  const copy = join(work, 'repo');
  const scratch = join(work, 'scratch');
  let registry: string;
  let verdaccio: ChildProcess;
  let publisherConfig: string;
  let userConfig: string;

  // changesets publishes to npm_config_registry (else the public registry): set it, and the scope's, explicitly
  const changeset = (args: string[]) =>
    run(process.execPath, [join(root, 'node_modules/@changesets/cli/bin.js'), ...args], {
      cwd: copy,
      env: {
        npm_config_userconfig: publisherConfig,
        npm_config_registry: registry,
        'npm_config_@rel:registry': registry,
      },
    });
  const npm = (args: string[], cwd = scratch) => run('npm', args, { cwd, env: { npm_config_userconfig: userConfig } });
  const version = (dir: string) => JSON.parse(readFileSync(join(copy, dir, 'package.json'), 'utf8')).version as string;

  beforeAll(async () => {
    const port = await freePort();
    registry = `http://127.0.0.1:${port}/`;
    const config = join(work, 'verdaccio.yaml');
    writeFileSync(
      config,
      `storage: ${join(work, 'storage')}
auth:
  htpasswd:
    file: ${join(work, 'htpasswd')}
    max_users: 10
uplinks: {}
packages:
  '@rel/*':
    access: $all
    publish: $authenticated
  '**':
    access: $all
web:
  enable: false
log: { type: stdout, format: pretty, level: warn }
`,
    );
    verdaccio = spawn(
      process.execPath,
      [join(root, 'node_modules/verdaccio/bin/verdaccio'), '--config', config, '--listen', `127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let started = false;
    for (let i = 0; i < 150 && !started; i++) {
      started = await fetch(`${registry}-/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (!started) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(started, 'Verdaccio answers /-/ping').toBe(true);
    const password = randomBytes(12).toString('hex');
    const user = await fetch(`${registry}-/user/org.couchdb.user:rel-ci`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'rel-ci', password }),
    });
    const { token } = (await user.json()) as { token: string };
    expect(token).toBeTruthy();
    const auth = `//127.0.0.1:${port}/:_authToken=${token}\n`;
    publisherConfig = join(work, 'publisher.npmrc');
    writeFileSync(publisherConfig, `registry=${registry}\n${auth}`);
    // a user: only @rel comes from the local registry; everything else from the usual one
    userConfig = join(work, 'user.npmrc');
    // prefer-offline: what comes from the usual registry (typescript, dockerode, ...) is in npm's cache after npm ci;
    // the @rel packages are new to the cache (a new registry address each run)
    writeFileSync(userConfig, `@rel:registry=${registry}\nfund=false\naudit=false\nprefer-offline=true\n`);

    // a copy of the repository as committed, with this run's build, and a git history of its own
    const { stdout } = await exec('git', ['ls-files', '-z'], { cwd: root, maxBuffer: 1 << 24 });
    for (const file of stdout.split('\0').filter(Boolean)) {
      if (!existsSync(join(root, file))) continue;
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(root, file), join(copy, file));
    }
    for (const dir of PUBLISHED) {
      // and in the copy only, every package's publishConfig names the local registry: nothing can reach another
      const file = join(copy, dir, 'package.json');
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      pkg.publishConfig = { ...pkg.publishConfig, registry };
      writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
      for (const built of ['dist', 'dist-bin']) {
        if (existsSync(join(root, dir, built)))
          cpSync(join(root, dir, built), join(copy, dir, built), { recursive: true });
      }
    }
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    const git = (args: string[]) =>
      run('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@127.0.0.1', ...args], { cwd: copy });
    await git(['init', '-q', '-b', 'main']);
    await git(['add', '-A']);
    await git(['commit', '-qm', 'the repository as tested']);
    mkdirSync(scratch);
    writeFileSync(join(scratch, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
  });

  afterAll(async () => {
    verdaccio?.kill();
    rmSync(work, { recursive: true, force: true });
  });

  it('changeset version and publish: every package versioned with a CHANGELOG, on the registry', async () => {
    const before = Object.fromEntries(PUBLISHED.map((dir) => [dir, version(dir)]));
    await changeset(['version']);
    for (const dir of PUBLISHED) {
      expect(version(dir), dir).not.toBe(before[dir]);
      expect(readFileSync(join(copy, dir, 'CHANGELOG.md'), 'utf8')).toMatch(new RegExp(`^## ${version(dir)}`, 'm'));
    }
    // internal dependency ranges follow
    const docker = JSON.parse(readFileSync(join(copy, 'packages/docker/package.json'), 'utf8'));
    expect(docker.dependencies['@rel/core']).toBe(`^${version('packages/core')}`);
    expect(readFileSync(join(copy, '.changeset/config.json'), 'utf8')).toBeTruthy();
    await changeset(['publish']);
    for (const dir of PUBLISHED) {
      const name = JSON.parse(readFileSync(join(copy, dir, 'package.json'), 'utf8')).name;
      const { stdout } = await npm(['view', name, 'version', '--registry', registry]);
      expect(stdout.trim(), name).toBe(version(dir));
    }
  });

  it('a project installs every library and uses it from TypeScript with its types and from plain Node', async () => {
    await npm([
      'install',
      '--no-audit',
      ...LIBRARIES.map((l) => `@rel/${l}`),
      'typescript@~5.9.3',
      '@types/node@^20.19.0',
    ]);
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', strict: true, noEmit: true, skipLibCheck: false } }),
    );
    writeFileSync(
      join(scratch, 'use.ts'),
      `import { parseDuration, RelError } from '@rel/core';
import { connectDocker, pingDocker, validateTag } from '@rel/docker';
import * as migrate from '@rel/db-migrate';
import * as replicate from '@rel/replicate';
import * as nginx from '@rel/nginx-switch';
import * as monitor from '@rel/monitor';
import { loadConfig } from '@rel/release/config';
import { planRelease, RELEASE_STEPS } from '@rel/release';
const ms: number = parseDuration('30s');
const tag: string = validateTag('v1');
const error: RelError = new RelError('BAD_INPUT', 'x');
const steps: readonly string[] = RELEASE_STEPS;
export const used = [ms, tag, error, steps, connectDocker, pingDocker, migrate, replicate, nginx, monitor, loadConfig, planRelease];
`,
    );
    await npm(['exec', '--', 'tsc', '-p', '.']);
    // and the types are real: a misuse fails
    writeFileSync(
      join(scratch, 'misuse.ts'),
      `import { parseDuration } from '@rel/core';\nconst n: string = parseDuration('1s');\n`,
    );
    const misuse = await npm(['exec', '--', 'tsc', '-p', '.']).catch((e: Error) => e.message);
    expect(misuse).toMatch(/misuse\.ts.*Type 'number' is not assignable to type 'string'/);
    rmSync(join(scratch, 'misuse.ts'));
    // plain Node ESM, against the sandbox's engine
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { connectDocker, pingDocker } from '@rel/docker'; const c = connectDocker(); await pingDocker(c); console.log('engine answered');",
      ],
      { cwd: scratch },
    );
    expect(stdout).toMatch(/engine answered/);
  });

  it('npm install -g gives a working rel and rel-jenkins', async () => {
    const prefix = join(work, 'global');
    await npm(['install', '-g', '--no-audit', '--prefix', prefix, '@rel/cli', '@rel/jenkins'], work);
    const rel = join(prefix, 'bin/rel');
    expect((await run(rel, ['--version'], { cwd: work })).stdout.trim()).toBe(`rel ${version('apps/cli')}`);
    expect((await run(rel, ['--help'], { cwd: work })).stdout).toMatch(/rel release/);
    const status = await run(rel, ['status', '--config', join(root, 'examples/sandbox/rel.config.yaml')], {
      cwd: work,
    });
    expect(status.stdout).toMatch(/^live: /m);
    expect((await run(join(prefix, 'bin/rel-jenkins'), ['--help'], { cwd: work })).stdout).toMatch(
      /usage: rel-jenkins/,
    );
  });

  it('a second release of a library reaches the project by npm update, and its CHANGELOG says what changed', async () => {
    const first = version('packages/core');
    writeFileSync(
      join(copy, 'packages/core/src/index.ts'),
      `${readFileSync(join(copy, 'packages/core/src/index.ts'), 'utf8')}export const UPGRADE_PROBE = 'the second release';\n`,
    );
    await run(join(root, 'node_modules/.bin/tsup'), [], { cwd: join(copy, 'packages/core') });
    writeFileSync(
      join(copy, '.changeset/upgrade-probe.md'),
      "---\n'@rel/core': patch\n---\n\nAdds `UPGRADE_PROBE` (the publish test's second release).\n",
    );
    await changeset(['version']);
    const second = version('packages/core');
    expect(second).not.toBe(first);
    await changeset(['publish']);
    // --prefer-online: the registry's list of @rel/core versions changed since the first install
    await npm(['update', '--no-audit', '--prefer-online', '@rel/core']);
    const installed = join(scratch, 'node_modules/@rel/core');
    expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version).toBe(second);
    expect(readFileSync(join(installed, 'CHANGELOG.md'), 'utf8')).toMatch(
      new RegExp(`## ${second.replace(/\./g, '\\.')}[\\s\\S]*Adds \`UPGRADE_PROBE\``),
    );
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', "import { UPGRADE_PROBE } from '@rel/core'; console.log(UPGRADE_PROBE);"],
      { cwd: scratch },
    );
    expect(stdout.trim()).toBe('the second release');
  });

  it('a change to a package without a changeset is caught by changeset status', async () => {
    const git = (args: string[]) =>
      run('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@127.0.0.1', ...args], { cwd: copy });
    await git(['add', '-A']);
    await git(['commit', '-qm', 'second release']);
    await git(['checkout', '-qb', 'feature']);
    writeFileSync(
      join(copy, 'packages/monitor/src/index.ts'),
      `${readFileSync(join(copy, 'packages/monitor/src/index.ts'), 'utf8')}// changed without a changeset\n`,
    );
    await git(['commit', '-qam', 'a change without a changeset']);
    const status = await changeset(['status', '--since=main']).then(
      () => 'passed',
      (e: Error) => e.message,
    );
    expect(status).toMatch(/error Some packages have been changed but no changesets were found\./);
  });
});
