import type { Environment } from '@rel/core';

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
  };
  backend: {
    /** Port the API listens on inside its container. Default 8080. */
    port: number;
    health: HealthCheck;
    /** Extra environment for the API container. */
    env: Record<string, string>;
  };
  frontend: {
    port: number;
    health: HealthCheck;
    env: Record<string, string>;
  };
  /** Extra labels put on every container, network and volume rel creates. Default none. */
  labels: Record<string, string>;
  /** Readiness deadline of the database container. Default 60s. */
  databaseReadyTimeoutMs: number;
  /** Directory for state, backups and logs, absolute. Default `.rel` beside the config file. */
  stateDir: string;
  /** Values that must never be printed (passwords, tokens). */
  secrets: string[];
}
