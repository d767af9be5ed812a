import { isAbsolute, join, resolve } from 'node:path';
import type { Environment } from '@rel/core';
import type * as z from 'zod';
import { notificationTargetSecrets } from '../notify/targets.js';
import { command, count, duration, flag, matching, optionalDuration, optionalText, share, size } from './fields.js';
import { labels, notificationTargets } from './maps.js';
import { nginx } from './schema-nginx.js';
import { backend, database, frontend, ports } from './schema-services.js';
import { list, optionalSection, section } from './sections.js';
import { defaultStateDir, PROJECT_NAME } from './state-dir.js';
import { secretTexts } from './values.js';

// rel.config.yaml, declared once: the keys of the file and what each holds (the JSON Schema editors check it with
// is made from this: json-schema.ts), and what the configuration holds after loading (the types below). Checks
// that span several keys are in checks.ts.

/** What the schema reads a file for. */
export interface SchemaContext {
  /** The file: it names the configuration, and relative paths in it are anchored at its directory. */
  file: string;
  /** Where defaults come from (`$REL_STATE_HOME` and friends for the state directory). */
  env: NodeJS.ProcessEnv;
  /** The file's strings as the loader substituted them (values.ts): those read under a secret key are `secrets`. */
  texts?: readonly {
    readonly value: string;
    readonly read: boolean;
    readonly secret: boolean;
    readonly error?: string;
  }[];
}

// registry host[:port]/path, lowercase path components as Docker requires
const REPOSITORY = /^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/;
const IMAGE_WITH_TAG = /^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY = /^[a-zA-Z0-9.-]+(:\d+)?$/;
/** replicate.parallel: copy streams, each a connection to both databases (PostgreSQL allows 100 by default). */
const MAX_PARALLEL = 32;

const monitor = section(
  {
    interval: duration({ description: "`rel monitor`'s time between checks.", default: '30s' }),
    timeout: duration({ description: 'Per probe request; not longer than the interval.', default: '5s' }),
    threshold: count({ description: 'Failed checks in a row that roll back.', default: 3 }),
    failures: optionalSection(
      {
        count: count({ description: 'Failed checks ...', required: true }),
        of: count({ description: '... among the last this many.', required: true }),
      },
      { description: 'Also roll back on `count` failed checks among the last `of`. Default off.', absent: 'omit' },
    ),
    p95: optionalSection(
      {
        above: duration({ description: 'The latency the p95 must stay under.', required: true }),
        window: count({ description: 'Checks the p95 is taken over.', default: 10 }),
      },
      {
        description: 'Also roll back when the p95 latency of the last `window` checks is above `above`. Default off.',
        absent: 'omit',
      },
      ({ above, window }) => ({ aboveMs: above, window }),
    ),
    memory: optionalSection(
      {
        limit: size({ description: 'The most memory the live containers may use: 512MiB, 800M, 1GB or bytes.' }),
        growth: share({ description: 'The most they may grow over the run: 50% or 0.5.' }),
      },
      { description: 'Also roll back above the limit, or on that growth over the run. Default off.', absent: 'omit' },
      ({ limit, growth }) => ({
        ...(limit === undefined ? {} : { limitBytes: limit }),
        ...(growth === undefined ? {} : { growth }),
      }),
    ),
    textfile: optionalText({
      description:
        "The Prometheus textfile (node_exporter's textfile collector). Default <stateDir>/monitor/rel_monitor.prom.",
    }),
  },
  { description: "`rel monitor`'s policy; the defaults are the seed's.", absent: 'empty', emptyIsAbsent: true },
  ({ interval, timeout, ...rest }) => ({ intervalMs: interval, timeoutMs: timeout, ...rest }),
);

const notifications = section(
  {
    timeout: duration({ description: 'Per attempt.', default: '5s' }),
    retries: count({ description: 'Retries after a network error, a timeout, 429 or 5xx.', default: 2, min: 0 }),
    targets: notificationTargets({
      description:
        "Where rollbacks and releases are announced. URLs and header values are secrets; Slack and Teams URLs, and a webhook's with a credential header, must be https (http only for localhost).",
    }),
  },
  { description: 'Where rollbacks and releases are announced.', absent: 'empty', emptyIsAbsent: true },
  ({ timeout, retries, targets }) => ({ timeoutMs: timeout, retries, targets }),
);

const replicate = section(
  {
    parallel: count({
      description: 'Parallel COPY streams and index builds of `rel db replicate`.',
      default: 4,
      max: MAX_PARALLEL,
    }),
  },
  { description: "`rel db replicate`'s settings.", absent: 'empty', emptyIsAbsent: true },
);

const release = section(
  {
    replicate: flag({ description: '`rel release` copies the live database into the idle one first.', default: false }),
    monitor: duration({
      description: 'How long `rel release` watches production after the switch; 0: not at all.',
      default: '600',
      allowZero: true,
    }),
    monitorInterval: optionalDuration({ description: 'Between checks of that watch. Default monitor.interval.' }),
    checks: list(
      optionalSection(
        {
          name: matching(/^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$/, 'a short name', {
            description: 'Names it in output and the journal.',
          }),
          command: command({
            description: "The program and its arguments (never a shell string), run in the config file's directory.",
          }),
          timeout: duration({ description: 'Killed and failed after this long.', default: '60s' }),
        },
        { description: 'A check: it passes when its command exits 0.', absent: 'missing', skipInvalid: true },
        ({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }),
      ),
      {
        description: 'Commands run against the idle environment before traffic moves to it, in order.',
        expected: 'a list of { name, command, timeout }',
        unique: 'name',
      },
    ),
  },
  { description: "`rel release`'s defaults.", absent: 'empty', emptyIsAbsent: true },
  ({ replicate, monitor, monitorInterval, checks }) => ({
    replicate,
    monitorMs: monitor,
    ...(monitorInterval === undefined ? {} : { monitorIntervalMs: monitorInterval }),
    checks,
  }),
);

