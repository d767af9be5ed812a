import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import { interpolate } from './interpolate.js';
import { loadConfig, parseConfig } from './load.js';

const example = readFileSync(new URL('../../../../examples/sandbox/rel.config.yaml', import.meta.url), 'utf8');

function configError(text: string, env: NodeJS.ProcessEnv = {}): RelError {
  try {
    parseConfig(text, '/etc/rel/rel.config.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(RelError);
    return error as RelError;
  }
  throw new Error('expected a config error');
}

describe('config', () => {
  it('loads the sandbox example with defaults filled in', () => {
    const config = parseConfig(example, '/repo/examples/sandbox/rel.config.yaml', {});
    expect(config.project).toBe('sample');
    expect(config.environments.green).toEqual({ apiPort: 18082, clientPort: 18092, dbPort: 15432 });
    expect(config.database.password).toBe('sandbox-only-db-password');
    expect(config.secrets).toContain('sandbox-only-db-password');
    expect(config.backend.health).toEqual({ path: '/health', timeoutMs: 60_000 });
    expect(config.stateDir).toBe('/repo/.rel/sandbox');
    expect(config.registry.username).toBeUndefined();
  });

  it('takes ${VAR} from the environment and keeps the value secret', () => {
    const text = example.replace(
      'server: 127.0.0.1:5000',
      'server: 127.0.0.1:5000\n  username: bot\n  password: ${REG_TOKEN}',
    );
    const config = parseConfig(text, '/x/rel.config.yaml', { REG_TOKEN: 'tok-123456', REL_DB_PASSWORD: 'db-secret' });
    expect(config.registry.password).toBe('tok-123456');
    expect(config.database.password).toBe('db-secret');
    expect(config.secrets).toEqual(expect.arrayContaining(['tok-123456', 'db-secret']));
  });

  it('names a missing variable and never shows a value', () => {
    const text = example.replace(
      'server: 127.0.0.1:5000',
      'server: 127.0.0.1:5000\n  username: bot\n  password: ${REG_TOKEN}',
    );
    expect(configError(text).message).toMatch(/registry\.password: environment variable REG_TOKEN is not set/);
  });

  it('names a missing required key', () => {
    const error = configError(example.replace(/^images:[\s\S]*?\n\n/m, ''));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(/^\/etc\/rel\/rel\.config\.yaml: images: missing \(expected a mapping\)/);
  });

  it.each([
    ['project: sample', 'project: Sample App', /project: "Sample App" is not valid/],
    ['apiPort: 18082', 'apiPort: 99999', /environments\.green\.apiPort: 99999 is not a port/],
    [
      'apiPort: 18082',
      'apiPort: 18081',
      /environments\.green\.apiPort: port 18081 is already used by environments\.blue\.apiPort/,
    ],
    ['timeout: 60s', 'timeout: soon', /backend\.health\.timeout: "soon" is not a duration/],
    [
      'database: 127.0.0.1:5000/rel-sample/postgres:15',
      'database: postgres',
      /images\.database: "postgres" is not valid \(expected an image reference with a tag\)/,
    ],
    ['name: app', 'name: app; drop table x', /database\.name: "app; drop table x" is not valid/],
    ['stateDir:', 'statedir:', /statedir: unknown key/],
  ])('rejects %s -> %s naming the key', (from, to, pattern) => {
    expect(configError(example.replace(from, to)).message).toMatch(pattern);
  });

  it('reports malformed YAML with its line', () => {
    expect(configError('project: [unclosed\nregistry: {').message).toMatch(/is not valid YAML at line \d+/);
  });

  it('reports a missing file naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rel-config-'));
    expect(() => loadConfig({ file: 'nope.yaml', cwd: dir })).toThrow(
      `config file ${join(dir, 'nope.yaml')} not found`,
    );
  });

  it('uses $REL_CONFIG when --config is not given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rel-config-'));
    writeFileSync(join(dir, 'custom.yaml'), example);
    const config = loadConfig({ cwd: dir, env: { REL_CONFIG: 'custom.yaml' } });
    expect(config.file).toBe(join(dir, 'custom.yaml'));
  });
});

describe('interpolate', () => {
  it('supports defaults and escapes', () => {
    expect(interpolate('${A:-x}-${B}', 'k', { B: 'b' }).value).toBe('x-b');
    expect(interpolate('$${A}', 'k', {}).value).toBe('${A}');
  });
  it('refuses a malformed reference', () => {
    expect(() => interpolate('${not closed', 'k', {})).toThrow(/k: malformed/);
  });
});
