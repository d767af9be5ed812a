export type { CreateBackupOptions, RestoreBackupOptions } from './backup.js';
export { createBackup, listBackups as listConfigBackups, restoreBackup } from './backup.js';
export type { ConfigLiveOptions, RouteConfigOptions, RoutedConfig } from './config-edit.js';
export { DEFAULT_ENVIRONMENT_HEADER, liveEnvironmentOfConfig, routeConfig } from './config-edit.js';
export type { LintReloadSafetyOptions } from './lint.js';
export { lintReloadSafety } from './lint.js';
export type { NginxCommandOptions } from './nginx-process.js';
export { readNginxPid, reloadNginx, testNginxConfig } from './nginx-process.js';
export type { SocketRouting, SocketRoutingConfigOptions } from './socket-route.js';
export {
  checkSocketListening,
  detectMethod,
  LIVE_LINK,
  prepareSocketDir,
  readLiveLink,
  renderSocketRoutingConfig,
  socketPath,
  socketRoutingOfConfig,
} from './socket-route.js';
export { readState } from './state.js';
export type { LiveEnvironment, Routing, RoutingOptions } from './status.js';
export { readLiveEnvironment, readRouting } from './status.js';
export type { SwitchResult, SwitchTrafficOptions, TargetCheck } from './switch.js';
export { switchTraffic } from './switch.js';
export type {
  AuditEvent,
  AuditResult,
  BackupEntry,
  EnvironmentAddresses,
  LintRule,
  LintWarning,
  LiveMismatch,
  LiveState,
  PendingSwitch,
  ReloadMethod,
  SwitchMethod,
  UpstreamAddresses,
} from './types.js';
export type { VerificationResult, VerifyEnvironmentOptions } from './verify.js';
export { checkNginxAnswers, verifyEnvironment } from './verify.js';
