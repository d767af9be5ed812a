// bench/replicate: `replicateDatabase` of @rel/replicate against the seed's way and against the raw limit, on a
// source database of at least 1 GiB, measured in one run on the same two servers:
//
//   rel   replicateDatabase: schema by pg_dump, rows by parallel COPY streams on one snapshot, indexes and
//         constraints built in parallel, then every table checksummed on both sides, schema compared, and the
//         copy swapped in by renaming. pg_dump runs in the source container through `docker exec -i`.
//   seed  what replicate.sh does: `pg_dump -Fc` of the source to a file, drop and recreate the target
//         database, `pg_restore` into it (both with the containers' own binaries; a dump read from a pipe
//         cannot be restored with --jobs). Nothing verified.
//   raw   the limit of moving the rows: the same tables through plain `COPY ... TO STDOUT` -> `COPY ... FROM
//         STDIN` streams (text format, as many at once as rel uses), into tables without indexes or keys.
//
// Two throwaway containers (label rel.test=1). The source is loaded with settings that only make the load
// faster (no fsync, wal_level minimal) and then only read; the target keeps PostgreSQL's durable defaults
// (fsync, full_page_writes, wal_level replica) with shared_buffers 256MB and max_wal_size 4GB, for all
// three. The machine may be shared: figures are noisy; BENCH_ROUNDS (default 3) rounds, order turning, medians.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'packages/replicate/dist/index.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Rows of the dominant table: about 1.2 GiB with the others.
const EVENTS = Number(process.env.BENCH_EVENT_ROWS ?? 7_500_000);
// A smaller database, for trying the bench itself: BENCH_EVENT_ROWS=300000 BENCH_MIN_BYTES=0.
const MIN_BYTES = Number(process.env.BENCH_MIN_BYTES ?? 1024 ** 3);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 4);
// For tuning: maintenance_work_mem of rel's index builds (its default: 256MB), and which variants run.
const MWM = process.env.BENCH_MWM;
// splitTableBytes of rel (its default: 256 MiB; Infinity never splits the dominant table).
const SPLIT = process.env.BENCH_SPLIT;
const ONLY = process.env.BENCH_VARIANTS?.split(',');
const IMAGE = SANDBOX_IMAGES.postgres;

if (!existsSync(dist)) {
  console.error(`${dist} is missing: build it with \`cd packages/replicate && npx tsup\` (or npm run build)`);
  process.exit(1);
}
const { replicateDatabase } = await import(dist);

/** Runs a command in a container with its stdin or stdout bound to a file (like a shell redirect). */
function dockerWithFile(args, file, direction) {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, direction === 'out' ? 'w' : 'r', 0o600);
    const stdio = direction === 'out' ? ['ignore', fd, 'inherit'] : [fd, 'inherit', 'inherit'];
    const child = spawn('docker', args, { stdio });
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(fd);
      code === 0 ? resolve() : reject(new Error(`docker ${args.slice(0, 4).join(' ')}... exited ${code}`));
    });
  });
}

/** Starts a server; `settings` by ALTER SYSTEM and a restart (the sample image's entrypoint loses `-c`). */
async function startServer(name, password, settings) {
  await docker(
    'run',
    '-d',
    '--name',
    name,
    '--label',
    'rel.test=1',
    // Parallel VACUUM keeps its dead tuples in shared memory: more than Docker's default 64 MB /dev/shm.
    '--shm-size=1g',
    '-e',
    'POSTGRES_USER=app',
    '-e',
    `POSTGRES_PASSWORD=${password}`,
    '-e',
    'POSTGRES_DB=app',
    '-p',
    '127.0.0.1:0:5432',
    IMAGE,
  );
  await waitForPostgres(name);
  for (const setting of settings) await psql(name, `ALTER SYSTEM SET ${setting}`);
  await docker('restart', '-t', '30', name);
  await waitForPostgres(name);
  const { stdout } = await docker('port', name, '5432/tcp');
  return Number(stdout.trim().split('\n')[0].split(':').pop());
}

