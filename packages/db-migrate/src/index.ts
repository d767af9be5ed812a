export { backupDatabase, listBackups } from './backup.js';
export type { BundleInvocation, BundleInvocationOptions } from './bundle.js';
export { BUNDLE_PASSFILE, bundleInvocation } from './bundle.js';
export type { ConnectOptions } from './connection.js';
export { defaultApplicationName } from './connection.js';
export { CHECKSUM_TABLE, HISTORY_TABLE } from './history.js';
export { lintMigrations } from './lint.js';
export type { LockHolder as MigrationLockHolder, MigrationLockOptions } from './lock.js';
export { acquireMigrationLock, findMigrationLockHolder, MIGRATION_LOCK_KEY } from './lock.js';
export { manifestPath, readBackupManifest, verifyBackup } from './manifest.js';
export type { MigrateDatabaseOptions } from './migrate.js';
export { migrateDatabase } from './migrate.js';
export type { PlanMigrationsOptions } from './plan.js';
export { planMigrations } from './plan.js';
export { restoreDatabase } from './restore.js';
export type { IdempotentScript } from './sources.js';
export { detectMigrationSource, loadIdempotentScript, loadSqlFolder, parseIdempotentScript } from './sources.js';
export type { LineColumn, SqlStatement } from './sql-text.js';
export { lineColumnAt, nonTransactionalReason, splitSqlStatements } from './sql-text.js';
export type {
  BackupDatabaseOptions,
  BackupManifest,
  BackupResult,
  DatabaseConnection,
  DatabaseExec,
  ExecOptions as DatabaseExecOptions,
  ExecResult as DatabaseExecResult,
  MigrateResult,
  Migration,
  MigrationPlan,
  MigrationSource,
  MigrationWarning,
  RestoreDatabaseOptions,
  RestoreResult,
  RunBundle,
  VerifiedBackup,
} from './types.js';
