import type { Environment } from '@rel/core';
import type { NotificationTarget } from '../notify/targets.js';

/** How nginx is told about a changed config (reload method). */
export type NginxReload =
  | { kind: 'command'; command: string[] }
  | { kind: 'signal'; pidFile: string }
  | { kind: 'docker'; container: string };

/** The nginx in front of the environments. */
export interface NginxConfig {
  /** The nginx config file holding the upstreams, absolute. */
  configFile: string;
  /** Upstream names per role: the API's and (optionally) the client's. */
  upstreams: { api: string; client?: string };
  /** `socket` flips rel-managed symlinks (no reload, no dropped request); `reload` rewrites the upstreams and reloads; `auto` picks socket when the config is laid out for it. Default `auto`. */
  method: 'auto' | 'reload' | 'socket';
  /** Where the socket method's symlinks and sockets live, absolute. Default `<config dir>/rel-routes`. */
  socketDir: string;
  /** Tests a config: `nginx -t -p <prefix> -c <file>`. */
  testCommand: string[];
  reload: NginxReload;
  /** Public URL through nginx, e.g. `https://shop.example.com` (tests here: http://127.0.0.1:8088). */
  publicUrl: string;
  verify: {
    /** Path under the public URL answered by the API's health check. Default `/api/health`. */
    path: string;
    /** Consecutive responses from the target needed. Default 5. */
    consecutive: number;
    /** Deadline for them. Default 10s. */
    timeoutMs: number;
    /** How long the good responses must keep coming; undefined: 500ms for the reload method, 0 for socket. */
    settleMs?: number;
  };
  /** Response header naming the environment that answered. Default `X-Rel-Environment`. */
  header: string;
  /** Config backups kept. Default 10. */
  keepBackups: number;
}

export interface NotificationsConfig {
  /** Per attempt. Default 5s. */
  timeoutMs: number;
  /** Retries after the first attempt. Default 2. */
  retries: number;
  targets: NotificationTarget[];
}

/** `rel monitor`'s policy and files (defaults match the seed: every 30 s, rollback after 3 failures in a row). */
export interface MonitorConfig {
  /** Between checks. Default 30s. */
  intervalMs: number;
  /** Per probe request. Default 5s. */
  timeoutMs: number;
  /** Consecutive failed checks that trigger the rollback. Default 3. */
  threshold: number;
  /** Also fire on `count` failed checks among the last `of`. Default off. */
  failures?: { count: number; of: number };
  /** Also fire when the p95 latency of the last `window` checks is above `aboveMs`. Default off. */
  p95?: { aboveMs: number; window: number };
  /** Also fire when the live environment's containers use more than `limitBytes`, or grow by more than `growth` (0.5 = 50%) over the run. Default off. */
  memory?: { limitBytes?: number; growth?: number };
  /** Prometheus textfile (node_exporter's textfile collector), absolute. Default `<stateDir>/monitor/rel_monitor.prom`. */
  textfile: string;
}

/** A command run against the idle environment before traffic moves to it; it passes when it exits 0. */
export interface ReleaseCheck {
  /** Names it in output and the journal. */
  name: string;
  /** The program and its arguments (never a shell string), run in the config file's directory. */
  command: string[];
  /** Killed and failed after this long. Default 60s. */
  timeoutMs: number;
}

/** `rel release`'s defaults. */
export interface ReleaseConfig {
  /** Copy the live database into the idle environment before migrating it. Default false. */
  replicate: boolean;
  /** How long production is watched after the switch; 0 skips the watch. Default 600s (the seed's). */
  monitorMs: number;
  /** Between checks of that watch. Default `monitor.interval`. */
  monitorIntervalMs: number;
  /** Pre-switch checks, in order. Default none. */
  checks: ReleaseCheck[];
}

/** `rel db replicate`'s settings. */
export interface ReplicateConfig {
  /** Parallel COPY streams and index builds. Default 4. */
  parallel: number;
}

/** Ports published on 127.0.0.1 for one environment. */
export interface EnvironmentPorts {
  /** Host port of the API container. */
  apiPort: number;
  /** Host port of the client container. */
  clientPort: number;
  /** Host port of the database container. */
  dbPort: number;
}

export interface HealthCheck {
  /** HTTP path answered with 200 when healthy. Default `/health`. */
  path: string;
  /** How long a deploy waits for it. Default 60s (backend) / 30s (frontend). */
  timeoutMs: number;
}

/** A validated `rel.config.yaml`. Values from `${VAR}` are already substituted. */
export interface RelConfig {
  /** Where the file was read from. */
  file: string;
  /** Names containers, networks and volumes: `<project>-<env>-<role>`. */
  project: string;
  registry: {
    /** Registry host[:port] the images live in, e.g. `ghcr.io` or `127.0.0.1:5000`. */
    server: string;
    /** With `password`: explicit credentials. Without: the Docker config.json's entry for `server`. */
    username?: string;
    password?: string;
    /** Directory of the Docker config.json used when no explicit credentials are set. Default `$DOCKER_CONFIG` or `~/.docker`. */
    dockerConfig?: string;
  };
  images: {
    /** Repository of the API image, without tag; the version is the tag. */
    backend: string;
    /** Repository of the client image, without tag. */
    frontend: string;
    /** Full reference of the database image, with tag. */
    database: string;
  };
  environments: Record<Environment, EnvironmentPorts>;
  database: {
    name: string;
    user: string;
    password: string;
    /** Port PostgreSQL listens on inside its container. Default 5432. */
    port: number;
    migrations: {
      /** How the API image ships its Entity Framework Core migrations. Default `sql-folder`. */
      kind: 'sql-folder' | 'idempotent-script' | 'bundle';
      /** Where in the API image: default `/app/migrations`, `/app/migrations.sql` or `/app/efbundle`. */
      path: string;
    };
    /** Backups kept per environment. Default 10. */
    keepBackups: number;
    /** How long a migration waits for another run's lock. Default 60s. */
    lockWaitMs: number;
    /** PostgreSQL lock_timeout of migration statements. Default 5s. */
    lockTimeoutMs: number;
    /** PostgreSQL statement_timeout of migration statements; 0 = none. Default 0. */
    statementTimeoutMs: number;
  };
  backend: {
    /** Port the API listens on inside its container. Default 8080. */
    port: number;
    health: HealthCheck;
    /** An API path that reads the database, checked after migrations. Default: the health path. */
    dbCheckPath: string;
    /** Extra environment for the API container. */
    env: Record<string, string>;
  };
  frontend: Omit<RelConfig['backend'], 'dbCheckPath'>;
  /** The nginx in front; required by `rel switch`, `rel rollback` and `rel status`'s live environment. */
  nginx?: NginxConfig;
  /** Where rollbacks and releases are announced. Default none. */
  notifications: NotificationsConfig;
  /** `rel monitor`'s policy; defaults match the seed. */
  monitor: MonitorConfig;
  /** `rel db replicate`'s settings. */
  replicate: ReplicateConfig;
  /** `rel release`'s defaults. */
  release: ReleaseConfig;
  /** Extra labels put on every container, network and volume rel creates. Default none. */
  labels: Record<string, string>;
  /** Readiness deadline of the database container. Default 60s. */
  databaseReadyTimeoutMs: number;
  /**
   * Directory for state (the release lock, journal and live record), backups and logs, absolute. Default one per
   * project on the machine (`defaultStateDir`): every workspace of the project shares it.
   */
  stateDir: string;
  /** Values that must never be printed (passwords, tokens). */
  secrets: string[];
}
