import type { RelConfig } from './config/schema.js';
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
  summary: string;
  /** Options of this command beyond the global ones. */
  options?: Record<string, { type: 'boolean' | 'string'; description: string }>;
  /** Loaded only when the command runs, so `rel --help` loads no Docker, database or HTTP client. */
  load: () => Promise<CommandModule>;
}

export const COMMANDS: CommandSpec[] = [
  {
    path: ['deploy', 'backend'],
    args: ['env', 'version'],
    summary: 'pull the API image, (re)start the database and the API of <env>, health-check it',
    load: () => import('./commands/deploy.js').then((m) => m.deployBackendCommand),
  },
  {
    path: ['deploy', 'frontend'],
    args: ['env', 'version'],
    summary: 'pull the client image, replace the client of <env>, health-check it',
    load: () => import('./commands/deploy.js').then((m) => m.deployFrontendCommand),
  },
  {
    path: ['db', 'migrate'],
    args: ['env'],
    summary: "back up <env>'s database, apply the API image's EF Core migrations, verify, test the API",
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
    load: () => import('./commands/db.js').then((m) => m.restoreCommand),
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
  return `rel ${[...spec.path, ...spec.args.map((a) => `<${a}>`)].join(' ')}`;
}
