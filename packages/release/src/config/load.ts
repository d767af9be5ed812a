import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ENVIRONMENTS, parseDuration, RelError } from '@rel/core';
import { parseDocument } from 'yaml';
import { notificationTargetSecrets, validateNotificationTarget } from '../notify/targets.js';
import { interpolate } from './interpolate.js';
import type {
  EnvironmentPorts,
  HealthCheck,
  MonitorConfig,
  NginxConfig,
  NotificationsConfig,
  RelConfig,
  ReleaseCheck,
  ReleaseConfig,
  ReplicateConfig,
} from './schema.js';
import { parseShare, parseSize } from './units.js';

export const DEFAULT_CONFIG_FILE = 'rel.config.yaml';

export interface LoadConfigOptions {
  /** `--config`; else `$REL_CONFIG`; else `./rel.config.yaml`. */
  file?: string;
  /** Where `${VAR}` values come from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Base for a relative `file`. Default `process.cwd()`. */
  cwd?: string;
}

export function resolveConfigPath(options: LoadConfigOptions = {}): string {
  const env = options.env ?? process.env;
  const file = options.file ?? env.REL_CONFIG ?? DEFAULT_CONFIG_FILE;
  return resolve(options.cwd ?? process.cwd(), file);
}

/** Reads, interpolates and validates a config file. Throws one CONFIG error naming the key, the value and what was expected. */
export function loadConfig(options: LoadConfigOptions = {}): RelConfig {
  const file = resolveConfigPath(options);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new RelError('CONFIG', `config file ${file} ${why} (set --config or REL_CONFIG)`, { cause: error });
  }
  return parseConfig(text, file, options.env ?? process.env);
}

/** Validates config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): RelConfig {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    throw new RelError('CONFIG', `config file ${file} is not valid YAML${where}: ${first.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS();
  // ${REL_CONFIG_DIR} lets commands and paths in the file name places beside it
  const reader = new Reader(file, { ...env, REL_CONFIG_DIR: dirname(file) });
  const config = reader.config(raw);
  if (reader.errors.length > 0) {
    // every problem at once, on one line: a fix-and-rerun loop per problem wastes an operator's night
    const text =
      reader.errors.length === 1 ? reader.errors[0] : `${reader.errors.length} problems: ${reader.errors.join('; ')}`;
    throw new RelError('CONFIG', `${file}: ${text}`, { details: { problems: reader.errors } });
  }
  return config;
}

const PROJECT_NAME = /^[a-z0-9][a-z0-9_.-]{0,40}$/;

/**
 * The state directory of a project whose config names none: one per project on this machine, whichever workspace
 * or directory the config is read from, so that every checkout of a project (two Jenkins jobs, a person at a
 * terminal) shares its release lock, journal and live record. `$REL_STATE_HOME/<project>`, else
 * `/var/lib/rel/<project>` for root, else `$XDG_STATE_HOME/rel/<project>` (`~/.local/state/rel/<project>`).
 */
