export type { ReadDockerConfigAuthOptions } from './auth.js';
export { readDockerConfigAuth } from './auth.js';
export type { ConnectDockerOptions } from './client.js';
export { connectDocker, pingDocker } from './client.js';
export type { FindContainersQuery, RemoveContainersOptions } from './containers.js';
export { findContainers, removeContainers, startContainer, stopContainer } from './containers.js';
export type { DockerDeadlines } from './deadlines.js';
export { DEFAULT_DEADLINES } from './deadlines.js';
export type { ExecOptions as ContainerExecOptions, ExecStreamOptions } from './exec.js';
export { execInContainer, execInContainerStream } from './exec.js';
export { formatImageRef, parseImageRef, registryOfImage, validateTag } from './image-ref.js';
export { environmentLabels, LABELS } from './labels.js';
export { tailLogs } from './logs.js';
export type { OneOffFile, RunOneOffOptions } from './one-off.js';
export { runOneOffContainer } from './one-off.js';
export type { PullImageOptions, PullImageResult } from './pull.js';
export { pullImage } from './pull.js';
export { ensureNetwork, ensureVolume, removeNetwork, removeVolume } from './resources.js';
export { inspectContainer, runContainer } from './run.js';
export type { ContainerStatsWatch } from './stats.js';
export { containerStats, watchContainerStats } from './stats.js';
export type { DockerTlsOptions } from './tls.js';
export type {
  ContainerInfo,
  ContainerSpec,
  ContainerStats,
  DockerClient,
  EnvironmentLabelValues,
  ExecResult as ContainerExecResult,
  ImageRef,
  PortBinding,
  RegistryAuth,
  RunContainerOptions,
  RunContainerResult,
} from './types.js';
export type { HttpWaitOptions, PostgresWaitOptions, ReadinessCheck, WaitContext, WaitForReadyOptions } from './wait.js';
export { Wait, WaitStrategy, waitForReady } from './wait.js';
