// The frame the database benchmarks share (bench/backup, bench/replicate): a throwaway PostgreSQL server of the
// sandbox image with settings of the bench's choosing, a large database loaded into it and described, and the
// variants timed in alternating rounds.

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dockerCli, gib, median, mib, seconds } from './bench.js';
import { postgresRunArgs, psql, waitForPostgres } from './postgres.js';

/** Settings that only make a bulk load faster (no fsync, wal_level minimal, no autovacuum): for a source only read. */
export const BULK_LOAD_SETTINGS: readonly string[] = [
  'fsync = off',
  'synchronous_commit = off',
  'full_page_writes = off',
  'wal_level = minimal',
  'max_wal_senders = 0',
  "max_wal_size = '8GB'",
  "checkpoint_timeout = '30min'",
  'autovacuum = off',
  "shared_buffers = '256MB'",
  "maintenance_work_mem = '512MB'",
];

/**
 * The benchmarks' database, in two scripts to run at once (a session each): `events` the dominant table
 * (`eventRows` rows: 7.5 million make about 1.2 GiB with the rest), customers, products, orders and order lines
 * with keys, foreign keys and secondary indexes (so a copy has post-data to build), settings as jsonb, and a large
 * object. CREATE and INSERT in one transaction: with wal_level=minimal the rows are not WAL-logged.
 */
export function benchDatabaseScripts(eventRows: number): string[] {
  return [
    `BEGIN;
   CREATE TABLE events (
     id bigint NOT NULL, occurred_at timestamptz NOT NULL, customer_id int NOT NULL, kind text NOT NULL,
     source text NOT NULL, payload text NOT NULL);
   INSERT INTO events
   SELECT i, timestamptz '2025-01-01' + i * interval '1 second', 1 + (i::bigint * 7919) % 200000,
          (ARRAY['page_view','click','add_to_cart','checkout','login','logout','search'])[1 + i % 7],
          'web-' || (i % 13), md5(i::text) || ' ' || md5((i::bigint * 31)::text) || ' session ' || (i % 50000)
     FROM generate_series(1, ${eventRows}) AS i;
   COMMIT;
   ALTER TABLE events ADD PRIMARY KEY (id);
   CREATE INDEX events_customer ON events (customer_id);
   CREATE INDEX events_occurred ON events (occurred_at);`,
    `BEGIN;
   CREATE TABLE customers (
     id int PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, country text NOT NULL, created_at timestamptz NOT NULL);
   INSERT INTO customers
   SELECT i, 'Customer ' || i, 'customer' || i || '@example.com', (ARRAY['FR','DE','US','JP','BR'])[1 + i % 5],
          timestamptz '2020-01-01' + i * interval '17 minutes'
     FROM generate_series(1, 200000) AS i;
   CREATE TABLE products (id int PRIMARY KEY, sku text NOT NULL, title text NOT NULL, price numeric(10,2) NOT NULL);
   INSERT INTO products SELECT i, 'SKU-' || lpad(i::text, 6, '0'), 'Product ' || md5(i::text), (i % 997) + 0.99
     FROM generate_series(1, 20000) AS i;
   CREATE TABLE orders (
     id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), status text NOT NULL,
     total numeric(12,2) NOT NULL, created_at timestamptz NOT NULL);
   INSERT INTO orders
   SELECT i, 1 + i % 200000, (ARRAY['new','paid','shipped','delivered','refunded'])[1 + i % 5], (i % 100000) / 100.0,
          timestamptz '2023-01-01' + i * interval '30 seconds'
     FROM generate_series(1, 1000000) AS i;
   SELECT setval('orders_id_seq', 1000000);
   CREATE INDEX orders_customer ON orders (customer_id);
   CREATE TABLE order_lines (order_id bigint NOT NULL REFERENCES orders (id), line int NOT NULL,
     product_id int NOT NULL REFERENCES products (id), quantity int NOT NULL, PRIMARY KEY (order_id, line));
   INSERT INTO order_lines SELECT o, l, 1 + (o * l) % 20000, 1 + (o + l) % 5
     FROM generate_series(1, 1000000) AS o, generate_series(1, 2) AS l;
   CREATE TABLE settings (key text PRIMARY KEY, value jsonb NOT NULL);
   INSERT INTO settings SELECT 'key.' || i, jsonb_build_object('n', i, 'on', i % 2 = 0) FROM generate_series(1, 500) AS i;
   SELECT lo_from_bytea(0, convert_to(repeat('attachment ', 100000), 'UTF8'));
   COMMIT;`,
  ];
}

