import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ENVIRONMENTS, type Environment, type EventSink, log, RelError, runStep } from '@rel/core';
import type {
  BackupResult,
  DatabaseExec,
  MigrateResult,
  MigrationPlan,
  MigrationSource,
  RestoreResult,
  VerifiedBackup,
} from '@rel/db-migrate';
import {
  type ContainerInfo,
  type DockerClient,
  environmentLabels,
  execInContainer,
  execInContainerStream,
  findContainers,
  inspectContainer,
  runOneOffContainer,
} from '@rel/docker';
import type { RelConfig } from '../config/schema.js';
import { resourceNames } from './names.js';

// pg and the migration library load when a database flow runs, not with @rel/release (rel monitor needs neither).
const dbMigrate = () => import('@rel/db-migrate');

/** Image label listing the migrations a bundle holds, comma-separated, oldest first. */
export const MIGRATIONS_LABEL = 'rel.migrations';

export interface DatabaseOptions {
  config: RelConfig;
  env: Environment;
  docker: DockerClient;
  onEvent: EventSink;
  signal?: AbortSignal;
}

/** Backups of an environment live in `<stateDir>/backups/<env>`. */
export function backupDir(config: RelConfig, env: Environment): string {
  return join(config.stateDir, 'backups', env);
}

/**
 * The directories whose backup manifests a restore trusts: both environments' (a backup of blue may be restored
 * into green). A file elsewhere is restored only when one of these manifests records its content.
 */
export function trustedBackupDirs(config: RelConfig): string[] {
  return ENVIRONMENTS.map((env) => backupDir(config, env));
}

async function running(options: DatabaseOptions, role: 'db' | 'api'): Promise<ContainerInfo> {
  const { config, env, docker } = options;
  const found = await findContainers(docker, { project: config.project, environment: env, role });
  const container = found.find((c) => c.state === 'running');
  if (!container) {
    const what = role === 'db' ? 'database' : 'API';
    throw new RelError(
      'NOT_FOUND',
      `${env} has no running ${what} container (deploy it first: rel deploy backend ${env} <version>)`,
    );
  }
  return container;
}

/**
 * pg_dump, pg_restore and psql run inside the database container: their version always matches the
 * server's. They reach it over the container's local socket: `PGHOST`/`PGPORT` given for the host's view
 * are dropped, the rest of `env` (user, database, password) is passed on.
 */