const SOURCE_SETTINGS = [
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
const TARGET_SETTINGS = ["shared_buffers = '256MB'", "max_wal_size = '4GB'"];

// Two sessions at once. CREATE and INSERT in one transaction: with wal_level=minimal the data is not WAL-logged.
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

const id = randomBytes(4).toString('hex');
const srcName = `relbench-replicate-src-${id}`;
const dstName = `relbench-replicate-dst-${id}`;
const password = randomBytes(12).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'rel-bench-replicate-'));
const started = Date.now();
try {
  const [srcPort, dstPort] = await Promise.all([
    startServer(srcName, password, SOURCE_SETTINGS),
    startServer(dstName, password, TARGET_SETTINGS),
  ]);
  const settings = (port, database) => ({ host: '127.0.0.1', port, user: 'app', password, database });
  const loadStarted = Date.now();
  await Promise.all(LOAD.map((sql) => psql(srcName, sql)));
  await psql(srcName, 'VACUUM (FREEZE, ANALYZE)');
  await psql(srcName, 'CHECKPOINT');
  const size = Number(await psql(srcName, "SELECT pg_database_size('app')"));
  const tableList = (
    await psql(
      srcName,
      `SELECT relname || ' ' || pg_table_size(oid) || ' ' || pg_indexes_size(oid) || ' ' || reltuples::bigint FROM pg_class
        WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY pg_table_size(oid) DESC`,
    )
  )
    .split('\n')
    .map((line) => line.split(' '));
  console.log(
    `source: ${gib(size)} made in ${seconds(Date.now() - loadStarted)}; tables: ${tableList
      .map(
        ([t, bytes, idx, rows]) =>
          `${t} ${mib(Number(bytes))} + indexes ${mib(Number(idx))} (${Number(rows).toLocaleString('en')} rows)`,
      )
      .join(', ')}`,
  );
  if (size < MIN_BYTES) throw new Error(`the source is ${gib(size)}, less than 1 GiB: raise BENCH_EVENT_ROWS`);
  // Warm the source's page cache for all three alike.
  await psql(srcName, tableList.map(([t]) => `SELECT count(*) FROM ${t};`).join(' '));

  const resetTarget = async () => {
    for (const db of ['app', 'app__rel_previous', 'app__rel_new', 'raw']) {
      await psql(dstName, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`, 'postgres');
    }
    await psql(dstName, 'CREATE DATABASE app', 'postgres');
    await psql(dstName, 'CHECKPOINT', 'postgres');
  };

  let relResult;
  const relEvents = [];
  const variants = [
    {
      key: 'rel',
      label: 'rel replicateDatabase (verified)',
      times: [],
      async run() {
        relEvents.length = 0;
        relResult = await replicateDatabase({
          source: settings(srcPort, 'app'),
          target: settings(dstPort, 'app'),
          execSource: dockerExec(srcName),
          execTarget: dockerExec(dstName),
          parallel: PARALLEL,
          ...(MWM ? { maintenanceWorkMem: MWM } : {}),
          ...(SPLIT ? { splitTableBytes: Number(SPLIT) } : {}),
          onEvent: (event) => relEvents.push(event),
        });
      },
    },
    {
      key: 'seed',
      label: 'seed pg_dump -Fc, recreate, pg_restore',
      times: [],
      async run() {
        const file = join(dir, 'seed.dump');
        await dockerWithFile(['exec', srcName, 'pg_dump', '-Fc', '-U', 'app', 'app'], file, 'out');
        await psql(dstName, 'DROP DATABASE IF EXISTS app WITH (FORCE)', 'postgres');
        await psql(dstName, 'CREATE DATABASE app', 'postgres');
        await dockerWithFile(['exec', '-i', dstName, 'pg_restore', '-U', 'app', '-d', 'app'], file, 'in');
        this.bytes = statSync(file).size;
      },
    },
    {
      key: 'raw',
      label: `raw COPY pipes, ${PARALLEL} at once, no indexes`,
      times: [],
      async run() {
        const schema = await dockerExec(srcName)(['pg_dump', '--section=pre-data', '-U', 'app', 'app']);
        await psql(dstName, 'CREATE DATABASE raw', 'postgres');
        await dockerExec(dstName)(['psql', '-X', '-q', '-U', 'app', '-d', 'raw', '-v', 'ON_ERROR_STOP=1'], {
          stdin: Readable.from([schema.stdout]),
        });
        const queue = tableList.map(([t]) => t);
        await Promise.all(
          Array.from({ length: PARALLEL }, async () => {
            const from = new pg.Client(settings(srcPort, 'app'));
            const into = new pg.Client(settings(dstPort, 'raw'));
            await Promise.all([from.connect(), into.connect()]);
            try {
              for (let table = queue.shift(); table; table = queue.shift()) {
                await pipeline(
                  from.query(copyTo(`COPY public.${table} TO STDOUT`)),
                  into.query(copyFrom(`COPY public.${table} FROM STDIN`)),
                );
              }
            } finally {
              await Promise.all([from.end(), into.end()]);
            }
          }),
        );
      },
    },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    // The order turns every round, so that none always runs first (or after the same one).
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length];
      if (ONLY && !ONLY.includes(variant.key)) continue;
      await resetTarget();
      const t0 = Date.now();
      await variant.run();
      variant.times.push(Date.now() - t0);
    }
    console.log(
      `  round ${round + 1}: ${variants
        .filter((v) => v.times.length > 0)
        .map((v) => `${v.label} ${seconds(v.times.at(-1))}`)
        .join('; ')}`,
    );
  }
  const [rel, seed, raw] = variants;
  const d = relResult.durations;
  console.log(`replication of a ${gib(size)} database, ${ROUNDS} round(s), medians:`);
  for (const v of variants.filter((x) => x.times.length > 0)) {
    console.log(`  ${`${v.label}:`.padEnd(44)} ${seconds(median(v.times))}  (all: ${v.times.map(seconds).join(', ')})`);
  }
  console.log(
    `  rel phases (last round): prepare ${seconds(d.prepareMs)}, schema ${seconds(d.schemaMs)}, rows and the indexes of tables copied ${seconds(d.copyMs)}, ` +
      `rest of post-data ${seconds(d.postDataMs)}, verify ${seconds(d.verifyMs)}, swap ${seconds(d.swapMs)}; ` +
      `method ${relResult.method}; ${relResult.verified.tables} tables, ${relResult.verified.rows.toLocaleString('en')} rows verified`,
  );
  if (process.env.BENCH_VERBOSE) {
    const detail = relEvents.filter(
      (e) => (e.type === 'log' && e.step === 'db:replicate:post-data') || /^copied /.test(e.message ?? ''),
    );
    console.log(`  rel detail: ${detail.map((e) => e.message).join('; ')}`);
  }
  if (seed.bytes) console.log(`  seed dump file: ${mib(seed.bytes)}`);
  console.log(
    `  ratio rel / seed: ${(median(rel.times) / median(seed.times)).toFixed(2)}x (target <= 0.40x); ` +
      `rel / raw: ${(median(rel.times) / median(raw.times)).toFixed(2)}x`,
  );
  console.log(`  bench took ${seconds(Date.now() - started)} in all`);
} finally {
  await docker('rm', '-f', '-v', srcName, dstName).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
