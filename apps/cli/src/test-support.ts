import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
export const relBin = join(root, 'apps/cli/bin/rel.js');

export interface TestProject {
  project: string;
  dir: string;
  configFile: string;
  ports: {
    blue: { apiPort: number; clientPort: number; dbPort: number };
    green: { apiPort: number; clientPort: number; dbPort: number };
  };
  /** Runs the built `rel` with this project's config. */
  rel(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Removes every container, network and volume of the project. */
  cleanup(): Promise<void>;
}

let next = 0;

const flow = (o: Record<string, number>) =>
  `{ ${Object.entries(o)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;

/**
 * A project of its own for one test file: the sandbox example with another name, other ports and the
 * `rel.test` label (so `scripts/sandbox` removes leftovers). `edit` rewrites the YAML text.
 */
export function testProject(name: string, edit: (yaml: string) => string = (y) => y): TestProject {
  const project = `reltest-${name}-${process.pid % 10000}${next++}`;
  const base = 30000 + ((process.pid * 7 + next * 10) % 2000) * 10;
  const ports = {
    blue: { apiPort: base + 1, clientPort: base + 2, dbPort: base + 3 },
    green: { apiPort: base + 4, clientPort: base + 5, dbPort: base + 6 },
  };
  const dir = mkdtempSync(join(tmpdir(), `${project}-`));
  const configFile = join(dir, 'rel.config.yaml');
  const yaml = readFileSync(join(root, 'examples/sandbox/rel.config.yaml'), 'utf8')
    .replace('project: sample', `project: ${project}`)
    .replace(/blue: +\{[^}]*\}/, `blue: ${flow(ports.blue)}`)
    .replace(/green: +\{[^}]*\}/, `green: ${flow(ports.green)}`)
    .replace(/^stateDir:.*$/m, `stateDir: ${dir}/state\nlabels:\n  rel.test: "1"`);
  writeFileSync(configFile, edit(yaml));
  return {
    project,
    dir,
    configFile,
    ports,
    async rel(args, env = {}) {
      try {
        const { stdout, stderr } = await exec(process.execPath, [relBin, ...args, '--config', configFile], {
          env: { ...process.env, CI: '1', ...env },
          maxBuffer: 1 << 24,
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
      }
    },
    async cleanup() {
      await removeProject(project);
    },
  };
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec('docker', args, { maxBuffer: 1 << 24 });
  return stdout.trim();
}

export async function removeProject(project: string): Promise<void> {
  const ids = (await docker('ps', '-aq', '--filter', `label=rel.project=${project}`)).split('\n').filter(Boolean);
  // "already in progress" / "no such container": someone else is removing it, which is what we want
  if (ids.length > 0) await docker('rm', '-f', '-v', ...ids).catch(() => undefined);
  for (const kind of ['network', 'volume'] as const) {
    const names = (await docker(kind, 'ls', '-q', '--filter', `label=rel.project=${project}`))
      .split('\n')
      .filter(Boolean);
    if (names.length > 0) await docker(kind, 'rm', ...names).catch(() => undefined);
  }
}

/** Container IDs of a project's environment by role, from the engine. */
export async function containerIds(project: string, env: string): Promise<Record<string, string>> {
  const out = await docker(
    'ps',
    '-a',
    '--filter',
    `label=rel.project=${project}`,
    '--filter',
    `label=rel.environment=${env}`,
    '--format',
    '{{.Label "rel.role"}} {{.ID}}',
  );
  return Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

export function registryPassword(): string {
  return readFileSync(join(root, '.sandbox/registry/password'), 'utf8').trim();
}