export function defaultStateDir(project: string, env: NodeJS.ProcessEnv = process.env): string {
  const name = PROJECT_NAME.test(project) ? project : 'invalid-project-name';
  if (env.REL_STATE_HOME) return resolve(env.REL_STATE_HOME, name);
  if (process.getuid?.() === 0) return join('/var/lib/rel', name);
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return resolve(stateHome, 'rel', name);
}
/** replicate.parallel: copy streams, each a connection to both databases (PostgreSQL allows 100 by default). */
const MAX_PARALLEL = 32;
/** A Docker container name, as the engine accepts it. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
// registry host[:port]/path, lowercase path components as Docker requires
const REPOSITORY = /^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/;
const IMAGE_WITH_TAG = /^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY = /^[a-zA-Z0-9.-]+(:\d+)?$/;
const SQL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// keys whose values are never printed, wherever they appear (say, backend.env.API_TOKEN)
/** Keys whose values are secret by their name (a config value under such a key is never printed). */
const SECRET_KEY = /pass|token|secret|key|connection|dsn|credential|auth|private|cookie|session/i;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Walks the parsed YAML, collecting every problem with the path of its key. */
class Reader {
  readonly errors: string[] = [];
  readonly secrets = new Set<string>();
  constructor(
    private readonly file: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  config(raw: unknown): RelConfig {
    const root = this.object(raw, '(top level)') ?? {};
    this.noUnknownKeys(root, '', [
      'project',
      'registry',
      'images',
      'environments',
      'database',
      'backend',
      'frontend',
      'stateDir',
      'labels',
      'nginx',
      'notifications',
      'monitor',
      'replicate',
      'release',
    ]);
    const registry = this.object(root.registry, 'registry') ?? {};
    this.noUnknownKeys(registry, 'registry', ['server', 'username', 'password', 'dockerConfig']);
    const images = this.object(root.images, 'images') ?? {};
    this.noUnknownKeys(images, 'images', ['backend', 'frontend', 'database']);
    const environments = this.object(root.environments, 'environments') ?? {};
    this.noUnknownKeys(environments, 'environments', [...ENVIRONMENTS]);
    const database = this.object(root.database, 'database') ?? {};
    this.noUnknownKeys(database, 'database', [
      'name',
      'user',
      'password',
      'port',
      'readyTimeout',
      'migrations',
      'keepBackups',
      'lockWait',
      'lockTimeout',
      'statementTimeout',
    ]);

    const username = this.optionalString(registry.username, 'registry.username');
    const password = this.optionalString(registry.password, 'registry.password', { secret: true });
    if ((username === undefined) !== (password === undefined)) {
      this.errors.push(
        `registry: username and password go together (got only ${username === undefined ? 'password' : 'username'}); omit both to use the Docker config.json`,
      );
    }
    const dockerConfig = this.optionalString(registry.dockerConfig, 'registry.dockerConfig');
    const configDir = dirname(this.file);
    const envs = Object.fromEntries(
      ENVIRONMENTS.map((name) => [name, this.ports(environments[name], `environments.${name}`)]),
    ) as Record<(typeof ENVIRONMENTS)[number], EnvironmentPorts>;
    this.distinctPorts(envs);

    const stateDir = this.optionalString(root.stateDir, 'stateDir');
    const absoluteStateDir =
      stateDir === undefined
        ? defaultStateDir(typeof root.project === 'string' ? root.project : 'rel', this.env)
        : isAbsolute(stateDir)
          ? stateDir
          : resolve(configDir, stateDir);
    const monitor = this.monitor(root.monitor, configDir, absoluteStateDir);
    return {
      file: this.file,
      project: this.matching(root.project, 'project', PROJECT_NAME, 'lowercase letters, digits, _ . - (max 41)'),
      registry: {
        server: this.matching(registry.server, 'registry.server', REGISTRY, 'a registry host[:port] like ghcr.io'),
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password }),
        ...(dockerConfig === undefined ? {} : { dockerConfig: resolve(configDir, dockerConfig) }),
      },
      images: {
        backend: this.matching(images.backend, 'images.backend', REPOSITORY, 'an image repository without tag'),
        frontend: this.matching(images.frontend, 'images.frontend', REPOSITORY, 'an image repository without tag'),
        database: this.matching(images.database, 'images.database', IMAGE_WITH_TAG, 'an image reference with a tag'),
      },
      environments: envs,
      database: {
        name: this.matching(database.name, 'database.name', SQL_NAME, 'a lowercase SQL identifier'),
        user: this.matching(database.user, 'database.user', SQL_NAME, 'a lowercase SQL identifier'),
        password: this.requiredString(database.password, 'database.password', { secret: true }),
        port: this.port(database.port ?? 5432, 'database.port'),
        migrations: this.migrations(database.migrations),
        keepBackups: this.count(database.keepBackups ?? 10, 'database.keepBackups'),
        lockWaitMs: this.duration(database.lockWait ?? '60s', 'database.lockWait'),
        lockTimeoutMs: this.duration(database.lockTimeout ?? '5s', 'database.lockTimeout'),
        statementTimeoutMs: this.duration(database.statementTimeout ?? '0', 'database.statementTimeout', true),
      },
      labels: this.labels(root.labels),
      ...(root.nginx === undefined ? {} : { nginx: this.nginx(root.nginx, configDir) }),
      notifications: this.notifications(root.notifications),
      databaseReadyTimeoutMs: this.duration(database.readyTimeout ?? '60s', 'database.readyTimeout'),
      backend: this.service(root.backend, 'backend', '60s'),
      frontend: this.service(root.frontend, 'frontend', '30s'),
      stateDir: absoluteStateDir,
      monitor,
      replicate: this.replicate(root.replicate),
      release: this.release(root.release, monitor),
      secrets: [...this.secrets].filter((s) => s.length > 0),
    };
  }

  private migrations(raw: unknown): RelConfig['database']['migrations'] {
    const section = raw === undefined ? {} : (this.object(raw, 'database.migrations') ?? {});
    this.noUnknownKeys(section, 'database.migrations', ['kind', 'path']);
    const kind = this.optionalString(section.kind, 'database.migrations.kind') ?? 'sql-folder';
    const defaults: Record<string, string> = {
      'sql-folder': '/app/migrations',
      'idempotent-script': '/app/migrations.sql',
      bundle: '/app/efbundle',
    };
    if (!(kind in defaults)) {
      this.errors.push(
        `database.migrations.kind: ${JSON.stringify(kind)} is not valid (expected sql-folder, idempotent-script or bundle)`,
      );
    }
    const path = this.optionalString(section.path, 'database.migrations.path') ?? defaults[kind] ?? '';
    if (!/^\/[\w./-]*$/.test(path)) {
      this.errors.push(
        `database.migrations.path: ${JSON.stringify(path)} is not valid (expected an absolute path in the API image)`,
      );
    }
    return { kind: kind as RelConfig['database']['migrations']['kind'], path };
  }

  private service(raw: unknown, key: string, defaultTimeout: string): RelConfig['backend'] {
    const section = raw === undefined ? {} : (this.object(raw, key) ?? {});
    this.noUnknownKeys(
      section,
      key,
      key === 'backend' ? ['port', 'health', 'env', 'dbCheckPath'] : ['port', 'health', 'env'],
    );
    const health = section.health === undefined ? {} : (this.object(section.health, `${key}.health`) ?? {});
    this.noUnknownKeys(health, `${key}.health`, ['path', 'timeout']);
    const env: Record<string, string> = {};
    const rawEnv = section.env === undefined ? {} : (this.object(section.env, `${key}.env`) ?? {});
    for (const [name, value] of Object.entries(rawEnv)) {
      if (!ENV_NAME.test(name)) this.errors.push(`${key}.env: ${JSON.stringify(name)} is not a valid variable name`);
      const text = this.envValue(value, `${key}.env.${name}`);
      if (text !== undefined) env[name] = text;
    }
    const path = this.optionalString(health.path, `${key}.health.path`) ?? '/health';
    if (!path.startsWith('/')) this.errors.push(`${key}.health.path: ${JSON.stringify(path)} must start with /`);
    const check: HealthCheck = {
      path,
      timeoutMs: this.duration(health.timeout ?? defaultTimeout, `${key}.health.timeout`),
    };
    const dbCheckPath = this.optionalString(section.dbCheckPath, `${key}.dbCheckPath`) ?? check.path;
    if (!dbCheckPath.startsWith('/'))
      this.errors.push(`${key}.dbCheckPath: ${JSON.stringify(dbCheckPath)} must start with /`);
    return { port: this.port(section.port ?? 8080, `${key}.port`), health: check, dbCheckPath, env };
  }

  private nginx(raw: unknown, configDir: string): NginxConfig {
    const key = 'nginx';
    const section = this.object(raw, key) ?? {};
    this.noUnknownKeys(section, key, [
      'config',
      'upstreams',
      'method',
      'socketDir',
      'test',
      'reload',
      'publicUrl',
      'verify',
      'header',
      'keepBackups',
    ]);
    const path = (value: string) => (isAbsolute(value) ? value : resolve(configDir, value));
    const configFile = path(this.requiredString(section.config, 'nginx.config'));
    const upstreams = this.object(section.upstreams, 'nginx.upstreams') ?? {};
    this.noUnknownKeys(upstreams, 'nginx.upstreams', ['api', 'client']);
    const upstreamName = /^[A-Za-z0-9_.-]+$/;
    const api = this.matching(upstreams.api, 'nginx.upstreams.api', upstreamName, 'an nginx upstream name');
    const client =
      upstreams.client === undefined
        ? undefined
        : this.matching(upstreams.client, 'nginx.upstreams.client', upstreamName, 'an nginx upstream name');
    const method = this.optionalString(section.method, 'nginx.method') ?? 'auto';
    if (!['auto', 'reload', 'socket'].includes(method)) {
      this.errors.push(`nginx.method: ${JSON.stringify(method)} is not valid (expected auto, reload or socket)`);
    }
    const reloadRaw = this.object(section.reload, 'nginx.reload') ?? {};
    this.noUnknownKeys(reloadRaw, 'nginx.reload', ['command', 'pidFile', 'container']);
    const kinds = ['command', 'pidFile', 'container'].filter((k) => reloadRaw[k] !== undefined);
    let reload: NginxConfig['reload'] = { kind: 'command', command: [] };
    if (kinds.length !== 1) {
      this.errors.push(`nginx.reload: expected exactly one of command, pidFile, container (got ${kinds.length})`);
    } else if (reloadRaw.command !== undefined) {
      reload = { kind: 'command', command: this.command(reloadRaw.command, 'nginx.reload.command') };
    } else if (reloadRaw.pidFile !== undefined) {
      reload = { kind: 'signal', pidFile: path(this.requiredString(reloadRaw.pidFile, 'nginx.reload.pidFile')) };
    } else {
      const container = this.requiredString(reloadRaw.container, 'nginx.reload.container');
      if (container && !CONTAINER_NAME.test(container)) {
        this.errors.push(
          `nginx.reload.container: ${JSON.stringify(container)} is not a container name (expected letters, digits, _ . -)`,
        );
      }
      reload = { kind: 'docker', container };
    }
    const credentials = typeof section.publicUrl === 'string' && /^[a-z]+:\/\/[^/]*@/i.test(section.publicUrl);
    if (credentials) {
      // not shown: the part before @ is a password
      this.errors.push('nginx.publicUrl: carries user:password@ (the probes send no credentials; drop them)');
    }
    const publicUrl = this.matching(
      credentials ? 'http://invalid' : section.publicUrl,
      'nginx.publicUrl',
      /^https?:\/\/[^\s/@]+(\/\S*)?$/,
      'an http(s) URL',
    );
    const verify = section.verify === undefined ? {} : (this.object(section.verify, 'nginx.verify') ?? {});
    this.noUnknownKeys(verify, 'nginx.verify', ['path', 'consecutive', 'timeout', 'settle']);
    const verifyPath = this.optionalString(verify.path, 'nginx.verify.path') ?? '/api/health';
    if (!verifyPath.startsWith('/'))
      this.errors.push(`nginx.verify.path: ${JSON.stringify(verifyPath)} must start with /`);
    return {
      configFile,
      upstreams: { api, ...(client === undefined ? {} : { client }) },
      method: method as NginxConfig['method'],
      socketDir: path(this.optionalString(section.socketDir, 'nginx.socketDir') ?? 'rel-routes'),
      testCommand: this.command(section.test, 'nginx.test'),
      reload,
      publicUrl: publicUrl.replace(/\/+$/, ''),
      verify: {
        path: verifyPath,
        consecutive: this.count(verify.consecutive ?? 5, 'nginx.verify.consecutive'),
        timeoutMs: this.duration(verify.timeout ?? '10s', 'nginx.verify.timeout'),
        ...(verify.settle === undefined ? {} : { settleMs: this.duration(verify.settle, 'nginx.verify.settle', true) }),
      },
      header: this.matching(
        section.header ?? 'X-Rel-Environment',
        'nginx.header',
        /^[A-Za-z0-9-]+$/,
        'an HTTP header name',
      ),
      keepBackups: this.count(section.keepBackups ?? 10, 'nginx.keepBackups'),
    };
  }

  private monitor(raw: unknown, configDir: string, stateDir: string): MonitorConfig {
    const key = 'monitor';
    const section = raw === undefined || raw === null ? {} : (this.object(raw, key) ?? {});
    this.noUnknownKeys(section, key, ['interval', 'timeout', 'threshold', 'failures', 'p95', 'memory', 'textfile']);
    const result: MonitorConfig = {
      intervalMs: this.duration(section.interval ?? '30s', 'monitor.interval'),
      timeoutMs: this.duration(section.timeout ?? '5s', 'monitor.timeout'),
      threshold: this.count(section.threshold ?? 3, 'monitor.threshold'),
      textfile: resolve(
        configDir,
        this.optionalString(section.textfile, 'monitor.textfile') ?? join(stateDir, 'monitor', 'rel_monitor.prom'),
      ),
    };
    if (result.timeoutMs > result.intervalMs) {
      this.errors.push(
        `monitor.timeout: ${JSON.stringify(section.timeout)} is longer than monitor.interval (expected a check to end before the next one starts)`,
      );
    }
    if (section.failures !== undefined) {
      const failures = this.object(section.failures, 'monitor.failures') ?? {};
      this.noUnknownKeys(failures, 'monitor.failures', ['count', 'of']);
      const count = this.count(failures.count, 'monitor.failures.count');
      const of = this.count(failures.of, 'monitor.failures.of');
      if (count > of) this.errors.push(`monitor.failures: count ${count} is more than of ${of} (expected count <= of)`);
      result.failures = { count, of };
    }
    if (section.p95 !== undefined) {
      const p95 = this.object(section.p95, 'monitor.p95') ?? {};
      this.noUnknownKeys(p95, 'monitor.p95', ['above', 'window']);
      result.p95 = {
        aboveMs: this.duration(p95.above, 'monitor.p95.above'),
        window: this.count(p95.window ?? 10, 'monitor.p95.window'),
      };
    }
    if (section.memory !== undefined) {
      const memory = this.object(section.memory, 'monitor.memory') ?? {};
      this.noUnknownKeys(memory, 'monitor.memory', ['limit', 'growth']);
      result.memory = {};
      if (memory.limit !== undefined) result.memory.limitBytes = this.size(memory.limit, 'monitor.memory.limit');
      if (memory.growth !== undefined) result.memory.growth = this.share(memory.growth, 'monitor.memory.growth');
    }
    return result;
  }

  private replicate(raw: unknown): ReplicateConfig {
    const section = raw === undefined || raw === null ? {} : (this.object(raw, 'replicate') ?? {});
    this.noUnknownKeys(section, 'replicate', ['parallel']);
    return { parallel: this.count(section.parallel ?? 4, 'replicate.parallel', 1, MAX_PARALLEL) };
  }

  private release(raw: unknown, monitor: MonitorConfig): ReleaseConfig {
    const section = raw === undefined || raw === null ? {} : (this.object(raw, 'release') ?? {});
    this.noUnknownKeys(section, 'release', ['replicate', 'monitor', 'monitorInterval', 'checks']);
    const checks: ReleaseCheck[] = [];
    const rawChecks = section.checks ?? [];
    if (!Array.isArray(rawChecks)) {
      this.errors.push(`release.checks: expected a list of { name, command, timeout }, got ${describe(rawChecks)}`);
    } else {
      const names = new Set<string>();
      rawChecks.forEach((rawCheck, i) => {
        const key = `release.checks[${i}]`;
        const check = this.object(rawCheck, key);
        if (!check) return;
        this.noUnknownKeys(check, key, ['name', 'command', 'timeout']);
        const name = this.matching(check.name, `${key}.name`, /^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$/, 'a short name');
        if (names.has(name)) this.errors.push(`${key}.name: ${JSON.stringify(name)} is used twice`);
        names.add(name);
        checks.push({
          name,
          command: this.command(check.command, `${key}.command`),
          timeoutMs: this.duration(check.timeout ?? '60s', `${key}.timeout`),
        });
      });
    }
    return {
      replicate: this.boolean(section.replicate ?? false, 'release.replicate'),
      monitorMs: this.duration(section.monitor ?? '600', 'release.monitor', true),
      monitorIntervalMs:
        section.monitorInterval === undefined
          ? monitor.intervalMs
          : this.duration(section.monitorInterval, 'release.monitorInterval'),
      checks,
    };
  }

  private boolean(raw: unknown, key: string): boolean {
    if (typeof raw === 'boolean') return raw;
    const text = typeof raw === 'string' ? this.scalar(raw, key) : undefined;
    if (text === 'true' || text === 'false') return text === 'true';
    this.errors.push(`${key}: ${JSON.stringify(raw)} is not valid (expected true or false)`);
    return false;
  }

  private size(raw: unknown, key: string): number {
    const text = this.scalar(raw, key);
    try {
      return parseSize(text ?? '', key);
    } catch (error) {
      this.errors.push((error as Error).message);
      return 0;
    }
  }

  private share(raw: unknown, key: string): number {
    const text = this.scalar(raw, key);
    try {
      return parseShare(text ?? '', key);
    } catch (error) {
      this.errors.push((error as Error).message);
      return 0;
    }
  }

  private notifications(raw: unknown): NotificationsConfig {
    const result: NotificationsConfig = { timeoutMs: 5000, retries: 2, targets: [] };
    if (raw === undefined || raw === null) return result;
    const section = this.object(raw, 'notifications') ?? {};
    this.noUnknownKeys(section, 'notifications', ['timeout', 'retries', 'targets']);
    result.timeoutMs = this.duration(section.timeout ?? '5s', 'notifications.timeout');
    result.retries = this.count(section.retries ?? 2, 'notifications.retries', 0);
    const targets = section.targets ?? [];
    if (!Array.isArray(targets)) {
      this.errors.push(`notifications.targets: expected a list, got ${describe(targets)}`);
      return result;
    }
    targets.forEach((target, i) => {
      const key = `notifications.targets[${i}]`;
      try {
        const validated = validateNotificationTarget(this.deepInterpolate(target, key), key);
        for (const secret of notificationTargetSecrets(validated)) this.secrets.add(secret);
        result.targets.push(validated);
      } catch (error) {
        this.errors.push((error as Error).message);
      }
    });
    return result;
  }

  /** `${VAR}` in every string of a nested value (the caller marks what is secret in the result). */
  private deepInterpolate(raw: unknown, key: string): unknown {
    if (typeof raw === 'string') return this.scalar(raw, key);
    if (Array.isArray(raw)) return raw.map((v, i) => this.deepInterpolate(v, `${key}[${i}]`));
    if (raw && typeof raw === 'object') {
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, this.deepInterpolate(v, `${key}.${k}`)]));
    }
    return raw;
  }

  private command(raw: unknown, key: string): string[] {
    if (!Array.isArray(raw) || raw.length === 0) {
      this.errors.push(
        `${key}: expected a non-empty list of arguments (a command is never a shell string), got ${describe(raw)}`,
      );
      return [];
    }
    return raw.map((arg, i) => this.scalar(arg, `${key}[${i}]`) ?? '');
  }

  private count(raw: unknown, key: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
    const text = this.scalar(raw, key);
    const n = Number(text);
    if (text === undefined || !/^\d+$/.test(text) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      this.errors.push(`${key}: ${JSON.stringify(raw)} is not valid (expected a whole number ${range})`);
      return min;
    }
    return n;
  }

  private labels(raw: unknown): Record<string, string> {
    const labels: Record<string, string> = {};
    if (raw === undefined) return labels;
    for (const [name, value] of Object.entries(this.object(raw, 'labels') ?? {})) {
      if (
        !/^[a-z0-9][a-z0-9._-]*$/.test(name) ||
        name.startsWith('rel.project') ||
        name.startsWith('rel.environment')
      ) {
        this.errors.push(
          `labels.${name}: not a valid label name (lowercase letters, digits, . _ -; not rel.project/rel.environment)`,
        );
      }
      const text = this.scalar(value, `labels.${name}`);
      if (text !== undefined) labels[name] = text;
    }
    return labels;
  }

  private ports(raw: unknown, key: string): EnvironmentPorts {
    const section = this.object(raw, key) ?? {};
    this.noUnknownKeys(section, key, ['apiPort', 'clientPort', 'dbPort']);
    return {
      apiPort: this.port(section.apiPort, `${key}.apiPort`),
      clientPort: this.port(section.clientPort, `${key}.clientPort`),
      dbPort: this.port(section.dbPort, `${key}.dbPort`),
    };
  }

  private distinctPorts(envs: Record<string, EnvironmentPorts>): void {
    const seen = new Map<number, string>();
    for (const [env, ports] of Object.entries(envs)) {
      for (const [name, port] of Object.entries(ports)) {
        if (!port) continue;
        const other = seen.get(port);
        if (other) this.errors.push(`environments.${env}.${name}: port ${port} is already used by ${other}`);
        else seen.set(port, `environments.${env}.${name}`);
      }
    }
  }

  private object(raw: unknown, key: string): Record<string, unknown> | undefined {
    if (raw === undefined || raw === null) {
      this.errors.push(`${key}: missing (expected a mapping)`);
      return undefined;
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      this.errors.push(`${key}: expected a mapping, got ${describe(raw)}`);
      return undefined;
    }
    return raw as Record<string, unknown>;
  }

  private noUnknownKeys(section: Record<string, unknown>, key: string, known: string[]): void {
    for (const name of Object.keys(section)) {
      if (!known.includes(name)) {
        this.errors.push(`${key ? `${key}.` : ''}${name}: unknown key (expected one of ${known.join(', ')})`);
      }
    }
  }

  /**
   * A value of `backend.env`/`frontend.env`: a string (secret when its name says so: SECRET_KEY), or
   * `{ value, secret: true }` for a secret whatever its name (a connection string, say).
   */
  private envValue(raw: unknown, key: string): string | undefined {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return this.scalar(raw, key);
    const entry = raw as Record<string, unknown>;
    this.noUnknownKeys(entry, key, ['value', 'secret']);
    if (entry.secret !== undefined && typeof entry.secret !== 'boolean') {
      this.errors.push(`${key}.secret: expected true or false, got ${describe(entry.secret)}`);
    }
    return this.scalar(entry.value, `${key}.value`, { secret: entry.secret === true });
  }

  private scalar(raw: unknown, key: string, options: { secret?: boolean } = {}): string | undefined {
    if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
    if (typeof raw !== 'string') {
      this.errors.push(`${key}: expected a string, got ${describe(raw)}`);
      return undefined;
    }
    try {
      const { value } = interpolate(raw, key, this.env);
      if (options.secret || SECRET_KEY.test(key)) this.secrets.add(value);
      return value;
    } catch (error) {
      this.errors.push((error as Error).message);
      return ''; // reported once; an empty value keeps dependent checks quiet
    }
  }

  private requiredString(raw: unknown, key: string, options: { secret?: boolean } = {}): string {
    if (raw === undefined || raw === null) {
      this.errors.push(`${key}: missing (expected a string)`);
      return '';
    }
    const value = this.scalar(raw, key, options) ?? '';
    if (value === '' && raw !== undefined) this.errors.push(`${key}: must not be empty`);
    return value;
  }

  private optionalString(raw: unknown, key: string, options: { secret?: boolean } = {}): string | undefined {
    if (raw === undefined || raw === null) return undefined;
    return this.scalar(raw, key, options);
  }

  private matching(raw: unknown, key: string, pattern: RegExp, expected: string): string {
    if (raw === undefined || raw === null) {
      this.errors.push(`${key}: missing (expected ${expected})`);
      return '';
    }
    const value = this.scalar(raw, key);
    if (value !== undefined && !pattern.test(value)) {
      this.errors.push(`${key}: ${JSON.stringify(value)} is not valid (expected ${expected})`);
    }
    return value ?? '';
  }

  private port(raw: unknown, key: string): number {
    if (raw === undefined || raw === null) {
      this.errors.push(`${key}: missing (expected a port number 1-65535)`);
      return 0;
    }
    const text = this.scalar(raw, key);
    const port = Number(text);
    if (text === undefined || !/^\d+$/.test(text) || port < 1 || port > 65535) {
      this.errors.push(`${key}: ${JSON.stringify(raw)} is not a port (expected a number 1-65535)`);
      return 0;
    }
    return port;
  }

  private duration(raw: unknown, key: string, allowZero = false): number {
    const text = this.scalar(raw, key);
    if (text === undefined) return 0;
    try {
      return parseDuration(text, key, { allowZero });
    } catch {
      this.errors.push(`${key}: ${JSON.stringify(text)} is not a duration (expected 30s, 10m or seconds)`);
      return 0;
    }
  }
}

function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  if (typeof raw === 'object') return 'a mapping';
  return `${typeof raw} ${JSON.stringify(raw)}`;
}
