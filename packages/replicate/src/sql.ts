import { RelError } from '@rel/core';
import type { ColumnHash } from './catalog.js';

/** `"name"`, with inner quotes doubled: every identifier this library writes into SQL goes through it. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new RelError('BAD_INPUT', `invalid identifier ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
}

/** `'text'`, for the few places a literal cannot be a parameter (utility statements). */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new RelError('BAD_INPUT', `invalid literal ${JSON.stringify(text)}`);
  return `'${text.replace(/'/g, "''")}'`;
}

export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

const NEW_SUFFIX = '__rel_new';
const PREVIOUS_SUFFIX = '__rel_previous';
/** The previous copy during a swap, dropped right after it. */
const OLD_SUFFIX = '__rel_old';
/** PostgreSQL truncates identifiers at 63 bytes: the suffixed names must fit. */
export const MAX_TARGET_NAME_BYTES = 63 - Buffer.byteLength(PREVIOUS_SUFFIX);

export function newDatabaseName(target: string): string {
  return `${target}${NEW_SUFFIX}`;
}

export function previousDatabaseName(target: string): string {
  return `${target}${PREVIOUS_SUFFIX}`;
}

export function oldDatabaseName(target: string): string {
  return `${target}${OLD_SUFFIX}`;
}

/** How row checksums are computed; reported in the result. */
export const CHECKSUM_DESCRIPTION =
  "count(*) and the sum of a 64-bit hash of each row: the xor of its columns' hashes, each with a seed of its own (PostgreSQL's hash of the type where that tells values apart exactly, text byte-wise; else of the column's text)";

/**
 * Rows and an order-independent checksum of one table (its own rows only: `ONLY`): the sum, as numeric so that
 * it cannot overflow, of a 64-bit hash of each row. A sum (not a xor) so that identical rows of a table without
 * a primary key all count. A row's hash is the xor of its columns' hashes, each seeded with the column's
 * position (so that values moved between columns change it), a NULL a constant of its own. A column is hashed by
 * PostgreSQL's own hash function of its type where that tells every two different values apart (integers, text
 * and varchar compared as bytes, timestamps, dates, uuid, bytea...: see `ColumnHash`), else by the hash of its
 * text, which depends on DateStyle, TimeZone, extra_float_digits... (set alike in every session of a run).
 * About three times cheaper than hashing each row's binary form (`record_send`), which builds a record per row.
 */
export function checksumQuery(table: string, columns: readonly string[], hashes: readonly ColumnHash[]): string {
  const terms = columns.map((column, i) => {
    const value = `rel_row.${column}`;
    const hash = hashes[i] ?? 'text';
    const call =
      hash === 'text'
        ? `pg_catalog.hashtextextended(${value}::text COLLATE "C", ${i})`
        : hash === 'array'
          ? `pg_catalog.hash_array_extended(ARRAY[${value}], ${i})`
          : hash === 'hashtextextended'
            ? `pg_catalog.hashtextextended(${value} COLLATE "C", ${i})`
            : `pg_catalog.${hash}(${value}, ${i})`;
    return `coalesce(${call}, ${-(i + 1)})`;
  });
  const row = terms.length > 0 ? terms.join(' # ') : '0::int8';
  return `SELECT count(*)::text AS rows, coalesce(sum(${row}), 0)::text AS checksum FROM ONLY ${table} AS rel_row`;
}
