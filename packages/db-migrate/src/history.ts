import type pg from 'pg';

export const HISTORY_TABLE = '"__EFMigrationsHistory"';
export const CHECKSUM_TABLE = '"__RelMigrationChecksums"';

/** EF Core's history table, as Npgsql creates it. */
const CREATE_HISTORY = `CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
    "MigrationId" character varying(150) NOT NULL,
    "ProductVersion" character varying(32) NOT NULL,
    CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId")
)`;

const CREATE_CHECKSUMS = `CREATE TABLE IF NOT EXISTS ${CHECKSUM_TABLE} (
    "MigrationId" character varying(150) NOT NULL PRIMARY KEY,
    "Sha256" character(64) NOT NULL,
    "Source" text NOT NULL,
    "AppliedAt" timestamptz NOT NULL DEFAULT now()
)`;

export async function ensureHistoryTables(client: pg.Client): Promise<void> {
  await client.query(CREATE_HISTORY);
  await client.query(CREATE_CHECKSUMS);
}

async function tableExists(client: pg.Client, table: string): Promise<boolean> {
  const result = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  return result.rows[0]!.t !== null;
}

/** Ids in `"__EFMigrationsHistory"`, sorted; `[]` when the table does not exist yet. */
export async function readHistory(client: pg.Client): Promise<string[]> {
  if (!(await tableExists(client, HISTORY_TABLE))) return [];
  const result = await client.query<{ id: string }>(
    `SELECT "MigrationId" AS id FROM ${HISTORY_TABLE} ORDER BY "MigrationId" COLLATE "C"`,
  );
  return result.rows.map((row) => row.id);
}

/** Recorded checksums of applied migrations, by id. */
export async function readChecksums(client: pg.Client): Promise<Map<string, string>> {
  if (!(await tableExists(client, CHECKSUM_TABLE))) return new Map();
  const result = await client.query<{ id: string; sha: string }>(
    `SELECT "MigrationId" AS id, "Sha256" AS sha FROM ${CHECKSUM_TABLE}`,
  );
  return new Map(result.rows.map((row) => [row.id, row.sha]));
}

/** Records a migration as applied in the history table (unless the script did) and its checksum. */
export async function recordApplied(
  client: pg.Client,
  entry: { id: string; checksum: string; source: string; productVersion: string },
): Promise<void> {
  await client.query(
    `INSERT INTO ${HISTORY_TABLE} ("MigrationId", "ProductVersion") VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    [entry.id, entry.productVersion],
  );
  await client.query(
    `INSERT INTO ${CHECKSUM_TABLE} ("MigrationId", "Sha256", "Source") VALUES ($1, $2, $3)
     ON CONFLICT ("MigrationId") DO UPDATE SET "Sha256" = EXCLUDED."Sha256", "Source" = EXCLUDED."Source", "AppliedAt" = now()`,
    [entry.id, entry.checksum, entry.source],
  );
}
