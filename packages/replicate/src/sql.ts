import { RelError } from '@rel/core';

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
  'count(*) and the sum of a 64-bit hash of each row: of its binary form (record_send) when every column has a built-in type, else of its text';

/**
 * Rows and an order-independent checksum of one table (its own rows only: `ONLY`): the sum, as numeric so that
 * it cannot overflow, of a 64-bit hash of each row. A sum (not a xor) so that identical rows of a table without
 * a primary key all count. The hash is of the row's binary form when every column has a built-in type (exact,
 * independent of session settings, about twice as fast), else of its text (which depends on DateStyle,
 * TimeZone, extra_float_digits..., set alike in every session of a run).
 */
export function checksumQuery(table: string, binary: boolean): string {
  const hash = binary
    ? 'pg_catalog.hash_record_extended(ROW(pg_catalog.record_send(ROW(rel_row.*))), 0)'
    : 'pg_catalog.hashtextextended(ROW(rel_row.*)::text, 0)';
  return `SELECT count(*)::text AS rows, coalesce(sum(${hash}), 0)::text AS checksum FROM ONLY ${table} AS rel_row`;
}