/**
 * The schema of rel.config.yaml (zod), for one file: what it reads is a {@link RelConfig}. The loader reads the file
 * with it (values `${VAR}`-substituted first; `loadConfig` and `parseConfig` do all that), and the JSON Schema
 * shipped as `@rel/release/rel.config.schema.json` is made of it.
 */
export function relConfigSchema(context: SchemaContext) {
  const dir = resolve(context.file, '..');
  const anchored = (path: string) => (isAbsolute(path) ? path : resolve(dir, path));
  return section(
    {
      project: matching(PROJECT_NAME, 'lowercase letters, digits, _ . - (max 41)', {
        description: 'Names containers, networks and volumes (<project>-<env>-<role>) and the default state directory.',
      }),
      registry: section(
        {
          server: matching(REGISTRY, 'a registry host[:port] like ghcr.io', {
            description: 'Registry host[:port] the images live in, e.g. ghcr.io or 127.0.0.1:5000.',
          }),
          username: optionalText({
            description: "With password: explicit credentials. Without: Docker's config.json.",
          }),
          password: optionalText({ description: 'With username (use ${VAR}).', secret: true }),
          dockerConfig: optionalText({
            description:
              'Directory of the Docker config.json used without explicit credentials. Default $DOCKER_CONFIG or ~/.docker.',
          }),
        },
        { description: 'Where the images are.', absent: 'missing' },
        ({ dockerConfig, ...rest }) => ({
          ...rest,
          ...(dockerConfig === undefined ? {} : { dockerConfig: resolve(dir, dockerConfig) }),
        }),
      ),
      images: section(
        {
          backend: matching(REPOSITORY, 'an image repository without tag', {
            description: 'Repository of the API image, without tag; the version is the tag.',
          }),
          frontend: matching(REPOSITORY, 'an image repository without tag', {
            description: 'Repository of the client image, without tag.',
          }),
          database: matching(IMAGE_WITH_TAG, 'an image reference with a tag', {
            description: 'The PostgreSQL image, with its tag.',
          }),
        },
        { description: 'The images.', absent: 'missing' },
      ),
      environments: section({ blue: ports('blue'), green: ports('green') } satisfies Record<Environment, unknown>, {
        description: 'Ports published on 127.0.0.1 per environment.',
        absent: 'missing',
      }),
      database,
      backend,
      frontend,
      stateDir: optionalText({
        description:
          'State (release lock, journal, live record), backups and logs. Default one per project on the machine, shared by every workspace: $REL_STATE_HOME/<project>, /var/lib/rel/<project> as root, else ~/.local/state/rel/<project>.',
      }),
      labels: labels({ description: 'Extra labels on every container, network and volume rel creates.' }),
      nginx: nginx(anchored),
      notifications,
      monitor,
      replicate,
      release,
    },
    { description: 'rel.config.yaml: the project rel releases.', absent: 'missing' },
    ({ database: { readyTimeoutMs, ...database }, stateDir, monitor, release, nginx, ...rest }) => {
      const absoluteStateDir =
        stateDir === undefined ? defaultStateDir(rest.project || 'rel', context.env) : anchored(stateDir);
      const secrets = [
        ...secretTexts(context.texts ?? []),
        ...rest.notifications.targets.flatMap(notificationTargetSecrets),
      ];
      return {
        file: context.file,
        ...rest,
        database,
        ...(nginx === undefined ? {} : { nginx }),
        databaseReadyTimeoutMs: readyTimeoutMs,
        stateDir: absoluteStateDir,
        monitor: {
          ...monitor,
          textfile: anchored(monitor.textfile ?? join(absoluteStateDir, 'monitor', 'rel_monitor.prom')),
        },
        release: { ...release, monitorIntervalMs: release.monitorIntervalMs ?? monitor.intervalMs },
        secrets: [...new Set(secrets)].filter((s) => s.length > 0),
      };
    },
  );
}

/** A validated `rel.config.yaml`. Values from `${VAR}` are already substituted; paths are absolute. */
export type RelConfig = z.output<ReturnType<typeof relConfigSchema>>;
/** The nginx in front of the environments. */
export type NginxConfig = NonNullable<RelConfig['nginx']>;
/** How nginx is told about a changed config (reload method). */
export type NginxReload = NginxConfig['reload'];
export type NotificationsConfig = RelConfig['notifications'];
/** `rel monitor`'s policy and files (defaults match the seed: every 30 s, rollback after 3 failures in a row). */
export type MonitorConfig = RelConfig['monitor'];
/** `rel release`'s defaults. */
export type ReleaseConfig = RelConfig['release'];
/** A command run against the idle environment before traffic moves to it; it passes when it exits 0. */
export type ReleaseCheck = ReleaseConfig['checks'][number];
/** `rel db replicate`'s settings. */
export type ReplicateConfig = RelConfig['replicate'];
/** Ports published on 127.0.0.1 for one environment. */
export type EnvironmentPorts = RelConfig['environments'][Environment];
export type HealthCheck = RelConfig['backend']['health'];
