// @rel/release: the composition of rel's libraries. Each flow is one seed script (deploy, migrate, replicate,
// switch, rollback, monitor-and-act), `startRelease` is the whole pipeline, journaled and resumable; the release
// lock, notifications and the project configuration are here too. Both apps (the CLI, the Jenkins adapter)
// are thin over it. Every function takes its clients and an event sink; nothing prints.

// the project configuration (also alone as @rel/release/config)
export * from './config.js';
// which environment is live and which idle; the guard of the single-step commands
export type { EnvironmentName, LiveView, TargetGuardOptions } from './environments.js';
export { guardTarget, parseEnvironmentName, readLiveView, resolveEnvironment } from './environments.js';
// the flows: one per seed script
export type { DatabaseOptions, RestoreSourceOptions } from './flows/database.js';
export {
  backupDir,
  backupEnvironment,
  checkRestoreSource,
  migrateEnvironment,
  restoreEnvironment,
  trustedBackupDirs,
} from './flows/database.js';
export type { DeployOptions, DeployPlan, DeployResult } from './flows/deploy.js';
export { deployBackend, deployFrontend, imagesOf, planDeploy, pullImages } from './flows/deploy.js';
export type { MonitorLiveOptions, MonitorLiveResult } from './flows/monitor.js';
export { monitorLive, policyOptions, writeMonitorReport } from './flows/monitor.js';
export type { ReplicateEnvironmentOptions, ReplicatePlan } from './flows/replicate.js';
export { checkReplicatePair, checkReplicateTargets, planReplicate, replicateEnvironment } from './flows/replicate.js';
export type { EnvironmentStatus } from './flows/status.js';
export { formatLive, formatStatus, readStatus } from './flows/status.js';
export type { RollbackResult, SwitchOptions } from './flows/switch.js';
export {
  checkEnvironment,
  readLive,
  requireNginx,
  rollbackTo,
  switchEnvironment,
  switchFiles,
} from './flows/switch.js';
// one release step at a time
export type { AcquireReleaseLockOptions, LockHolder, ProcessIdentity, ReleaseLock } from './lock.js';
export {
  acquireReleaseLock,
  currentUser,
  processState,
  RELEASE_LOCK_FILE,
  readLockHolder,
  thisProcess,
} from './lock.js';
export type { Announcement } from './notify/announce.js';
export { announce } from './notify/announce.js';
// notifications (Slack, Teams, webhooks)
export * from './notify/index.js';
export type { CheckRun, PreSwitchCheckOptions } from './release/checks.js';
export { checkEnvironmentVariables, runPreSwitchChecks } from './release/checks.js';
// the release: plan, run, resume, promote, abort, and its journal
export { ciBuildFromEnvironment } from './release/ci.js';
export { formatRelease, formatReleaseList } from './release/format.js';
export type {
  CiBuild,
  JournalListing,
  ReleaseRecord,
  ReleaseRunner,
  ReleaseStatus,
  ReleaseStepId,
  ReleaseStepRecord,
  StepStatus,
} from './release/journal.js';
// a release by id, or by a unique prefix of it
export { findRecord as readRelease, journalDir, listRecords, RELEASE_STEPS } from './release/journal.js';
export type { OpenRelease } from './release/open.js';
export { describeOpenRelease, findOpenRelease, refuseOpenRelease, versionText } from './release/open.js';
export type { ReleasePlan, ReleaseRequest } from './release/plan.js';
export { describePlan, planRelease } from './release/plan.js';
export type { ReleaseContext, ReleaseEvent, ReleaseEventContext, ReleaseOutcome } from './release/run.js';
export {
  abortRelease,
  promoteRelease,
  RELEASE_STEP_PREFIX,
  resumeRelease,
  startRelease,
} from './release/run.js';
