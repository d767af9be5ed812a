import { RelError } from '@rel/core';
import {
  compareFingerprints,
  listLargeObjects,
  readSequences,
  type SequenceValue,
  type SourceTable,
  schemaFingerprint,
} from '../catalog.js';
import { hashLargeObjects, nextSequenceValue, runPool, type TableChecksum } from '../copy.js';
import { CHECKSUM_DESCRIPTION } from '../sql.js';
import type { VerificationSummary } from '../types.js';
import type { Checksums } from './checksums.js';
import type { Progress, Run } from './context.js';
import { guard, throwIfAborted } from './errors.js';
import type { Sessions } from './pools.js';

/** What is verified: the snapshot's tables, sequences and large objects. */
export interface Verified {
  tables: readonly SourceTable[];
  sequences: readonly SequenceValue[];
  largeObjects: readonly string[];
}

/**
 * Verifies the copy against the source at the snapshot (the exporter's session): schema parity, then each
 * table's row count and checksum (those of the copy not taken yet are taken now), sequences, large objects.
 * Throws STEP_FAILED naming the first difference; returns the summary and each table's rows (by dump name).
 */
export async function verify(
  run: Run,
  sessions: Sessions,
  checksums: Checksums,
  { tables, sequences, largeObjects }: Verified,
  progress: Progress,
): Promise<{ summary: VerificationSummary; rows: Map<string, number> }> {
  await sessions.openTarget();
  const target = sessions.target[0]!.client;
  const [sourceSchema, copySchema] = await guard(run, 'comparing schemas', () =>
    Promise.all([schemaFingerprint(sessions.exporter!), schemaFingerprint(target)]),
  );
  checkSchema(run.newWhere, sourceSchema, copySchema);
  progress(`schema: ${sourceSchema.length} objects equal`);

  const missing = tables.filter((table) => !checksums.copy.has(table.qualified));
  let checked = 0;
  await runPool(missing, run.options.parallel, async (table, worker) => {
    throwIfAborted(run);
    await checksums.onCopy(sessions.target[worker]!.client, table);
    checked++;
    if (checked % 10 === 0 || checked === missing.length) {
      progress(`checksummed ${checked} of ${missing.length} tables`, {
        current: checked,
        total: missing.length,
        unit: 'tables',
      });
    }
  });
  await checksums.sourceDone();
  const { rows, rowCounts } = compareTables(run.names.target, tables, checksums.source, checksums.copy);
  progress(`rows: ${tables.length} tables, ${rows} rows equal`);

  const copySequences = await guard(run, 'reading sequences of the copy', () => readSequences(target));
  checkSequences(run.names.target, sequences, copySequences);

  const copyObjects = await guard(run, 'listing large objects of the copy', () => listLargeObjects(target));
  checkLargeObjectList(run.names.target, largeObjects, copyObjects);
  if (largeObjects.length > 0) {
    const [a, b] = await guard(run, 'comparing large objects', () =>
      Promise.all([hashLargeObjects(sessions.exporter!, largeObjects), hashLargeObjects(target, largeObjects)]),
    );
    checkLargeObjectHashes(run.names.target, largeObjects, a, b);
  }
  return {
    summary: {
      schemaObjects: sourceSchema.length,
      tables: tables.length,
      rows,
      sequences: sequences.length,
      largeObjects: largeObjects.length,
      checksum: CHECKSUM_DESCRIPTION,
    },
    rows: rowCounts,
  };
}

/** Schema parity: the same multiset of fingerprints on both sides. */
export function checkSchema(newWhere: string, sourceSchema: string[], copySchema: string[]): void {
  const diff = compareFingerprints(sourceSchema, copySchema);
  if (diff.onlyInSource.length > 0 || diff.onlyInCopy.length > 0) {
    const show = (items: string[]) => (items.length === 0 ? 'nothing' : items.slice(0, 3).join('; '));
    throw new RelError(
      'STEP_FAILED',
      `verification failed: the schema of ${newWhere} differs from the source's: only in the source: ${show(diff.onlyInSource)}; only in the copy: ${show(diff.onlyInCopy)} (${diff.onlyInSource.length + diff.onlyInCopy.length} differences)`,
      { details: { onlyInSource: diff.onlyInSource.slice(0, 50), onlyInCopy: diff.onlyInCopy.slice(0, 50) } },
    );
  }
}

/** Each table's row count and checksum, equal on both sides; returns the rows in all and by table. */
export function compareTables(
  targetDatabase: string,
  tables: readonly SourceTable[],
  source: ReadonlyMap<string, TableChecksum>,
  copy: ReadonlyMap<string, TableChecksum>,
): { rows: number; rowCounts: Map<string, number> } {
  const mismatches: string[] = [];
  let rows = 0;
  const rowCounts = new Map<string, number>();
  for (const table of tables) {
    const a = source.get(table.qualified)!;
    const b = copy.get(table.qualified)!;
    rowCounts.set(table.dumpName, b.rows);
    rows += b.rows;
    if (a.rows !== b.rows || a.checksum !== b.checksum) {
      mismatches.push(
        `table ${table.dumpName}: the source has ${a.rows} rows (checksum ${a.checksum}), the copy ${b.rows} rows (checksum ${b.checksum})`,
      );
    }
  }
  if (mismatches.length > 0) {
    throw new RelError(
      'STEP_FAILED',
      `verification failed: ${mismatches[0]}${mismatches.length > 1 ? ` (and ${mismatches.length - 1} more tables)` : ''}; ${targetDatabase} is untouched`,
      { details: { mismatches: mismatches.slice(0, 50) } },
    );
  }
  return { rows, rowCounts };
}

/** No sequence of the copy behind the source's: pg_dump reads them a little after the snapshot. */
export function checkSequences(
  targetDatabase: string,
  sequences: readonly SequenceValue[],
  copySequences: readonly SequenceValue[],
): void {
  const copyByName = new Map(copySequences.map((seq) => [seq.qualified, seq]));
  for (const seq of sequences) {
    const copy = copyByName.get(seq.qualified);
    const expected = nextSequenceValue(seq);
    const actual = copy ? nextSequenceValue(copy) : undefined;
    // Ahead is harmless, behind would reuse values.
    const behind = actual === undefined || (BigInt(seq.increment) > 0n ? actual < expected : actual > expected);
    if (behind) {
      throw new RelError(
        'STEP_FAILED',
        `verification failed: sequence ${seq.qualified} would next give ${actual ?? 'nothing'} in the copy, ${expected} on the source; ${targetDatabase} is untouched`,
      );
    }
  }
}

/** The same large objects (by oid, in order) on both sides. */
export function checkLargeObjectList(
  targetDatabase: string,
  largeObjects: readonly string[],
  copyObjects: readonly string[],
): void {
  if (copyObjects.join(',') !== largeObjects.join(',')) {
    throw new RelError(
      'STEP_FAILED',
      `verification failed: the source has ${largeObjects.length} large objects, the copy ${copyObjects.length}; ${targetDatabase} is untouched`,
    );
  }
}

/** The same contents (md5) of each large object on both sides. */
export function checkLargeObjectHashes(
  targetDatabase: string,
  largeObjects: readonly string[],
  source: ReadonlyMap<string, string>,
  copy: ReadonlyMap<string, string>,
): void {
  for (const oid of largeObjects) {
    if (source.get(oid) !== copy.get(oid)) {
      throw new RelError(
        'STEP_FAILED',
        `verification failed: large object ${oid} differs (md5 ${source.get(oid)} on the source, ${copy.get(oid)} in the copy); ${targetDatabase} is untouched`,
      );
    }
  }
}
