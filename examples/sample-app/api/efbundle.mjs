#!/usr/bin/env node
// A stand-in for an Entity Framework Core migration bundle (efbundle): the same command line
// (`efbundle [--connection <cs>] [--verbose]`) and the same history-table behaviour. Its migrations are
// the `<MigrationId>.sql` files of EFBUNDLE_MIGRATIONS (default: ./migrations beside this file), each applied
// in its own transaction with its "__EFMigrationsHistory" row. Exit 0 on success, 1 on failure.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const args = process.argv.slice(2);
let connection = process.env.EFBUNDLE_CONNECTION ?? '';
let verbose = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--connection') connection = args[++i] ?? '';
  else if (args[i] === '--verbose' || args[i] === '-v') verbose = true;
  else {
    console.error(`Unrecognized option '${args[i]}'.`);
    process.exit(1);
  }
}

/** Npgsql's `Host=...;Port=...;Database=...;Username=...;Password=...` as pg settings. */
function parseConnectionString(text) {
  const config = {};
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const key = part.slice(0, at).trim().toLowerCase();
    const value = part.slice(at + 1).trim();
    if (key === 'host' || key === 'server') config.host = value;
    else if (key === 'port') config.port = Number(value);
    else if (key === 'database') config.database = value;
    else if (key === 'username' || key === 'user id' || key === 'user') config.user = value;
    else if (key === 'password') config.password = value;
  }
  return config;
}

const dir = process.env.EFBUNDLE_MIGRATIONS ?? join(dirname(fileURLToPath(import.meta.url)), 'migrations');
const migrations = readdirSync(dir)
  .filter((name) => name.endsWith('.sql'))
  .sort()
  .map((name) => ({ id: name.slice(0, -4), sql: readFileSync(join(dir, name), 'utf8') }));

const client = new pg.Client({ ...parseConnectionString(connection), application_name: 'efbundle' });
try {
  await client.connect();
  await client.query(`CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" character varying(150) NOT NULL,
    "ProductVersion" character varying(32) NOT NULL,
    CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId"))`);
  const applied = new Set(
    (await client.query('SELECT "MigrationId" FROM "__EFMigrationsHistory"')).rows.map((r) => r.MigrationId),
  );
  const pending = migrations.filter((m) => !applied.has(m.id));
  if (pending.length === 0) console.log('No migrations were applied. The database is already up to date.');
  for (const migration of pending) {
    console.log(`Applying migration '${migration.id}'.`);
    if (verbose) console.log(migration.sql);
    await client.query('BEGIN');
    try {
      await client.query(migration.sql);
      await client.query('INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") VALUES ($1, $2)', [
        migration.id,
        '8.0.11',
      ]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  }
  console.log('Done.');
  await client.end();
} catch (error) {
  console.error(`Failed executing DbCommand: ${error.message}`);
  await client.end().catch(() => {});
  process.exit(1);
}