export function databaseExec(docker: DockerClient, containerId: string): DatabaseExec {
  return (
    argv,
    options: { stdin?: Readable; stdout?: Writable; signal?: AbortSignal; env?: Record<string, string> } = {},
  ) => {
    const { PGHOST: _host, PGPORT: _port, ...env } = options.env ?? {};
    return execInContainerStream(docker, containerId, argv, {
      ...(Object.keys(env).length > 0 ? { env } : {}),
      ...(options.stdin ? { stdin: options.stdin } : {}),
      ...(options.stdout ? { stdout: options.stdout } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  };
}

/** How the host reaches an environment's database (its port on 127.0.0.1). */
export function connection(config: RelConfig, env: Environment) {
  return {
    host: '127.0.0.1',
    port: config.environments[env].dbPort,
    user: config.database.user,
    password: config.database.password,
    database: config.database.name,
  };
}

/**
 * The environment's migrations as its API image ships them: the SQL folder or the idempotent script are
 * read out of the running API container into a temp directory; a bundle runs in a one-off container of the
 * same image on the environment's network.
 */
async function migrationSource(
  options: DatabaseOptions,
  api: ContainerInfo,
): Promise<{ source: MigrationSource; cleanup: () => Promise<void> }> {
  const { config, env, docker } = options;
  const { kind, path } = config.database.migrations;
  if (kind === 'bundle') {
    // the image may say which migrations its bundle holds (label rel.migrations): pending and verify are then exact
    const labels = (await inspectContainer(docker, api.id))?.Config.Labels ?? {};
    const ids = labels[MIGRATIONS_LABEL]?.split(',').filter(Boolean);
    return {
      source: { kind: 'bundle', run: bundleRunner(options, api), ...(ids ? { migrations: ids } : {}) },
      cleanup: async () => {},
    };
  }
  const dir = await mkdtemp(join(tmpdir(), `rel-migrations-${env}-`));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const read = async (file: string) => {
    const result = await execInContainer(docker, api.id, ['cat', file]);
    if (result.exitCode !== 0) {
      throw new RelError(
        'CONFIG',
        `database.migrations.path: cannot read ${file} in ${api.name} (${api.image}): ${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  };
  try {
    if (kind === 'idempotent-script') {
      const file = join(dir, 'migrations.sql');
      await writeFile(file, await read(path));
      return { source: { kind: 'idempotent-script', file }, cleanup };
    }
    const listing = await execInContainer(docker, api.id, ['ls', '-1', path]);
    if (listing.exitCode !== 0) {
      throw new RelError(
        'CONFIG',
        `database.migrations.path: no migrations folder ${path} in ${api.name} (${api.image})`,
      );
    }
    for (const name of listing.stdout.split('\n').filter((n) => n.endsWith('.sql'))) {
      await writeFile(join(dir, name), await read(`${path}/${name}`));
    }
    return { source: { kind: 'sql-folder', dir }, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * Runs the bundle in a one-off container of the API's image on the environment's network. Its command line
 * (`--connection`) holds no password: the password reaches it in a file (PGPASSFILE) written into the container
 * before it starts. The engine removes the container when it ends (AutoRemove); a leftover of a killed run is
 * removed by its labels first.
 */
function bundleRunner(options: DatabaseOptions, api: ContainerInfo) {
  const { config, env, docker } = options;
  return async ({ verbose, signal }: { verbose: boolean; signal?: AbortSignal }) => {
    const { bundleInvocation } = await dbMigrate();
    const names = resourceNames(config, env);
    const { database } = config;
    const bundle = bundleInvocation({
      host: names.dbHost,
      port: database.port,
      database: database.name,
      username: database.user,
      password: database.password,
      verbose,
    });
    const migrateLabels = environmentLabels({ project: config.project, environment: env, role: 'migrate' });
    return runOneOffContainer(
      docker,
      {
        name: `${names.container('api')}-migrate`,
        image: api.image,
        entrypoint: [config.database.migrations.path],
        cmd: bundle.args,
        env: bundle.env,
        labels: {
          ...config.labels,
          ...environmentLabels({ project: config.project, environment: env, role: 'migrate', version: api.version }),
        },
        network: { name: names.network },
      },
      { files: bundle.files, leftoverLabels: migrateLabels, ...(signal ? { signal } : {}) },
    );
  };
}

/** The seed's migrate.sh: back up, run the migrations, verify the history, then test the API's connectivity. */
export async function migrateEnvironment(
  options: DatabaseOptions & { dryRun?: boolean },
): Promise<MigrateResult | MigrationPlan> {
  const { config, env, docker, onEvent: sink, signal } = options;
  // Both looked up at once; when both are missing, the database is named (not whichever answer came first).
  const [dbFound, apiFound] = await Promise.allSettled([running(options, 'db'), running(options, 'api')]);
  if (dbFound.status === 'rejected') throw dbFound.reason;
  if (apiFound.status === 'rejected') throw apiFound.reason;
  const db = dbFound.value;
  const api = apiFound.value;
  const { source, cleanup } = await migrationSource(options, api);
  try {
    const common = {
      connection: connection(config, env),
      source,
      onEvent: sink,
      lockWaitMs: config.database.lockWaitMs,
      lockTimeoutMs: config.database.lockTimeoutMs,
      statementTimeoutMs: config.database.statementTimeoutMs,
      ...(signal ? { signal } : {}),
    };
    const { migrateDatabase, planMigrations, restoreDatabase } = await dbMigrate();
    if (options.dryRun) return await planMigrations(common);
    const exec = databaseExec(docker, db.id);
    const result = await migrateDatabase({
      ...common,
      backup: {
        exec,
        database: config.database.name,
        user: config.database.user,
        dir: backupDir(config, env),
        keep: config.database.keepBackups,
        environment: env,
      },
      restore: async (backup) => {
        await restoreDatabase({
          exec,
          file: backup.file,
          sha256: backup.sha256,
          database: config.database.name,
          user: config.database.user,
          onEvent: sink,
        });
      },
    });
    await runStep(sink, 'api-check', `test ${env}'s API connectivity (${config.backend.dbCheckPath})`, async () => {
      const url = `http://127.0.0.1:${config.environments[env].apiPort}${config.backend.dbCheckPath}`;
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch(
        (error: Error & { cause?: { code?: string } }) => {
          throw new RelError(
            'UNREACHABLE',
            `${env}'s API does not answer at ${url}: ${error.cause?.code ?? error.message}`,
          );
        },
      );
      const body = await response.text();
      if (response.status !== 200) {
        throw new RelError(
          'UNHEALTHY',
          `${env}'s API answers ${response.status} at ${url} after the migrations: ${body.slice(0, 200)}`,
        );
      }
    });
    return result;
  } finally {
    await cleanup();
  }
}

export async function backupEnvironment(options: DatabaseOptions): Promise<BackupResult> {
  const { config, env, docker, onEvent, signal } = options;
  const db = await running(options, 'db');
  const { backupDatabase } = await dbMigrate();
  return backupDatabase({
    exec: databaseExec(docker, db.id),
    database: config.database.name,
    user: config.database.user,
    dir: backupDir(config, env),
    keep: config.database.keepBackups,
    environment: env,
    onEvent,
    ...(signal ? { signal } : {}),
  });
}

export interface RestoreSourceOptions {
  config: RelConfig;
  env: Environment;
  /** A file path, the name of a file in the environment's backup directory, or `latest`. */
  backup: string;
  /**
   * Restore a file no backup manifest vouches for (`rel db restore --force-unverified`): a dump from elsewhere, a
   * backup taken before manifests. Separate from `--force` (which allows the live environment as the target): one
   * must never imply the other.
   */
  allowUnverified?: boolean;
}

/** The file `backup` names: a path as given, a file name in the environment's backup directory, or `latest`. */
async function resolveBackupFile(config: RelConfig, env: Environment, backup: string): Promise<string> {
  const dir = backupDir(config, env);
  if (backup === 'latest') {
    const { listBackups } = await dbMigrate();
    const backups = await listBackups(dir, config.database.name);
    if (backups.length === 0) throw new RelError('NOT_FOUND', `no backups of ${env} in ${dir}`);
    return backups.at(-1)!;
  }
  if (backup.includes('/')) return backup;
  const names = await readdir(dir).catch(() => [] as string[]);
  if (!names.includes(backup)) throw new RelError('NOT_FOUND', `backup ${backup} not found in ${dir}`);
  return join(dir, backup);
}

/** A refusal the override lifts says how: `--force-unverified` (never named for a missing file or a directory). */
function withOverrideHint(error: unknown): unknown {
  const reason = error instanceof RelError ? error.details?.reason : undefined;
  if (error instanceof RelError && error.code === 'BAD_INPUT' && typeof reason === 'string') {
    return new RelError(
      'BAD_INPUT',
      `${error.message}; --force-unverified restores it all the same (only if you trust it)`,
      { cause: error, ...(error.details ? { details: error.details } : {}) },
    );
  }
  return error;
}

/**
 * What a restore would read, checked as the restore checks it but touching no database (`rel db restore
 * --dry-run`): the file must be a backup rel recorded in a manifest of `trustedBackupDirs` (sha256 and size),
 * else BAD_INPUT naming the file and why, unless `allowUnverified` (then `unverified` says why not).
 */
export async function checkRestoreSource(
  options: RestoreSourceOptions,
): Promise<{ file: string; verified?: VerifiedBackup; unverified?: string }> {
  const { config, env } = options;
  const file = await resolveBackupFile(config, env, options.backup);
  const { verifyBackup } = await dbMigrate();
  try {
    const verified = await verifyBackup({
      file,
      database: config.database.name,
      backupDirs: trustedBackupDirs(config),
    });
    return { file: verified.file, verified };
  } catch (error) {
    const reason = error instanceof RelError ? error.details?.reason : undefined;
    if (options.allowUnverified && typeof reason === 'string') return { file: resolve(file), unverified: reason };
    throw withOverrideHint(error);
  }
}

/**
 * Restores `backup` (a file path, the name of a file in the environment's backup directory, or `latest`) into the
 * environment's database. The file must be a backup rel recorded (a manifest in `trustedBackupDirs` records its
 * sha256 and size): anything else is refused before the database is touched, unless `allowUnverified`.
 */
export async function restoreEnvironment(
  options: DatabaseOptions & Omit<RestoreSourceOptions, 'config' | 'env'>,
): Promise<RestoreResult> {
  const { config, env, docker, onEvent: sink, signal } = options;
  const file = await resolveBackupFile(config, env, options.backup);
  const db = await running(options, 'db');
  const { restoreDatabase } = await dbMigrate();
  log(sink, 'info', `restoring ${env}'s database ${config.database.name} from ${file}`);
  return restoreDatabase({
    exec: databaseExec(docker, db.id),
    file,
    database: config.database.name,
    user: config.database.user,
    // restoreDatabase checks the file against these manifests before anything is dropped
    backupDirs: trustedBackupDirs(config),
    allowUnverified: options.allowUnverified === true,
    onEvent: sink,
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    throw withOverrideHint(error);
  });
}
