import type { EventSink } from '@rel/core';
import type { ConnectionSettings, DatabaseExec } from '@rel/postgres';

// The connection settings and how pg_dump and pg_restore are run are @rel/postgres's.
export type { ConnectionSettings, DatabaseExec, ExecOptions, ExecResult } from '@rel/postgres';

/** `copy`: schema by pg_dump, rows by parallel COPY streams. `dump-restore`: `pg_dump -Fc | pg_restore`. */
export type ReplicationMethod = 'copy' | 'dump-restore';

export interface ReplicateOptions {
  /** The database to copy. It is only read (and, with `freezeWrites`, made read-only for a while). */
  source: ConnectionSettings;
  /**
   * The database to replace. The copy is built beside it (`<database>__rel_new`, same server), verified, then
   * swapped in by renaming; the replaced database is kept as `<database>__rel_previous`. Its name may be up to
   * 49 bytes. It need not exist yet.
   */
  target: ConnectionSettings;
  /** A database of the target server to connect to for CREATE/DROP/ALTER DATABASE. Default `postgres`. */
  maintenanceDatabase?: string;
  /** Runs pg_dump against the source. Default: the local `pg_dump`, connection through `env`. */
  execSource?: DatabaseExec;
  /** Runs pg_restore against the target server (dump-restore method only). Default: the local `pg_restore`. */
  execTarget?: DatabaseExec;
  /** COPY streams, index builds and checksums run at once. Default 4, 1 to 32. */
  parallel?: number;
  /**
   * Makes the source read-only from before the snapshot until the end of the run (always undone, also on
   * failure): `ALTER DATABASE <source> SET default_transaction_read_only = on`, then its other sessions are
   * terminated so that they reconnect read-only. Needs the source user to own the database (or be superuser)
   * and to be allowed to terminate those sessions. Default false.
   */
  freezeWrites?: boolean;
  /** Stops whatever writes to the target (its API), right before the swap. */
  stopConsumer?: () => Promise<void>;
  /** Starts it again after the swap; also called when the swap fails after `stopConsumer` was called. */
  startConsumer?: () => Promise<void>;
  /**
   * Called once the new database is complete (rows, indexes, sequences, large objects), before it is verified
   * and swapped in, with its settings: whatever it changes is verified too. Throw to cancel the swap.
   */
  beforeSwap?: (newDatabase: ConnectionSettings) => Promise<void>;
  /**
   * A table at least this big (bytes) that would bound the copy (more than its share of the total per stream)
   * is copied as several page ranges at once (sources on PostgreSQL 14+, `parallel` 3 or more), without
   * `FREEZE`. Default 256 MiB; `Infinity` never splits.
   */
  splitTableBytes?: number;
  /** `maintenance_work_mem` of the sessions that build indexes on the new database. Default `256MB`. */
  maintenanceWorkMem?: string;
  /** Force a method instead of choosing; `copy` is refused when the source needs `dump-restore`. */
  forceMethod?: ReplicationMethod;
  onEvent?: EventSink;
  /** Stops the run (ABORTED); the target is left as it was. */
  signal?: AbortSignal;
}

/** One table whose rows were copied and verified. */
export interface TableReplication {
  /** Schema-qualified, quoted where SQL needs it (as pg_dump writes it): `public.orders`, `"Shop"."Order Lines"`. */
  name: string;
  rows: number;
  /** Bytes of COPY data that went through (0 with `dump-restore`, which moves rows inside pg_dump). */
  bytes: number;
  /** Time its COPY took (0 with `dump-restore`). */
  ms: number;
}

export interface VerificationSummary {
  /** Schema objects (tables, columns, indexes, constraints, sequences, triggers, views, functions, extensions) found equal. */
  schemaObjects: number;
  /** Tables whose row count and checksum matched the source at the snapshot. */
  tables: number;
  rows: number;
  sequences: number;
  largeObjects: number;
  /** How rows were compared. */
  checksum: string;
}

export interface ReplicateResult {
  method: ReplicationMethod;
  /** Why `method` was chosen: `forced`, or what made the COPY path unable to copy faithfully. */
  reason: string;
  /** The source, as `host:port/database`. */
  source: string;
  /** The database now holding the copy, as `host:port/database`. */
  target: string;
  /** When the source snapshot was taken (ISO 8601, source server clock). The copy holds the source as of then. */
  snapshotAt: string;
  /** The write gap, said out loud: which writes to the source the copy does not hold. */
  writeGap: string;
  /** How long the source was read-only, when `freezeWrites` was set. */
  frozenMs?: number;
  tables: TableReplication[];
  sequences: number;
  largeObjects: number;
  verified: VerificationSummary;
  /** Where the replaced target database is kept (`<target>__rel_previous`); undefined when there was none. */
  previousDatabase?: string;
  durations: {
    prepareMs: number;
    schemaMs: number;
    copyMs: number;
    postDataMs: number;
    verifyMs: number;
    swapMs: number;
    totalMs: number;
  };
}
