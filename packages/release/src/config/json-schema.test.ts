import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema } from './json-schema.js';
import { parseConfig } from './load.js';

// The JSON Schema shipped as @rel/release/rel.config.schema.json, checked as an editor checks a file with it
// (yaml-language-server validates the parsed YAML with a JSON Schema validator; here ajv, draft 2020-12).

const shipped = fileURLToPath(new URL('../../rel.config.schema.json', import.meta.url));
const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
let validator: ValidateFunction | undefined;
/** The shipped file, compiled as an editor would (read once the first test has checked it is current). */
function validate(data: unknown): ErrorObject[] {
  validator ??= new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true }).compile(shippedSchema());
  return validator(data) ? [] : (validator.errors ?? []);
}
const shippedSchema = () => JSON.parse(readFileSync(shipped, 'utf8'));

/** Every example config in the repository. */
const examples = execFileSync(
  'git',
  ['ls-files', '--', 'examples/**/rel.config.yaml', 'examples/**/*.rel.config.yaml'],
  {
    cwd: repo,
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter(Boolean);
const example = readFileSync(`${repo}/examples/sandbox/rel.config.yaml`, 'utf8');

function errors(yaml: string): ErrorObject[] {
  return validate(parse(yaml));
}

describe('the shipped JSON Schema of rel.config.yaml', () => {
  it('is the one the loader is made of (UPDATE_CONFIG_SCHEMA=1 rewrites it)', () => {
    const current = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_CONFIG_SCHEMA) writeFileSync(shipped, current);
    expect(
      readFileSync(shipped, 'utf8'),
      'packages/release/rel.config.schema.json is stale: UPDATE_CONFIG_SCHEMA=1 npx vitest run --project unit packages/release/src/config/json-schema.test.ts',
    ).toBe(current);
  });

  it('accepts every example config, which points editors at it', () => {
    expect(examples).toContain('examples/sandbox/rel.config.yaml');
    for (const file of examples) {
      const text = readFileSync(`${repo}/${file}`, 'utf8');
      expect(errors(text), file).toEqual([]);
      const line = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
      expect(line, `${file}: its first line names the schema`).not.toBeNull();
      expect(text.startsWith(line![0]), file).toBe(true);
      expect(resolve(repo, dirname(file), line![1]!)).toBe(shipped);
    }
  });

  it('accepts what the loader accepts: ${VAR} wherever a value is, numbers as text, empty sections, every key', () => {
    const texts = [
      example
        .replace('apiPort: 18082', 'apiPort: "${API_PORT:-18082}"')
        .replace('project: sample', 'project: ${PROJECT:-sample}'),
      example.replace('timeout: 60s', 'timeout: 90').replace('method: auto', 'method: "${METHOD:-reload}"'),
      `${example}\nmonitor:\nreplicate:\nnotifications:\n`,
      `${example.replace(/^release:\n(?: .*\n)*/m, '')}
monitor:
  interval: 10s
  timeout: 2s
  threshold: "2"
  failures: { count: 3, of: 5 }
  p95: { above: 800ms, window: 20 }
  memory: { limit: 512MiB, growth: 50% }
  textfile: rel.prom
replicate: { parallel: 8 }
release:
  replicate: "true"
  monitor: 0
  monitorInterval: 5s
  checks: [{ name: smoke, command: [node, smoke.mjs, 3] }]
labels: { team: ops }
notifications:
  timeout: 2s
  retries: 0
  targets:
    - { kind: slack, url: "\${SLACK_URL}" }
    - { kind: teams, url: "https://teams.example/x", format: adaptivecard, name: ops }
    - { kind: webhook, url: "https://alerts.example/rel", headers: { Authorization: "Bearer \${TOKEN}" } }
`.replace(
        'dbCheckPath: /items',
        'dbCheckPath: /items\n  env:\n    LOG_LEVEL: debug\n    DSN: { value: "${DSN}", secret: true }',
      ),
    ];
    const env = { SLACK_URL: 'https://hooks.slack.com/x', TOKEN: 't', DSN: 'd' };
    for (const text of texts) {
      expect(() => parseConfig(text, '/srv/app/rel.config.yaml', env)).not.toThrow();
      expect(errors(text)).toEqual([]);
    }
  });

  it.each([
    ['monitor: { interval: 5 }', 'monitor: { interval: true }', '/monitor/interval'],
    ['apiPort: 18082', 'apiPort: [18082]', '/environments/green/apiPort'],
    ['replicate: false', 'replicate: sometimes', '/release/replicate'],
    ['consecutive: 5', 'consecutive: five', '/nginx/verify/consecutive'],
    ['test: [nginx', 'test: "nginx -t"\n  old: [nginx', '/nginx/test'],
    ['migrations: { kind: sql-folder }', 'migrations: { kind: flat }', '/database/migrations/kind'],
    ['stateDir:', 'statedir:', ''],
  ])('rejects a wrong value naming its key as the loader does: %s -> %s', (from, to, path) => {
    const base = from.startsWith('monitor:') ? `${example}\n${from}\n` : example;
    expect(errors(base)).toEqual([]);
    const text = base.replace(from, to);
    const found = errors(text);
    expect(found.length).toBeGreaterThan(0);
    if (path === '') {
      // an unknown key: the editor names it (additionalProperty), as the loader does
      expect(found).toContainEqual(expect.objectContaining({ params: { additionalProperty: 'statedir' } }));
    } else {
      expect(found.map((e) => e.instancePath)).toContain(path);
    }
    const key = path.slice(1).replaceAll('/', '.') || 'statedir';
    expect(() => parseConfig(text, '/srv/app/rel.config.yaml', {})).toThrow(key);
  });

  it('describes every key for completion', () => {
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, at: string) => {
      for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof child.description !== 'string' || child.description === '') missing.push(`${at}${key}`);
        walk(child, `${at}${key}.`);
      }
      const items = node.items as Record<string, unknown> | undefined;
      if (items) walk(items, `${at}[].`);
    };
    walk(shippedSchema(), '');
    expect(missing).toEqual([]);
  });
});