/**
 * Starts a PostgreSQL server `name` (user and database `app`, label rel.test=1, its port published on 127.0.0.1)
 * with `settings` applied by ALTER SYSTEM and a restart (the sample image's entrypoint loses `-c` arguments: busybox
 * su takes them for its own); returns its host port.
 */
export async function startBenchServer(name: string, password: string, settings: readonly string[]): Promise<number> {
  // Parallel VACUUM keeps its dead tuples in shared memory: more than Docker's default 64 MB /dev/shm.
  await dockerCli(...postgresRunArgs(name, password, ['--shm-size=1g']));
  await waitForPostgres(name);
  for (const setting of settings) await psql(name, `ALTER SYSTEM SET ${setting}`);
  await dockerCli('restart', '-t', '30', name);
  await waitForPostgres(name);
  const { stdout } = await dockerCli('port', name, '5432/tcp');
  return Number(stdout.trim().split('\n')[0]!.split(':').pop());
}

export interface LoadedTable {
  table: string;
  bytes: number;
  indexBytes: number;
  rows: number;
}

/**
 * Runs the load scripts at once (a session each), then VACUUM (FREEZE, ANALYZE) and a checkpoint, so that no
 * background work runs during the timings; prints the database's size and tables and fails below `minBytes`.
 */
export async function loadBenchDatabase(
  name: string,
  scripts: readonly string[],
  minBytes: number,
): Promise<{ size: number; tables: LoadedTable[] }> {
  const started = Date.now();
  await Promise.all(scripts.map((sql) => psql(name, sql)));
  await psql(name, 'VACUUM (FREEZE, ANALYZE)');
  await psql(name, 'CHECKPOINT');
  const size = Number(await psql(name, "SELECT pg_database_size('app')"));
  const listed = await psql(
    name,
    `SELECT relname || ' ' || pg_table_size(oid) || ' ' || pg_indexes_size(oid) || ' ' || reltuples::bigint
       FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY pg_table_size(oid) DESC`,
  );
  const tables = listed.split('\n').map((line) => {
    const [table, bytes, indexBytes, rows] = line.split(' ');
    return { table: table!, bytes: Number(bytes), indexBytes: Number(indexBytes), rows: Number(rows) };
  });
  const described = tables.map(
    (t) => `${t.table} ${mib(t.bytes)} + indexes ${mib(t.indexBytes)} (${t.rows.toLocaleString('en')} rows)`,
  );
  console.log(`database: ${gib(size)} made in ${seconds(Date.now() - started)}; tables: ${described.join(', ')}`);
  if (size < minBytes)
    throw new Error(`the database is ${gib(size)}, less than ${gib(minBytes)}: raise BENCH_EVENT_ROWS`);
  return { size, tables };
}

/** Runs `docker <args>` with its stdout written to `file` (0600) or its stdin read from it, as a shell redirect does. */
export function dockerWithFile(args: readonly string[], file: string, direction: 'in' | 'out'): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, direction === 'out' ? 'w' : 'r', 0o600);
    const stdio: ['ignore' | number, 'inherit' | number, 'inherit'] =
      direction === 'out' ? ['ignore', fd, 'inherit'] : [fd, 'inherit', 'inherit'];
    const child = spawn('docker', args, { stdio });
    // a docker that cannot start emits 'error' and then 'close': the first of them ends it
    child.once('error', reject);
    child.once('close', (code) => {
      closeSync(fd);
      code === 0 ? resolve() : reject(new Error(`docker ${args.slice(0, 4).join(' ')}... exited ${code}`));
    });
  });
}

export interface BenchVariant {
  label: string;
  /** Its time of each round, in ms. */
  times: number[];
  run(): Promise<void>;
}

/**
 * Times the variants in `rounds` rounds, one after another, the order turning every round so that none always
 * runs first (or after the same one); `before` runs ahead of each, untimed. Prints each round, then the medians.
 */
export async function timeInRounds(
  variants: readonly BenchVariant[],
  rounds: number,
  before: () => Promise<void> = async () => {},
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length]!;
      await before();
      const t0 = Date.now();
      await variant.run();
      variant.times.push(Date.now() - t0);
    }
    console.log(`  round ${round + 1}: ${variants.map((v) => `${v.label} ${seconds(v.times.at(-1)!)}`).join('; ')}`);
  }
  const width = Math.max(...variants.map((v) => v.label.length)) + 1;
  console.log(`${rounds} round(s), the order turning, medians:`);
  for (const v of variants) {
    console.log(
      `  ${`${v.label}:`.padEnd(width)} ${seconds(median(v.times))}  (all: ${v.times.map(seconds).join(', ')})`,
    );
  }
}
