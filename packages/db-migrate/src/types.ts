import type { EventSink } from '@rel/core';
import type { DatabaseExec, ExecResult } from '@rel/postgres';
import type { SqlStatement } from './sql-text.js';

// The connection and the way pg_dump, pg_restore and psql are run are @rel/postgres's. This library runs the tools
// inside the database container, as a user the server trusts on its local socket (`pg_dump -U <user>` needs no
// password there): the CLI implements `DatabaseExec` with a streaming exec of @rel/docker; tests with `docker exec -i`.
export type { DatabaseConnection, DatabaseExec, ExecOptions, ExecResult } from '@rel/postgres';

/**
 * Runs the migration bundle: `efbundle --connection <cs> [--verbose]`. `bundleInvocation` builds its arguments
 * with no password in them (the password goes in a PGPASSFILE); rel runs it with `runOneOffContainer` (@rel/docker)
 * in a container of the API image on the environment's network.
 */
export type RunBundle = (options: { verbose: boolean; signal?: AbortSignal }) => Promise<ExecResult>;

/** Where migrations come from: the three forms an Entity Framework Core team ships. */
export type MigrationSource =
  /** A folder of `<MigrationId>.sql` files, applied in the order of their ids. */
  | { kind: 'sql-folder'; dir: string }
  /** A script written by `dotnet ef migrations script --idempotent` for Npgsql. */
  | { kind: 'idempotent-script'; file: string }
  /**
   * An `efbundle`, run through `run`. `migrations`, when known (from the image), lists its ids: it makes
   * pending and verification exact; without it, what the bundle applied is read from the history table.
   */
  | { kind: 'bundle'; run: RunBundle; migrations?: string[] };

/** One migration read from a SQL folder or an idempotent script. */
export interface Migration {
  id: string;
  /** The file it was read from. */
  file: string;
  /** sha256 (hex) of its SQL: the whole file (folder) or its blocks (idempotent script). */
  checksum: string;
  /** Its statements, offsets relative to `fileText`; transaction control statements removed. */
  statements: SqlStatement[];
  /** The whole file, for positions. */
  fileText: string;
  /** Why it must run outside a transaction (`CREATE INDEX CONCURRENTLY`), if it must. */
  nonTransactional?: string;
}

export interface BackupResult {
  /** Absolute path of the dump (custom format). */
  file: string;
  bytes: number;
  /** sha256 of the file, hex. */
  sha256: string;
  durationMs: number;
  /** Entries `pg_restore --list` found in it (0 for an empty database). */
  entries: number;
  /** Older backups removed to keep the last N (their manifests too). */
  removed: string[];
  /** The manifest written beside the dump (`<file>.json`): what restores check the file against. */
  manifest: string;
}

/**
 * What `backupDatabase` records about each dump, in `<dump>.json` beside it (mode 0600, written atomically):
 * a restore accepts a file only when a manifest it trusts records its sha256 and size.
 */
export interface BackupManifest {
  kind: 'rel-backup';
  version: 1;
  /** The dump's file name (no directory): the manifest is `<file>.json` in the same directory. */
  file: string;
  /** sha256 of the dump, hex. */
  sha256: string;
  bytes: number;
  database: string;
  /** What the backup is of, as the caller said (`BackupDatabaseOptions.environment`), e.g. `green`. */
  environment?: string;
  /** When the dump was written, ISO 8601. */
  createdAt: string;
  /** Entries `pg_restore --list` found in it. */
  entries: number;
}

/** A file `verifyBackup` accepted: its sha256 and size match a trusted manifest of the database. */
export interface VerifiedBackup {
  /** Absolute path of the dump. */
  file: string;
  sha256: string;
  bytes: number;
  manifest: BackupManifest;
  /** The manifest's path. */
  manifestFile: string;
}

export interface BackupDatabaseOptions {
  exec: DatabaseExec;
  /** Database name: letters, digits, `_`, `.`, `-`. */
  database: string;
  /** Database user pg_dump connects as over the container's local socket. */
  user: string;
  /** Directory for the dumps (created with mode 0700). */
  dir: string;
  /** Backups of this database to keep, the newest. Default 10. */
  keep?: number;
  /** pg_dump `--compress` level 0-9. Default: pg_dump's own (6 for the custom format). */
  compression?: number;
  /** What the backup is of (e.g. `green`), recorded in its manifest. */
  environment?: string;
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface RestoreDatabaseOptions {
  exec: DatabaseExec;
  /**
   * A dump written by `backupDatabase`: unless `sha256` is given or `allowUnverified`, a manifest in `backupDirs`
   * must record its sha256 and size (`verifyBackup`), else BAD_INPUT before anything is touched.
   */
  file: string;
  database: string;
  user: string;
  /** When given, the file's sha256 must match before anything is dropped (the manifest is then not needed). */
  sha256?: string;
  /** Directories whose backup manifests are trusted. Default: the file's own directory. */
  backupDirs?: string[];
  /**
   * Restore a file no trusted manifest vouches for (a `pg_dump -Fc` from elsewhere, a backup from before manifests):
   * the check still runs and its finding is reported as a warning and in `RestoreResult.unverified`.
   */
  allowUnverified?: boolean;
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface RestoreResult {
  file: string;
  database: string;
  durationMs: number;
  /** The sha256 of the bytes restored, hex. */
  sha256: string;
  /** The manifest that vouched for the file, when one did. */
  manifest?: BackupManifest;
  /** Why the file was not verified, when it was restored with `allowUnverified` all the same. */
  unverified?: string;
}

/** A statement that will take heavy locks, rewrite a table, lose data or break the version still running. */
export interface MigrationWarning {
  migrationId: string;
  /** Rule name: `index-without-concurrently`, `alter-column-type`, `drop-column`, ... */
  rule: string;
  message: string;
  file?: string;
  line?: number;
  statement?: string;
}

export interface MigrationPlan {
  source: MigrationSource['kind'];
  /** Ids of the source not yet in the history table, in order (for a bundle without a list: unknown, `[]`). */
  pending: string[];
  alreadyApplied: string[];
  /** Ids in the history table that the source does not know. */
  unknown: string[];
  /** Pending migrations that will run outside a transaction, and why. */
  nonTransactional: { migrationId: string; reason: string }[];
  warnings: MigrationWarning[];
}

export interface MigrateResult {
  /** Ids applied by this run, in order. */
  applied: string[];
  /** Ids that were pending when the run started (what a dry run would apply). */
  pending: string[];
  alreadyApplied: string[];
  backup?: BackupResult;
  /** Lint warnings and other warnings (unknown ids in the history table). */
  warnings: MigrationWarning[];
  dryRun: boolean;
  durationMs: number;
}
