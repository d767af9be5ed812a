import type pg from 'pg';
import { qualified } from './sql.js';

/** Schemas that hold no user objects. */
const USER_SCHEMA = (alias: string) =>
  `${alias}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${alias}.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

/** Not created by an extension (CREATE EXTENSION recreates those). */
const NOT_EXTENSION_MEMBER = (classId: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '${classId}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

export interface SourceTable {
  /** Quoted: `"public"."orders"`. */
  qualified: string;
  /** As pg_dump writes it (quoted only where needed): `public.orders`. */
  dumpName: string;
  /** Quoted column names, generated columns left out (COPY cannot write them). */
  columns: string[];
  /** Every column of a built-in type: COPY's binary format is safe (it embeds type oids in arrays). */
  binary: boolean;
  /** How each column (of `columns`, same order) is hashed by the checksum: see `checksumQuery`. */
  hashes: ColumnHash[];
  bytes: number;
  /** Pages of its main fork when listed (its rows are in pages 0 to `pages` - 1, or later ones when added since). */
  pages: number;
}

/**
 * How the checksum hashes a column: `pg_catalog.<function>(column, seed)` where PostgreSQL's own hash of the
 * type tells values apart exactly; `array` (hash_array_extended of a one-element array) for types whose hash
 * function is declared for another type (timestamptz, date, boolean, "char", bytea); `text` (of the text form)
 * for every other type, whose hash would take different values as equal (numeric 1.0 and 1.00, floats, jsonb,
 * interval...) or which have none.
 */
export type ColumnHash = (typeof COLUMN_HASHES)[number] | 'array' | 'text';

/** Built-in types (by oid) and the hash function, exact for them, called directly. */
const DIRECT_HASHES = {
  20: 'hashint8extended',
  21: 'hashint2extended',
  23: 'hashint4extended',
  26: 'hashoidextended',
  25: 'hashtextextended',
  1043: 'hashtextextended',
  19: 'hashnameextended',
  2950: 'uuid_hash_extended',
  1114: 'timestamp_hash_extended',
  1083: 'time_hash_extended',
  3220: 'pg_lsn_hash_extended',
  829: 'hashmacaddrextended',
  774: 'hashmacaddr8extended',
} as const;
const COLUMN_HASHES = Object.values(DIRECT_HASHES);
/** Built-in types hashed through a one-element array: timestamptz, date, boolean, "char", bytea (not domains over them: their text). */
const ARRAY_HASHED = [1184, 1082, 16, 18, 17];

const columnHashSql = (type: string) =>
  `CASE ${type} ${Object.entries(DIRECT_HASHES)
    .map(([oid, fn]) => `WHEN ${oid} THEN '${fn}'`)
    .join(' ')} WHEN ${ARRAY_HASHED.join(` THEN 'array' WHEN `)} THEN 'array' ELSE 'text' END`;

/**
 * The tables whose rows are copied: plain tables and leaf partitions, not temporary, not an extension's, except
 * its configuration tables (whose rows pg_dump copies; their presence rules out the COPY path).
 */
export async function listTables(client: pg.Client): Promise<SourceTable[]> {
  const { rows } = await client.query<{
    schema: string;
    name: string;
    dump_name: string;
    columns: string[];
    binary: boolean;
    hashes: ColumnHash[];
    bytes: string;
    pages: string;
  }>(`
    SELECT n.nspname AS schema, c.relname AS name,
           pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS dump_name,
           coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '{}') AS columns,
           coalesce(bool_and(a.atttypid < 16384 AND t.typelem < 16384) FILTER (WHERE a.attnum IS NOT NULL), true) AS binary,
           coalesce(array_agg(CASE WHEN t.typtype = 'd' AND t.typbasetype IN (${ARRAY_HASHED.join(', ')}) THEN 'text'
                                   ELSE ${columnHashSql("CASE t.typtype WHEN 'd' THEN t.typbasetype ELSE t.oid END")} END ORDER BY a.attnum)
                      FILTER (WHERE a.attnum IS NOT NULL), '{}') AS hashes,
           pg_catalog.pg_table_size(c.oid)::text AS bytes,
           (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int)::text AS pages
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_attribute a
        ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND ${USER_SCHEMA('n')}
       AND (${NOT_EXTENSION_MEMBER('pg_catalog.pg_class', 'c.oid')}
            OR c.oid IN (SELECT unnest(extconfig) FROM pg_catalog.pg_extension))
     GROUP BY c.oid, n.nspname, c.relname
     ORDER BY pg_catalog.pg_table_size(c.oid) DESC, 1, 2`);
  return rows.map((row) => ({
    qualified: qualified(row.schema, row.name),
    dumpName: row.dump_name,
    columns: row.columns.map((column) => `"${column.replace(/"/g, '""')}"`),
    binary: row.binary,
    hashes: row.hashes,
    bytes: Number(row.bytes),
    pages: Number(row.pages),
  }));
}

export interface SequenceValue {
  /** Quoted: `"public"."orders_id_seq"`. */
  qualified: string;
  lastValue: string;
  isCalled: boolean;
  increment: string;
}

/**
 * The sequences and their values. Sequences are not transactional: read right after the snapshot is taken,
 * a value may be ahead of the rows of the snapshot, never behind them.
 */
