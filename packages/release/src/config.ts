// `@rel/release/config`: the project configuration alone (rel.config.yaml: schema, loading, validation, the
// units it is written in), the redaction of its secrets, and the exit codes both apps document. Nothing behind it
// opens a Docker, database or HTTP client, so a tool that only reads the configuration (and rel's start-up) loads
// none of them.

export { redact } from '@rel/core';
export type { Interpolation } from './config/interpolate.js';
export { interpolate } from './config/interpolate.js';
export type { LoadConfigOptions } from './config/load.js';
export { DEFAULT_CONFIG_FILE, defaultStateDir, loadConfig, parseConfig, resolveConfigPath } from './config/load.js';
export type {
  EnvironmentPorts,
  HealthCheck,
  MonitorConfig,
  NginxConfig,
  NginxReload,
  NotificationsConfig,
  RelConfig,
  ReleaseCheck,
  ReleaseConfig,
  ReplicateConfig,
  SchemaContext,
} from './config/schema.js';
export { relConfigSchema } from './config/schema.js';
export type { ConfigSchema } from './config/sections.js';
export { parseShare, parseSize, parseWholeNumber } from './config/units.js';
export type { ExitCode } from './exit-codes.js';
export { EXIT, exitCodeFor, exitCodeForRelease } from './exit-codes.js';
