import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import { interpolate } from './interpolate.js';
import { loadConfig, parseConfig } from './load.js';
import { parseShare, parseSize } from './units.js';

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

  it('leaves the settle time of the verification to the method unless it is set', () => {
    const parsed = (text: string) => parseConfig(text, '/x/rel.config.yaml', {}).nginx?.verify;
    expect(parsed(example)?.settleMs).toBeUndefined();
    expect(parsed(example.replace('timeout: 10s }', 'timeout: 10s, settle: 750ms }'))?.settleMs).toBe(750);
    expect(parsed(example.replace('timeout: 10s }', 'timeout: 10s, settle: 0 }'))?.settleMs).toBe(0);
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
    expect(error.message).toMatch(
      /^\/etc\/rel\/rel\.config\.yaml: 4 problems: images: missing \(expected a mapping\);/,
    );
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
    ['timeout: 10s }', 'timeout: 10s, settle: -1s }', /nginx\.verify\.settle: "-1s" is not a duration/],
    ['timeout: 10s }', 'timeout: 10s, settle: soon }', /nginx\.verify\.settle: "soon" is not a duration/],
    [
      'publicUrl: http://127.0.0.1:8088',
      'publicUrl: http://ops:hunter2@127.0.0.1:8088',
      /nginx\.publicUrl: carries user:password@ \(the probes send no credentials; drop them\)$/,
    ],
  ])('rejects %s -> %s naming the key', (from, to, pattern) => {
    expect(configError(example.replace(from, to)).message).toMatch(pattern);
  });

  it('checks at load what used to fail later: replicate.parallel, the reload container, a timeout over the interval', () => {
    const base = example.replace('\nrelease:\n', '\nreplicate: { parallel: 5000 }\nrelease:\n');
    expect(configError(base).message).toMatch(
      /replicate\.parallel: 5000 is not valid \(expected a whole number from 1 to 32\)/,
    );
    const reload = example.replace(
      / {2}reload:\n {4}command: \[[^\n]*\n/,
      '  reload: { container: "nginx; rm -rf /" }\n',
    );
    expect(configError(reload).message).toMatch(/nginx\.reload\.container: "nginx; rm -rf \/" is not a container name/);
    const slow = example.replace('stateDir:', 'monitor: { interval: 10s, timeout: 30s }\nstateDir:');
    expect(configError(slow).message).toMatch(/monitor\.timeout: "30s" is longer than monitor\.interval/);
  });

  it('lists every problem at once, on one line, and each in details', () => {
    const error = configError(
      example.replace('project: sample', 'project: Sample App').replace('apiPort: 18082', 'apiPort: 99999'),
    );
    expect(error.message).toMatch(/^\/etc\/rel\/rel\.config\.yaml: 2 problems: .+; .+$/);
    expect(error.message).toMatch(/project: "Sample App" is not valid/);
    expect(error.message).toMatch(/environments\.green\.apiPort: 99999 is not a port/);
    expect(error.message).not.toContain('\n');
    expect(error.details?.problems).toHaveLength(2);
  });

  it('without stateDir, every workspace of a project shares one state directory (its lock and journal)', () => {
    const bare = example.replace(/^stateDir:.*\n/m, '');
    const env = { REL_STATE_HOME: '/srv/rel-state' };
    const a = parseConfig(bare, '/var/lib/jenkins/workspace/backend-release/rel.config.yaml', env);
    const b = parseConfig(bare, '/home/ops/checkout/rel.config.yaml', env);
    expect(a.stateDir).toBe('/srv/rel-state/sample');
    expect(b.stateDir).toBe(a.stateDir);
    expect(parseConfig(bare, '/x/rel.config.yaml', { XDG_STATE_HOME: '/home/ops/.state' }).stateDir).toBe(
      process.getuid?.() === 0 ? '/var/lib/rel/sample' : '/home/ops/.state/rel/sample',
    );
    // a stateDir of the config's own stays relative to the config file
    expect(parseConfig(example, '/repo/examples/sandbox/rel.config.yaml', env).stateDir).toBe('/repo/.rel/sandbox');
  });

  it('keeps backend.env values secret by their name or when marked, and never echoes a malformed secret', () => {
    const text = example.replace(
      'dbCheckPath: /items',
      'dbCheckPath: /items\n  env:\n    ConnectionStrings__Default: "Host=db;Password=cs-s3cret"\n    SENTRY: { value: "https://k3y@sentry.example/1", secret: true }\n    LOG_LEVEL: debug',
    );
    const config = parseConfig(text, '/x/rel.config.yaml', {});
    expect(config.backend.env).toEqual({
      ConnectionStrings__Default: 'Host=db;Password=cs-s3cret',
      SENTRY: 'https://k3y@sentry.example/1',
      LOG_LEVEL: 'debug',
    });
    expect(config.secrets).toEqual(
      expect.arrayContaining(['Host=db;Password=cs-s3cret', 'https://k3y@sentry.example/1']),
    );
    expect(config.secrets).not.toContain('debug');
    const malformed = configError(example.replace('${REL_DB_PASSWORD:-sandbox-only-db-password}', '"hunter2${oops"'));
    expect(malformed.message).toMatch(/database\.password: malformed \$\{\.\.\.\} reference/);
    expect(malformed.message).not.toContain('hunter2');
  });

  it('reads a ${VAR} only where a key is known: an unknown key is reported, not its unset variable', () => {
    const error = configError(example.replace('stateDir:', 'extra: ${NOT_SET}\nstateDir:'));
    expect(error.details?.problems).toEqual([expect.stringMatching(/^extra: unknown key \(expected one of project, /)]);
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

describe('monitor and replicate sections', () => {
  it('default to the seed: every 30 s, 3 failures in a row, the textfile in the state directory', () => {
    const config = parseConfig(example, '/repo/examples/sandbox/rel.config.yaml', {});
    expect(config.monitor).toEqual({
      intervalMs: 30_000,
      timeoutMs: 5000,
      threshold: 3,
      textfile: '/repo/.rel/sandbox/monitor/rel_monitor.prom',
    });
    expect(config.replicate).toEqual({ parallel: 4 });
  });

  it('reads every policy option', () => {
    const config = parseConfig(
      `${example}\nmonitor:\n  interval: 10s\n  threshold: 2\n  failures: { count: 3, of: 5 }\n  p95: { above: 800ms }\n  memory: { limit: 512MiB, growth: 50% }\n  textfile: /var/lib/node_exporter/rel.prom\nreplicate: { parallel: 2 }\n`,
      '/repo/rel.config.yaml',
      {},
    );
    expect(config.monitor).toEqual({
      intervalMs: 10_000,
      timeoutMs: 5000,
      threshold: 2,
      failures: { count: 3, of: 5 },
      p95: { aboveMs: 800, window: 10 },
      memory: { limitBytes: 512 * 2 ** 20, growth: 0.5 },
      textfile: '/var/lib/node_exporter/rel.prom',
    });
    expect(config.replicate.parallel).toBe(2);
  });

  it.each([
    ['monitor:\n  interval: 0', /monitor\.interval: "0" is not a duration/],
    ['monitor:\n  threshold: 0', /monitor\.threshold: 0 is not valid \(expected a whole number >= 1\)/],
    ['monitor:\n  failures: { count: 6, of: 5 }', /monitor\.failures: count 6 is more than of 5/],
    ['monitor:\n  memory: { limit: lots }', /monitor\.memory\.limit: "lots" is not a size/],
    ['monitor:\n  p95: { window: 5 }', /monitor\.p95\.above: missing \(expected a duration: 30s, 10m or seconds\)$/],
    ['monitor:\n  failures: { of: 5 }', /monitor\.failures\.count: missing \(expected a whole number >= 1\)$/],
    ['monitor:\n  every: 1s', /monitor\.every: unknown key/],
    ['replicate: { parallel: 0 }', /replicate\.parallel: 0 is not valid/],
  ])('refuses %j', (yaml, message) => {
    expect(configError(`${example}\n${yaml}\n`).message).toMatch(message);
  });

  it('sizes and shares', () => {
    expect(parseSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseSize('800M')).toBe(800 * 2 ** 20);
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize('4096')).toBe(4096);
    expect(() => parseSize('-1M')).toThrow(/is not a size/);
    expect(() => parseSize('12 parsecs')).toThrow(/is not a size/);
    expect(parseShare('50%')).toBe(0.5);
    expect(parseShare('0.25')).toBe(0.25);
    expect(() => parseShare('0%')).toThrow(/is not a share/);
  });
});

describe('config: the release section', () => {
  const parse = (text: string) => parseConfig(text, '/x/rel.config.yaml', {});
  // the example without its own release section
  const bare = example.replace(/^release:\n(?: .*\n)*/m, '');
  it("defaults to the seed's watch (600 s at the monitor interval), no replication, no checks", () => {
    expect(bare).not.toMatch(/^release:/m);
    expect(parse(bare).release).toEqual({
      replicate: false,
      monitorMs: 600_000,
      monitorIntervalMs: 30_000,
      checks: [],
    });
  });
  it("the example's: a 10 minute watch and its smoke check", () => {
    expect(parse(example).release).toEqual({
      replicate: false,
      monitorMs: 600_000,
      monitorIntervalMs: 30_000,
      checks: [{ name: 'smoke', command: ['node', 'checks/smoke.mjs'], timeoutMs: 30_000 }],
    });
  });
  it('reads replicate, the watch and the check commands', () => {
    const config = parse(
      `${bare}\nrelease:\n  replicate: true\n  monitor: 0\n  monitorInterval: 5s\n  checks:\n    - { name: smoke, command: [node, smoke.mjs, --fast] }\n    - { name: e2e, command: [npx, playwright, test], timeout: 5m }\n`,
    );
    expect(config.release).toEqual({
      replicate: true,
      monitorMs: 0,
      monitorIntervalMs: 5000,
      checks: [
        { name: 'smoke', command: ['node', 'smoke.mjs', '--fast'], timeoutMs: 60_000 },
        { name: 'e2e', command: ['npx', 'playwright', 'test'], timeoutMs: 300_000 },
      ],
    });
  });
  it.each([
    ['replicate: yes', /release\.replicate: "yes" is not valid \(expected true or false\)/],
    ['monitor: soon', /release\.monitor: "soon" is not a duration/],
    [
      'checks: [{ name: smoke, command: "curl -f http://x" }]',
      /release\.checks\[0\]\.command: expected a non-empty list of arguments \(a command is never a shell string\)/,
    ],
    ['checks: [{ command: [true] }]', /release\.checks\[0\]\.name: missing/],
    [
      'checks: [{ name: a, command: [true] }, { name: a, command: [false] }]',
      /release\.checks\[1\]\.name: "a" is used twice/,
    ],
    ['checks: [{ name: a, command: [true], retries: 3 }]', /release\.checks\[0\]\.retries: unknown key/],
    ['pause: true', /release\.pause: unknown key/],
  ])('%s: one error naming the key', (line, pattern) => {
    expect(configError(`${bare}\nrelease:\n  ${line}\n`).message).toMatch(pattern);
  });
});
