// bench/backup: `backupDatabase` of @rel/db-migrate against `pg_dump -Fc` run by hand, on a database of at
// least 1 GiB, measured side by side in one run (alternating, several rounds, medians).
//
// All dump in PostgreSQL's custom format with pg_dump's default compression, with the database container's
// own pg_dump. The library streams the dump through Node (sha256 and byte count on the way) into a 0600
// file, then checks it with `pg_restore --list`; it runs pg_dump through the `exec` hook it is given: here
// `docker exec -i` (as the package's tests do) and, when packages/docker is built, @rel/docker's
// execInContainerStream over the engine API (as `rel db backup` does). By hand is what an operator types:
// `docker exec <db> pg_dump -Fc -U app app > file`. The custom format has no parallel mode (only the
// directory format has `--jobs`), so pg_dump is single-threaded in all of them.
//
// The database is made here, in a throwaway container (label rel.test=1), with INSERT ... SELECT
// generate_series through psql: several tables, `events` the dominant one. The server runs with settings
// that only make the load faster (no fsync, wal_level minimal; autovacuum off, a VACUUM FREEZE ANALYZE after
// the load instead, so that no background vacuum runs during the timings): pg_dump only reads.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  dockerCli as docker,
  dockerExec,
  gib,
  median,
  mib,
  psql,
  SANDBOX_IMAGES,
  seconds,
  waitForPostgres,
} from '@rel/test-utils';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'packages/db-migrate/dist/index.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Rows of the dominant table: about 1.1 GiB with the others.
const EVENTS = Number(process.env.BENCH_EVENT_ROWS ?? 7_500_000);
// A smaller database, for trying the bench itself: BENCH_EVENT_ROWS=100000 BENCH_MIN_BYTES=0.
const MIN_BYTES = Number(process.env.BENCH_MIN_BYTES ?? 1024 ** 3);
const IMAGE = SANDBOX_IMAGES.postgres;

if (!existsSync(dist)) {
  console.error(`${dist} is missing: build it with \`cd packages/db-migrate && npx tsup\` (or npm run build)`);
  process.exit(1);
}
const { backupDatabase } = await import(dist);
// @rel/docker's streaming exec, the one `rel db backup` uses, when built (npm run build does).
const dockerDist = join(root, 'packages/docker/dist/index.js');
const relDocker = existsSync(dockerDist) ? await import(dockerDist) : undefined;
if (relDocker && !relDocker.execInContainerStream) throw new Error(`${dockerDist} is stale: rebuild @rel/docker`);

/** `docker exec <c> pg_dump -Fc -U app app > file`: docker's stdout is the file itself, as a shell redirect does. */
function pgDumpByHand(container, file) {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, 'w', 0o600);
    const child = spawn('docker', ['exec', container, 'pg_dump', '-Fc', '-U', 'app', 'app'], {
      stdio: ['ignore', fd, 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(fd);
      code === 0 ? resolve() : reject(new Error(`pg_dump by hand exited ${code}`));
    });
  });
}

