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
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import {
  BULK_LOAD_SETTINGS,
  benchDatabaseScripts,
  dockerCli as docker,
  dockerExec,
  dockerWithFile,
  gib,
  loadBenchDatabase,
  median,
  mib,
  psql,
  seconds,
  startBenchServer,
  timeInRounds,
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

if (!existsSync(dist)) {
  console.error(`${dist} is missing: build it with \`cd packages/replicate && npx tsup\` (or npm run build)`);
  process.exit(1);
}
const { replicateDatabase } = await import(dist);

const TARGET_SETTINGS = ["shared_buffers = '256MB'", "max_wal_size = '4GB'"];

const id = randomBytes(4).toString('hex');
const srcName = `relbench-replicate-src-${id}`;
const dstName = `relbench-replicate-dst-${id}`;
const password = randomBytes(12).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'rel-bench-replicate-'));
const started = Date.now();
try {
  const [srcPort, dstPort] = await Promise.all([
    startBenchServer(srcName, password, BULK_LOAD_SETTINGS),
    startBenchServer(dstName, password, TARGET_SETTINGS),
  ]);
  const settings = (port, database) => ({ host: '127.0.0.1', port, user: 'app', password, database });
  const { size, tables } = await loadBenchDatabase(srcName, benchDatabaseScripts(EVENTS), MIN_BYTES);
  // Warm the source's page cache for all three alike.
  await psql(srcName, tables.map((t) => `SELECT count(*) FROM ${t.table};`).join(' '));

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
        const queue = tables.map((t) => t.table);
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
  console.log(`replication of a ${gib(size)} database:`);
  await timeInRounds(
    variants.filter((v) => !ONLY || ONLY.includes(v.key)),
    ROUNDS,
    resetTarget,
  );
  const [rel, seed, raw] = variants;
  const d = relResult.durations;
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