export async function readSequences(client: pg.Client): Promise<SequenceValue[]> {
  const { rows } = await client.query<{ schema: string; name: string; increment: string }>(`
    SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
     WHERE c.relkind = 'S' AND ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_catalog.pg_class', 'c.oid')}
     ORDER BY 1, 2`);
  const out: SequenceValue[] = [];
  for (let i = 0; i < rows.length; i += 200) {
    const batch = rows.slice(i, i + 200).map((row) => ({ ...row, qualified: qualified(row.schema, row.name) }));
    const values = await client.query<{ i: number; last_value: string; is_called: boolean }>(
      batch
        .map((seq, j) => `SELECT ${j} AS i, last_value::text AS last_value, is_called FROM ${seq.qualified}`)
        .join(' UNION ALL '),
    );
    for (const value of values.rows) {
      const seq = batch[value.i]!;
      out.push({
        qualified: seq.qualified,
        lastValue: value.last_value,
        isCalled: value.is_called,
        increment: seq.increment,
      });
    }
  }
  return out;
}

/** Large objects visible in the session's snapshot. */
export async function listLargeObjects(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ oid: string }>(
    'SELECT oid::text AS oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid',
  );
  return rows.map((row) => row.oid);
}

export interface SourceExtension {
  name: string;
  version: string;
  /** Tables marked with pg_extension_config_dump, whose rows pg_dump copies: the COPY path does not. */
  configTables: number;
}

export async function listExtensions(client: pg.Client): Promise<SourceExtension[]> {
  const { rows } = await client.query<{ name: string; version: string; config: number }>(
    `SELECT extname AS name, extversion AS version, coalesce(cardinality(extconfig), 0) AS config
       FROM pg_catalog.pg_extension ORDER BY 1`,
  );
  return rows.map((row) => ({ name: row.name, version: row.version, configTables: Number(row.config) }));
}

/** Encoding and locale of the current database, to create the copy alike. */
export interface DatabaseLocale {
  encoding: string;
  collate: string;
  ctype: string;
  provider: 'c' | 'i';
  icuLocale: string | null;
}

export async function readDatabaseLocale(client: pg.Client): Promise<DatabaseLocale> {
  const { rows } = await client.query<{
    encoding: string;
    collate: string;
    ctype: string;
    provider: 'c' | 'i';
    icu_locale: string | null;
  }>(
    `SELECT pg_catalog.pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype,
            datlocprovider AS provider, daticulocale AS icu_locale
       FROM pg_catalog.pg_database WHERE datname = current_database()`,
  );
  const row = rows[0]!;
  return {
    encoding: row.encoding,
    collate: row.collate,
    ctype: row.ctype,
    provider: row.provider,
    icuLocale: row.icu_locale,
  };
}

/**
 * One line per schema object, comparable between two databases: relations, columns (in order, with type,
 * nullability, default, identity, generation, collation), indexes, constraints, sequences (parameters),
 * triggers, views (definition), functions (source) and extensions. Names are schema-qualified: the session's
 * search_path is empty.
 */
const SCHEMA_FINGERPRINT = `
SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text
       || coalesce(' partition ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid), '') AS item
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND ${USER_SCHEMA('n')}
UNION ALL
SELECT 'column ' || c.oid::regclass::text || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
       || ' ' || pg_catalog.quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
       || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
       || CASE WHEN a.attcollation <> t.typcollation THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND ${USER_SCHEMA('n')}
UNION ALL
SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' invalid' END
  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${USER_SCHEMA('n')}
UNION ALL
SELECT 'constraint ' || coalesce(con.conrelid::regclass::text, con.contypid::regtype::text) || ' '
       || pg_catalog.quote_ident(con.conname) || ' ' || pg_catalog.pg_get_constraintdef(con.oid)
       || CASE WHEN con.convalidated THEN '' ELSE ' not valid' END
  FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_namespace n ON n.oid = con.connamespace
 WHERE ${USER_SCHEMA('n')}
UNION ALL
SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || pg_catalog.format_type(s.seqtypid, NULL)
       || ' start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax
       || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
  FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${USER_SCHEMA('n')}
UNION ALL
SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(tg.oid) || ' ' || tg.tgenabled::text
  FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT tg.tgisinternal AND ${USER_SCHEMA('n')}
UNION ALL
SELECT 'view ' || c.oid::regclass::text || ' ' || pg_catalog.md5(pg_catalog.pg_get_viewdef(c.oid))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMA('n')}
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text || ' ' || p.prokind::text || ' ' || pg_catalog.md5(coalesce(p.prosrc, ''))
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE ${USER_SCHEMA('n')}
UNION ALL
SELECT 'extension ' || x.extname || ' ' || x.extversion FROM pg_catalog.pg_extension x`;

export async function schemaFingerprint(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ item: string }>(SCHEMA_FINGERPRINT);
  return rows.map((row) => row.item).sort();
}

/** What one list has that the other has not (as multisets), for a mismatch message. */
export function compareFingerprints(
  source: readonly string[],
  copy: readonly string[],
): { onlyInSource: string[]; onlyInCopy: string[] } {
  const counts = new Map<string, number>();
  for (const item of source) counts.set(item, (counts.get(item) ?? 0) + 1);
  const onlyInCopy: string[] = [];
  for (const item of copy) {
    const left = counts.get(item) ?? 0;
    if (left > 0) counts.set(item, left - 1);
    else onlyInCopy.push(item);
  }
  const onlyInSource = [...counts].flatMap(([item, count]) => Array<string>(count).fill(item));
  return { onlyInSource, onlyInCopy };
}
