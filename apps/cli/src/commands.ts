import type { RelConfig } from '@rel/release/config';
import type { Reporter } from './report/reporter.js';

export interface GlobalOptions {
  config?: string;
  json: boolean;
  dryRun: boolean;
  verbose: boolean;
}

/** What a command gets: its arguments, the global options, a reporter, and the config on demand. */
export interface CommandContext {
  args: string[];
  /** The environment rel runs in (`${VAR}` values, Jenkins' BUILD_URL). */
  env: NodeJS.ProcessEnv;
  options: GlobalOptions & Record<string, string | boolean | undefined>;
  reporter: Reporter;
  /** Loads and validates the config the first time it is called. */
  config(): RelConfig;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export interface CommandModule {
  /** Returns the exit code (default 0). */
  run(context: CommandContext): Promise<number | undefined>;
}

export interface CommandSpec {
  /** The words that name the command: `['deploy', 'backend']`. */
  path: string[];
  /** Names of positional arguments, for usage and arity. */
  args: string[];
  /** Names of optional positional arguments after those. */
  optional?: string[];
  summary: string;
  /** Options of this command beyond the global ones. */
  options?: Record<string, { type: 'boolean' | 'string'; description: string }>;
  /** Loaded only when the command runs, so `rel --help` loads no Docker, database or HTTP client. */
  load: () => Promise<CommandModule>;
}

const FORCE = {
  force: { type: 'boolean', description: 'allow the live environment (or one a release is using) as the target' },
} as const;

export const COMMANDS: CommandSpec[] = [
  {
    path: ['release'],
    args: [],
    optional: ['version'],
    summary:
      'release to the idle environment: deploy, [replicate], migrate, check, switch, watch; journaled, resumable',
    options: {
      backend: { type: 'string', description: 'the backend version, when it differs from <version>' },
      frontend: { type: 'string', description: 'the frontend version, when it differs from <version>' },
      only: { type: 'string', description: 'backend or frontend: only that changes; the other keeps the live version' },
      replicate: { type: 'boolean', description: 'copy the live database into the idle one first (release.replicate)' },
      'no-replicate': { type: 'boolean', description: 'do not copy the live database' },
      monitor: {
        type: 'string',
        description: 'watch production this long after the switch (default 600s; 0: no watch)',
      },
      'monitor-interval': { type: 'string', description: 'between checks of that watch (default 30s)' },
      'pause-before-switch': {
        type: 'boolean',
        description: 'stop once the idle environment is verified (exit 5) until rel release promote',
      },
    },
    load: () => import('./commands/release.js').then((m) => m.releaseCommand),
  },
  {
    path: ['release', 'resume'],
    args: [],
    optional: ['id'],
    summary: 'continue the interrupted or held release from its first unfinished step',
    load: () => import('./commands/release.js').then((m) => m.resumeCommand),
  },
  {
    path: ['release', 'promote'],
    args: [],
    optional: ['id'],
    summary: 'approve the release paused before its switch: switch traffic, watch, done',
    load: () => import('./commands/release.js').then((m) => m.promoteCommand),
  },
  {
    path: ['release', 'abort'],
    args: [],
    optional: ['id'],
    summary: 'end the paused, held or interrupted release; live traffic is not touched',
    options: { reason: { type: 'string', description: 'why, for the journal and the notifications' } },
    load: () => import('./commands/release.js').then((m) => m.abortCommand),
  },
  {
    path: ['history'],
    args: [],
    optional: ['id'],
    summary: 'past releases (id, version, environment, who, started, duration, outcome); with <id>: one, step by step',
    options: { limit: { type: 'string', description: 'how many releases to list (default 20)' } },
    load: () => import('./commands/release.js').then((m) => m.historyCommand),
  },
  {
    path: ['deploy', 'backend'],
    args: ['env', 'version'],
    summary: 'pull the API image, (re)start the database and the API of <env>, health-check it',
    options: { ...FORCE },
    load: () => import('./commands/deploy.js').then((m) => m.deployBackendCommand),
  },
  {
    path: ['deploy', 'frontend'],
    args: ['env', 'version'],
    summary: 'pull the client image, replace the client of <env>, health-check it',
    options: { ...FORCE },
    load: () => import('./commands/deploy.js').then((m) => m.deployFrontendCommand),
  },
  {
    path: ['db', 'migrate'],
    args: ['env'],
    summary: "back up <env>'s database, apply the API image's EF Core migrations, verify, test the API",
    options: { ...FORCE },
    load: () => import('./commands/db.js').then((m) => m.migrateCommand),
  },
  {
    path: ['db', 'backup'],
    args: ['env'],
    summary: "back up <env>'s database (pg_dump -Fc by the database container) into the state directory",
    load: () => import('./commands/db.js').then((m) => m.backupCommand),
  },
  {
    path: ['db', 'restore'],
    args: ['env', 'backup'],
    summary: "restore <env>'s database from a backup (a file, a name in the state directory, or latest)",
    options: {
      ...FORCE,
      // separate from --force: allowing the live environment must never also mean trusting any file
      'force-unverified': {
        type: 'boolean',
        description: 'restore a file no backup manifest vouches for (a dump from elsewhere, an old backup)',
      },
    },
    load: () => import('./commands/db.js').then((m) => m.restoreCommand),
  },
  {
    path: ['db', 'replicate'],
    args: ['from', 'to'],
    summary: "copy <from>'s database into <to> (parallel COPY on one snapshot, build then swap, verified)",
    options: {
      force: { type: 'boolean', description: 'allow <to> to be the live environment (its data is replaced)' },
      'freeze-writes': { type: 'boolean', description: "make <from>'s database read-only while it is copied" },
      parallel: { type: 'string', description: 'parallel copy streams and index builds (default 4)' },
    },
    load: () => import('./commands/db.js').then((m) => m.replicateCommand),
  },
  {
    path: ['switch'],
    args: ['env'],
    summary: 'move nginx traffic to <env> after checking it; verify through nginx; switch back on failure',
    load: () => import('./commands/switch.js').then((m) => m.switchCommand),
  },
  {
    path: ['rollback'],
    args: ['env'],
    summary: 'emergency: move traffic straight back to <env>, verify, send critical notifications',
    options: { reason: { type: 'string', description: 'why, for the notifications and the event log' } },
    load: () => import('./commands/switch.js').then((m) => m.rollbackCommand),
  },
  {
    path: ['monitor', 'report'],
    args: ['log'],
    summary: 'render the HTML report of a monitor log (next to it, or --output)',
    options: { output: { type: 'string', description: 'where to write the report (default: the log with .html)' } },
    load: () => import('./commands/monitor.js').then((m) => m.reportCommand),
  },
  {
    path: ['monitor'],
    args: ['duration'],
    summary: 'watch the live environment for <duration> (600, 10m); on a breach roll back by itself',
    options: {
      interval: { type: 'string', description: 'between checks (default 30s, or monitor.interval)' },
      threshold: { type: 'string', description: 'consecutive failed checks that roll back (default 3)' },
      timeout: { type: 'string', description: 'per probe request (default 5s)' },
      failures: { type: 'string', description: 'also roll back on N failed of the last M checks: N/M' },
      p95: { type: 'string', description: 'also roll back when p95 latency is above this (e.g. 800ms)' },
      'p95-window': { type: 'string', description: 'checks the p95 is taken over (default 10)' },
      'memory-limit': { type: 'string', description: 'also roll back above this memory (e.g. 512MiB)' },
      'memory-growth': { type: 'string', description: 'also roll back when memory grows by more (e.g. 50%)' },
      url: { type: 'string', description: 'one more http(s) URL to check every time' },
      'no-rollback': { type: 'boolean', description: 'report a breach, exit 1, do not roll back' },
    },
    load: () => import('./commands/monitor.js').then((m) => m.monitorCommand),
  },
  {
    path: ['status'],
    args: [],
    summary: "which environment is live and since when; each environment's containers, versions and health",
    load: () => import('./commands/status.js').then((m) => m.statusCommand),
  },
];

export const GLOBAL_OPTIONS = {
  config: { type: 'string', description: 'config file (default ./rel.config.yaml, or $REL_CONFIG)' },
  json: { type: 'boolean', description: 'one JSON event per line on stdout' },
  'dry-run': { type: 'boolean', description: 'print the plan; change nothing' },
  verbose: { type: 'boolean', description: 'more detail, and error codes' },
  help: { type: 'boolean', description: 'show help' },
  version: { type: 'boolean', description: 'show the version of rel' },
} as const;

export function usage(spec: CommandSpec): string {
  return `rel ${[...spec.path, ...spec.args.map((a) => `<${a}>`), ...(spec.optional ?? []).map((a) => `[<${a}>]`)].join(' ')}`;
}
