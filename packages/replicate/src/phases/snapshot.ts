import { errorMessage, RelError } from '@rel/core';
import type pg from 'pg';
import {
  type DatabaseLocale,
  listExtensions,
  listLargeObjects,
  listTables,
  readDatabaseLocale,
  readSequences,
  type SequenceValue,
  type SourceExtension,
  type SourceTable,
} from '../catalog.js';
import { oneLine } from '../connection.js';
import type { Run } from './context.js';

/** Tables locked by one LOCK TABLE statement. */
const LOCK_BATCH = 500;

/** The source as of one instant, and what the run copies of it. */
export interface Snapshot {
  /** `pg_export_snapshot()`: every other reader imports it. */
  id: string;
  /** ISO time of the snapshot (the source server's clock). */
  at: string;
  /** `server_version_num` of the source. */
  sourceVersion: number;
  tables: SourceTable[];
  /** Read right after the snapshot is taken: ahead of its rows, never behind. */
  sequences: SequenceValue[];
  largeObjects: string[];
  extensions: SourceExtension[];
  locale: DatabaseLocale;
}

/**
 * Exports a snapshot from `exporter`, which keeps it (a REPEATABLE READ transaction left open), reads the
 * catalog as of it, and locks the tables to copy ACCESS SHARE (as pg_dump does: none can be dropped or altered
 * meanwhile).
 */
export async function takeSnapshot(run: Run, exporter: pg.Client): Promise<Snapshot> {
  await exporter.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows } = await exporter.query<{ id: string; at: Date }>(
    'SELECT pg_catalog.pg_export_snapshot() AS id, statement_timestamp() AS at',
  );
  const id = rows[0]!.id;
  const sourceVersion = Number(
    (await exporter.query<{ v: string }>(`SELECT pg_catalog.current_setting('server_version_num') AS v`)).rows[0]!.v,
  );
  const at = rows[0]!.at.toISOString();
  const sequences = await readSequences(exporter);
  const tables = await listTables(exporter);
  const largeObjects = await listLargeObjects(exporter);
  const extensions = await listExtensions(exporter);
  const locale = await readDatabaseLocale(exporter);
  await lockTables(run, exporter, tables);
  return { id, at, sourceVersion, tables, sequences, largeObjects, extensions, locale };
}

/** ACCESS SHARE on every table, for the snapshot's transaction; STEP_FAILED when one stays locked for 30 s. */
export async function lockTables(run: Run, exporter: pg.Client, tables: readonly SourceTable[]): Promise<void> {
  if (tables.length === 0) return;
  await exporter.query(`SET LOCAL lock_timeout = '30s'`);
  try {
    for (let i = 0; i < tables.length; i += LOCK_BATCH) {
      const names = tables.slice(i, i + LOCK_BATCH).map((table) => table.qualified);
      await exporter.query(`LOCK TABLE ${names.join(', ')} IN ACCESS SHARE MODE`);
    }
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      throw new RelError(
        'STEP_FAILED',
        `a table of ${run.sourceWhere} stays locked by another session (a migration?): ${oneLine(errorMessage(error))}`,
      );
    }
    throw error;
  }
  await exporter.query(`SET LOCAL lock_timeout = 0`);
}