const LOAD_SETTINGS = [
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

// Each part in its own session, two at a time (the machine may have few cores). CREATE and INSERT in one
// transaction: with wal_level=minimal the new table's data is not WAL-logged.
const LOAD = [
  `BEGIN;
   CREATE TABLE events (
     id bigint NOT NULL, occurred_at timestamptz NOT NULL, customer_id int NOT NULL, kind text NOT NULL,
     source text NOT NULL, payload text NOT NULL);
   INSERT INTO events
   SELECT i, timestamptz '2025-01-01' + i * interval '1 second', 1 + (i::bigint * 7919) % 200000,
          (ARRAY['page_view','click','add_to_cart','checkout','login','logout','search'])[1 + i % 7],
          'web-' || (i % 13), md5(i::text) || ' ' || md5((i::bigint * 31)::text) || ' session ' || (i % 50000)
     FROM generate_series(1, ${EVENTS}) AS i;
   COMMIT;
   ALTER TABLE events ADD PRIMARY KEY (id);`,
  `BEGIN;
   CREATE TABLE customers (
     id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, country text NOT NULL, created_at timestamptz NOT NULL);
   INSERT INTO customers
   SELECT i, 'Customer ' || i, 'customer' || i || '@example.com', (ARRAY['FR','DE','US','JP','BR'])[1 + i % 5],
          timestamptz '2020-01-01' + i * interval '17 minutes'
     FROM generate_series(1, 200000) AS i;
   CREATE TABLE products (id int PRIMARY KEY, sku text NOT NULL, title text NOT NULL, price numeric(10,2) NOT NULL);
   INSERT INTO products SELECT i, 'SKU-' || lpad(i::text, 6, '0'), 'Product ' || md5(i::text), (i % 997) + 0.99
     FROM generate_series(1, 20000) AS i;
   CREATE TABLE orders (
     id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, total numeric(12,2) NOT NULL,
     created_at timestamptz NOT NULL);
   INSERT INTO orders
   SELECT i, 1 + i % 200000, (ARRAY['new','paid','shipped','delivered','refunded'])[1 + i % 5], (i % 100000) / 100.0,
          timestamptz '2023-01-01' + i * interval '30 seconds'
     FROM generate_series(1, 1000000) AS i;
   CREATE TABLE order_lines (order_id bigint NOT NULL, line int NOT NULL, product_id int NOT NULL, quantity int NOT NULL,
     PRIMARY KEY (order_id, line));
   INSERT INTO order_lines SELECT o, l, 1 + (o * l) % 20000, 1 + (o + l) % 5
     FROM generate_series(1, 1000000) AS o, generate_series(1, 2) AS l;
   CREATE TABLE settings (key text PRIMARY KEY, value jsonb NOT NULL);
   INSERT INTO settings SELECT 'key.' || i, jsonb_build_object('n', i, 'on', i % 2 = 0) FROM generate_series(1, 500) AS i;
   COMMIT;`,
];

const name = `relbench-backup-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'rel-bench-backup-'));
const started = Date.now();
try {
  await docker(
    'run',
    '-d',
    '--name',
    name,
    '--label',
    'rel.test=1',
    '-e',
    'POSTGRES_USER=app',
    '-e',
    `POSTGRES_PASSWORD=${randomBytes(12).toString('hex')}`,
    '-e',
    'POSTGRES_DB=app',
    IMAGE,
  );
  await waitForPostgres(name);
  // Not as `-c` arguments of the container: the sample image's entrypoint loses them (busybox su takes
  // them for its own -c). ALTER SYSTEM, then a restart.
  for (const setting of LOAD_SETTINGS) await psql(name, `ALTER SYSTEM SET ${setting}`);
  await docker('restart', '-t', '30', name);
  await waitForPostgres(name);
  if ((await psql(name, 'SHOW wal_level')) !== 'minimal') throw new Error('the load settings did not apply');
  const loadStarted = Date.now();
  await Promise.all(LOAD.map((sql) => psql(name, sql)));
  await psql(name, 'VACUUM (FREEZE, ANALYZE)');
  const loadMs = Date.now() - loadStarted;
  const size = Number(await psql(name, "SELECT pg_database_size('app')"));
  const tables = (
    await psql(
      name,
      `SELECT relname || ' ' || pg_table_size(oid) || ' ' || reltuples::bigint FROM pg_class
      WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY pg_table_size(oid) DESC`,
    )
  )
    .split('\n')
    .map((line) => line.split(' '))
    .map(([table, bytes, rows]) => `${table} ${mib(Number(bytes))} (${Number(rows).toLocaleString('en')} rows)`);
  console.log(`database: ${gib(size)} made in ${seconds(loadMs)}; tables: ${tables.join(', ')}`);
  if (size < MIN_BYTES) throw new Error(`the database is ${gib(size)}, less than 1 GiB: raise BENCH_EVENT_ROWS`);

  const backupDir = join(dir, 'backups');
  const handFile = join(dir, 'by-hand.dump');
  const library = (label, execInDb) => ({
    label,
    times: [],
    bytes: 0,
    async run() {
      const result = await backupDatabase({ exec: execInDb, database: 'app', user: 'app', dir: backupDir, keep: 1 });
      this.bytes = result.bytes;
    },
  });
  const variants = [
    library('backupDatabase via docker exec -i', dockerExec(name)),
    {
      label: 'pg_dump -Fc by hand',
      times: [],
      bytes: 0,
      async run() {
        await pgDumpByHand(name, handFile);
        this.bytes = statSync(handFile).size;
      },
    },
  ];
  if (relDocker) {
    const client = relDocker.connectDocker();
    variants.push(
      library('backupDatabase via execInContainerStream', (argv, options) =>
        relDocker.execInContainerStream(client, name, argv, options),
      ),
    );
  }
  const [viaCli, byHand, viaEngine] = variants;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating, and the order turns every round.
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length];
      const t0 = Date.now();
      await variant.run();
      variant.times.push(Date.now() - t0);
    }
    console.log(`  round ${round + 1}: ${variants.map((v) => `${v.label} ${seconds(v.times.at(-1))}`).join('; ')}`);
  }
  const width = Math.max(...variants.map((v) => v.label.length)) + 1;
  console.log(`backup of a ${gib(size)} database, ${ROUNDS} rounds alternating, medians:`);
  for (const v of variants) {
    console.log(
      `  ${`${v.label}:`.padEnd(width)} ${seconds(median(v.times))}  ${mib(v.bytes)}  (all: ${v.times.map(seconds).join(', ')})`,
    );
  }
  const ratio = (v) => (median(v.times) / median(byHand.times)).toFixed(2);
  console.log(
    `  ratio backupDatabase / by hand: ${ratio(viaCli)}x with docker exec -i${viaEngine ? `, ${ratio(viaEngine)}x with execInContainerStream` : ''}` +
      ' (target <= 1.10x; custom format, default compression: single-threaded pg_dump in all; backupDatabase' +
      ' includes its sha256 and pg_restore --list check)',
  );
  console.log(`  bench took ${seconds(Date.now() - started)} in all`);
} finally {
  await docker('rm', '-f', '-v', name).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
