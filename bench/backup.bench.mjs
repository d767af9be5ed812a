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
// The database is the benchmarks' own (@rel/test-utils bench-database.ts: INSERT ... SELECT generate_series,
// `events` the dominant table), made in a throwaway container (label rel.test=1) with settings that only make
// the load faster (no fsync, wal_level minimal; autovacuum off, a VACUUM FREEZE ANALYZE after the load instead,
// so that no background vacuum runs during the timings): pg_dump only reads.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'packages/db-migrate/dist/index.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Rows of the dominant table: about 1.2 GiB with the others.
const EVENTS = Number(process.env.BENCH_EVENT_ROWS ?? 7_500_000);
// A smaller database, for trying the bench itself: BENCH_EVENT_ROWS=100000 BENCH_MIN_BYTES=0.
const MIN_BYTES = Number(process.env.BENCH_MIN_BYTES ?? 1024 ** 3);

if (!existsSync(dist)) {
  console.error(`${dist} is missing: build it with \`cd packages/db-migrate && npx tsup\` (or npm run build)`);
  process.exit(1);
}
const { backupDatabase } = await import(dist);
// @rel/docker's streaming exec, the one `rel db backup` uses, when built (npm run build does).
const dockerDist = join(root, 'packages/docker/dist/index.js');
const relDocker = existsSync(dockerDist) ? await import(dockerDist) : undefined;
if (relDocker && !relDocker.execInContainerStream) throw new Error(`${dockerDist} is stale: rebuild @rel/docker`);

const name = `relbench-backup-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'rel-bench-backup-'));
const started = Date.now();
try {
  await startBenchServer(name, randomBytes(12).toString('hex'), BULK_LOAD_SETTINGS);
  if ((await psql(name, 'SHOW wal_level')) !== 'minimal') throw new Error('the load settings did not apply');
  const { size } = await loadBenchDatabase(name, benchDatabaseScripts(EVENTS), MIN_BYTES);

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
      // what an operator types: `docker exec <db> pg_dump -Fc -U app app > file`
      label: 'pg_dump -Fc by hand',
      times: [],
      bytes: 0,
      async run() {
        await dockerWithFile(['exec', name, 'pg_dump', '-Fc', '-U', 'app', 'app'], handFile, 'out');
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
  console.log(`backup of a ${gib(size)} database:`);
  await timeInRounds(variants, ROUNDS);
  console.log(`  dump sizes: ${variants.map((v) => `${v.label} ${mib(v.bytes)}`).join('; ')}`);
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
