import type { EventSink } from '@rel/core';
import type Dockerode from 'dockerode';

/** A Docker engine to talk to: the dockerode instance and a human-readable address for messages. */
export interface DockerClient {
  docker: Dockerode;
  /** Where the engine is, for messages: `unix:///var/run/docker.sock` or the `DOCKER_HOST` value. */
  endpoint: string;
}

/** Credentials for one registry, as `docker login` stores them. */
export interface RegistryAuth {
  /** The registry host (and port): `127.0.0.1:5000`, `ghcr.io`, `docker.io`. */
  serveraddress: string;
  username: string;
  password: string;
}

/** An image reference split into its parts: `127.0.0.1:5000/rel-sample/api:v1`. */
export interface ImageRef {
  /** `127.0.0.1:5000`; `docker.io` when the reference names no registry. */
  registry: string;
  /** `rel-sample/api`; Docker Hub's official images get their `library/` prefix. */
  repository: string;
  /** `v1`; `latest` when the reference names no tag. */
  tag: string;
}

/** Labels that tie a resource to a project, an environment and a role. */
export interface EnvironmentLabelValues {
  /** The project name, as in the configuration. */
  project: string;
  /** `blue` or `green` (any string is accepted: this package does not decide environment names). */
  environment: string;
  /** What the container is within its environment: `api`, `db`, `client`. */
  role?: string;
  /** The release version it runs: `v20251108-001`. */
  version?: string;
}

/** A container as `findContainers` reports it. */
export interface ContainerInfo {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  /** The image reference it was created from. */
  image: string;
  /** From the `rel.*` labels; `''` when the label is missing. */
  project: string;
  environment: string;
  role: string;
  version: string;
  /** Docker's state: `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`. */
  state: string;
  /** Docker's text: `Up 5 minutes (healthy)`. */
  status: string;
  /** From the container's health check; `none` when it has none. */
  health: 'healthy' | 'unhealthy' | 'starting' | 'none';
  /** Published ports (host side is always on 127.0.0.1 for containers this package starts). */
  ports: PortBinding[];
  /** All labels of the container. */
  labels: Record<string, string>;
  createdAt: Date;
}

export interface PortBinding {
  /** The port inside the container. */
  container: number;
  /** The port on the host (127.0.0.1). */
  host: number;
}

/** What `runContainer` creates and starts. */
export interface ContainerSpec {
  /** Container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. */
  name: string;
  /** Image reference; must already be present locally (`runContainer` never pulls). */
  image: string;
  /** Environment variables. Their values never appear in messages, details or events. */
  env?: Record<string, string>;
  /** Labels, typically `environmentLabels(...)`. */
  labels?: Record<string, string>;
  /** Replaces the image's entrypoint, e.g. to run a tool the image carries. Default: the image's. */
  entrypoint?: string[];
  /** Command (arguments array); default: the image's. */
  cmd?: string[];
  /** Network to attach to (instead of Docker's default bridge), with DNS aliases on it. */
  network?: { name: string; aliases?: string[] };
  /** Published TCP ports, always bound to 127.0.0.1. `host: 0` lets Docker pick a free port. */
  ports?: PortBinding[];
  /** Named volumes to mount (created by Docker if missing). */
  volumes?: { name: string; target: string }[];
  /** Health check, as in a Dockerfile's HEALTHCHECK; default: the image's. */
  healthcheck?: {
    /** `['CMD', 'wget', '-q', '-O-', 'http://127.0.0.1:8080/health']` or `['CMD-SHELL', '...']`. */
    test: string[];
    /** Time between checks. Docker's default: 30 s. */
    intervalMs?: number;
    /** Time one check may take. Docker's default: 30 s. */
    timeoutMs?: number;
    /** Consecutive failures before `unhealthy`. Docker's default: 3. */
    retries?: number;
    /** Grace period during which failures do not count. Docker's default: 0. */
    startPeriodMs?: number;
  };
  /** Restart policy. Default `no`. */
  restart?: 'no' | 'unless-stopped' | 'on-failure';
  /** Memory limit in bytes. Default: none. */
  memoryBytes?: number;
}

export interface RunContainerOptions {
  /** Remove an existing container of the same name first. Default `false`: an existing one is an error. */
  replace?: boolean;
  /** With `replace`: seconds to let the old container stop before it is killed. Default 10. */
  stopTimeoutSec?: number;
  /** Progress events (step `run`). */
  onEvent?: EventSink;
}

export interface RunContainerResult {
  id: string;
  name: string;
  /** The published ports as Docker bound them (a requested `host: 0` shows the chosen port). */
  ports: PortBinding[];
}

export interface ContainerStats {
  /** Memory in use, without the page cache that can be reclaimed (as `docker stats` shows it). */
  memoryBytes: number;
  /** The container's memory limit, or the host's memory when it has none. */
  memoryLimitBytes: number;
  /** CPU use over the sampling interval, 100 = one full core (as `docker stats` shows it). */
  cpuPercent: number;
  at: Date;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
