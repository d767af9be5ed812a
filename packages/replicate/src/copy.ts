import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { SequenceValue, SourceTable } from './catalog.js';
import { checksumQuery, quoteLiteral } from './sql.js';

/** Joins a session to the exported snapshot: everything it reads is the source as of that instant. */
export async function importSnapshot(client: pg.Client, snapshotId: string): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`);
}

export interface CopiedTable {
  rows: number;
  bytes: number;
  ms: number;
}

/** A range of a table's pages, copied by a stream of its own (TID range scans: PostgreSQL 14 and later). */
export interface TablePart {
  /** 1-based. */
  index: number;
  count: number;
  fromPage: number;
  /** Exclusive; none for the last part (rows added to later pages since the listing are visible to it). */
  toPage?: number;
}

export interface CopyJob {
  table: SourceTable;
  part?: TablePart;
}

/**
 * What to copy, biggest first. With `split` (the source can scan a page range) and at least 3 streams, a table
 * that would bound the whole copy (at least `minBytes` and more than its share of the total per stream) is
 * copied as several page ranges at once, leaving one stream for the other tables: one COPY stream is bound by
 * one backend on the target, while the others sit idle once the small tables are in. Such a table is written
 * without FREEZE (only one session can truncate and load a table in one transaction).
 */
export function planCopies(
  tables: readonly SourceTable[],
  parallel: number,
  split: boolean,
  minBytes: number,
): CopyJob[] {
  const total = tables.reduce((sum, table) => sum + table.bytes, 0);
  const share = Math.max(minBytes, total / parallel);
  return tables.flatMap((table): CopyJob[] => {
    const count = Math.min(parallel - 1, Math.ceil(table.bytes / share), table.pages);
    if (!split || count < 2 || table.bytes < minBytes || table.columns.length === 0) return [{ table }];
    return Array.from({ length: count }, (_, i) => {
      const fromPage = Math.floor((table.pages * i) / count);
      const toPage = Math.floor((table.pages * (i + 1)) / count);
      return { table, part: { index: i + 1, count, fromPage, ...(i + 1 < count ? { toPage } : {}) } };
    });
  });
}

/**
 * Streams one table (or one part of it) from a snapshot session of the source into the new database: `COPY ...
 * TO STDOUT` piped into `COPY ... FROM STDIN` (binary when every column is of a built-in type). A whole table is
 * loaded in a transaction that truncates it first so that the rows are written frozen (`FREEZE`: no hint-bit
 * rewrite when they are read later); a part is appended by a COPY of its own.
 */
export async function copyTable(
  source: pg.Client,
  target: pg.Client,
  table: SourceTable,
  onBytes: (bytes: number) => void,
  part?: TablePart,
): Promise<CopiedTable> {
  const started = Date.now();
  const columns = table.columns.length > 0 ? ` (${table.columns.join(', ')})` : '';
  const binary = table.binary ? 'FORMAT binary' : '';
  const options = [...(part ? [] : ['FREEZE']), ...(binary ? [binary] : [])];
  if (!part) {
    await target.query('BEGIN');
    await target.query(`TRUNCATE ONLY ${table.qualified}`);
  }
  const into = target.query(
    copyFrom(
      `COPY ${table.qualified}${columns} FROM STDIN${options.length > 0 ? ` WITH (${options.join(', ')})` : ''}`,
    ),
  );
  const what = part
    ? `(SELECT ${table.columns.join(', ')} FROM ONLY ${table.qualified} WHERE ctid >= '(${part.fromPage},0)'::pg_catalog.tid${
        part.toPage === undefined ? '' : ` AND ctid < '(${part.toPage},0)'::pg_catalog.tid`
      })`
    : `${table.qualified}${columns}`;
  const out = source.query(copyTo(`COPY ${what} TO STDOUT${binary ? ` WITH (${binary})` : ''}`));
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  await pipeline(out, meter, into);
  if (!part) await target.query('COMMIT');
  return { rows: into.rowCount, bytes, ms: Date.now() - started };
}

const LO_CHUNK = 1 << 20;

/** Copies the contents of large objects that pre-data already created (lo_create, owner, grants) on the target. */
export async function copyLargeObjects(source: pg.Client, target: pg.Client, oids: readonly string[]): Promise<number> {
  let bytes = 0;
  await target.query('BEGIN');
  for (const oid of oids) {
    for (let offset = 0; ; offset += LO_CHUNK) {
      const { rows } = await source.query<{ data: Buffer }>(
        'SELECT pg_catalog.lo_get($1::oid, $2::bigint, $3) AS data',
        [oid, offset, LO_CHUNK],
      );
      const data = rows[0]!.data;
      if (data.length > 0) await target.query('SELECT pg_catalog.lo_put($1::oid, $2::bigint, $3)', [oid, offset, data]);
      bytes += data.length;
      if (data.length < LO_CHUNK) break;
    }
  }
  await target.query('COMMIT');
  return bytes;
}

/** md5 of each large object's contents, read in chunks (no size limit). */
export async function hashLargeObjects(client: pg.Client, oids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const oid of oids) {
    const hash = createHash('md5');
    for (let offset = 0; ; offset += LO_CHUNK) {
      const { rows } = await client.query<{ data: Buffer }>(
        'SELECT pg_catalog.lo_get($1::oid, $2::bigint, $3) AS data',
        [oid, offset, LO_CHUNK],
      );
      hash.update(rows[0]!.data);
      if (rows[0]!.data.length < LO_CHUNK) break;
    }
    out.set(oid, hash.digest('hex'));
  }
  return out;
}

/** Gives each sequence of the new database the value read on the source. */
export async function setSequences(target: pg.Client, sequences: readonly SequenceValue[]): Promise<void> {
  for (const seq of sequences) {
    await target.query('SELECT pg_catalog.setval($1::regclass, $2::bigint, $3)', [
      seq.qualified,
      seq.lastValue,
      seq.isCalled,
    ]);
  }
}

export interface TableChecksum {
  rows: number;
  checksum: string;
}

export async function tableChecksum(
  client: pg.Client,
  table: Pick<SourceTable, 'qualified' | 'columns' | 'hashes'>,
): Promise<TableChecksum> {
  const { rows } = await client.query<{ rows: string; checksum: string }>(
    checksumQuery(table.qualified, table.columns, table.hashes),
  );
  return { rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum };
}

/** The next value a sequence would hand out, as a bigint. */
export function nextSequenceValue(seq: Pick<SequenceValue, 'lastValue' | 'isCalled' | 'increment'>): bigint {
  return BigInt(seq.lastValue) + (seq.isCalled ? BigInt(seq.increment) : 0n);
}

/** Runs `work` over `items` with at most `parallel` at once; the first failure stops handing out more. */
export async function runPool<T>(
  items: readonly T[],
  parallel: number,
  work: (item: T, worker: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.min(parallel, items.length) }, async (_, worker) => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item, worker);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  await Promise.all(workers);
}
