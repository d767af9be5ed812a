import { spawn } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { docker, relBin, startTestNginx, type TestNginx, testProject } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const psql = (container: string, sql: string, database = 'app') =>
  docker('exec', container, 'psql', '-U', 'app', '-d', database, '-tAc', sql);
/** Row count and an order-independent digest of the items table. */
const itemsDigest = (container: string) =>
  psql(container, "SELECT count(*) || ':' || coalesce(md5(string_agg(i::text, ',' ORDER BY id)), '') FROM items i");

/** `rel db replicate blue green --json` in the background, resolved once its rows are on their way. */
async function replicateInBackground(configFile: string) {
  const child = spawn(process.execPath, [relBin, 'db', 'replicate', 'blue', 'green', '--json', '--config', configFile]);
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  // until the copy step starts (preparing and the schema take seconds, more on a loaded machine): a run that
  // never gets there is killed before the test fails, so that it holds no lock for the next test
  const deadline = Date.now() + 90_000;
  while (!done && Date.now() < deadline && !/"step":"db:replicate:copy"/.test(out)) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!/"step":"db:replicate:copy"/.test(out)) {
    child.kill('SIGKILL');
    await exited;
  }
  expect(out).toMatch(/"step":"db:replicate:copy"/);
  return { child, exited };
}

// rel db replicate against the sample app's real PostgreSQL and API containers.
describe('rel db replicate', () => {
  const t = testProject('rep');
  const blueDb = `${t.project}-blue-db`;
  const greenDb = `${t.project}-green-db`;
  const greenApi = () => `http://127.0.0.1:${t.ports.green.apiPort}`;
  let nginx: TestNginx;

  beforeAll(async () => {
    nginx = await startTestNginx(t, 'socket');
    appendFileSync(t.configFile, nginx.yaml);
    for (const env of ['blue', 'green']) {
      for (const args of [
        ['deploy', 'backend', env, 'v1'],
        ['db', 'migrate', env],
        ['deploy', 'frontend', env, 'v1'],
      ]) {
        // fixtures: blue is what nginx routes to from the start, and serves once its API runs
        const r = await t.rel([...args, '--force']);
        expect(r.code, r.stderr).toBe(0);
      }
    }
    // blue: production data (a few hundred thousand rows, so a copy takes a moment); green: its own
    await psql(blueDb, "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 300000) g");
    await psql(greenDb, "INSERT INTO items (name) VALUES ('green only')");
    const live = await t.rel(['switch', 'blue']);
    expect(live.code, live.stderr).toBe(0);
  });
  afterAll(async () => {
    await nginx?.stop();
    await t.cleanup();
  });

  it('a copy killed with SIGKILL half-way leaves green its previous database, and its API running', async () => {
    const before = await itemsDigest(greenDb);
    // killed while the rows are on their way
    const { child, exited } = await replicateInBackground(t.configFile);
    child.kill('SIGKILL');
    await exited;
    expect(await itemsDigest(greenDb)).toBe(before);
    expect((await fetch(`${greenApi()}/items?limit=1`)).status).toBe(200);
  });

  it('blue -> green: verified, green holds blue rows, green API reads them, the previous database is kept', async () => {
    const r = await t.rel(['db', 'replicate', 'blue', 'green']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /green's database now holds blue's as of \S+: \d+ tables, 300\d{3} rows, verified \(copy\)/,
    );
    expect(r.stdout).toMatch(/green's previous database is kept as app__rel_previous/);
    expect(r.stdout + r.stderr).not.toContain('sandbox-only-db-password');
    expect(await itemsDigest(greenDb)).toBe(await itemsDigest(blueDb));
    // the EF history came along: green is at blue's schema version
    expect(await psql(greenDb, 'SELECT count(*) FROM "__EFMigrationsHistory"')).toBe('1');
    const items = (await (await fetch(`${greenApi()}/items?limit=2`)).json()) as { items: Array<{ name: string }> };
    expect(items.items.map((i) => i.name)).toEqual(['item 1', 'item 2']);
    expect(await psql(greenDb, "SELECT count(*) FROM items WHERE name = 'green only'", 'app__rel_previous')).toBe('1');
    // the lock of the killed run was taken over; nothing is left behind
    expect(existsSync(join(t.dir, 'state', 'release.lock'))).toBe(false);
    expect(await psql(greenDb, "SELECT count(*) FROM pg_database WHERE datname LIKE '%__rel_new'", 'postgres')).toBe(
      '0',
    );
  });

  it('replicate and migrate on the same environment at once: the second is refused by the release lock', async () => {
    const { exited } = await replicateInBackground(t.configFile);
    const migrate = await t.rel(['db', 'migrate', 'green']);
    expect(migrate.code).toBe(3);
    expect(migrate.stderr).toMatch(/db replicate blue green/);
    expect(await exited).toBe(0);
  });

  it('refuses to write into the live environment unless --force, and says why', async () => {
    const r = await t.rel(['db', 'replicate', 'green', 'blue']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to replicate into blue: it is the live environment.*--force/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const forced = await t.rel(['db', 'replicate', 'green', 'blue', '--force', '--dry-run']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/would:/);
  });

  it.each([
    [['blue', 'blue'], /cannot replicate blue into itself/],
    [['blue', 'purple'], /purple/],
    [['blue', 'green', '--parallel', '0'], /invalid --parallel "0"/],
  ])('bad input %j: one line, exit 2, green untouched', async (args, message) => {
    const before = await itemsDigest(greenDb);
    const r = await t.rel(['db', 'replicate', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await itemsDigest(greenDb)).toBe(before);
  });

  it('a source that is down: one line, non-zero, green untouched', async () => {
    const before = await itemsDigest(greenDb);
    await docker('stop', blueDb);
    try {
      const r = await t.rel(['db', 'replicate', 'blue', 'green']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/blue has no running database container/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(await itemsDigest(greenDb)).toBe(before);
    } finally {
      await docker('start', blueDb);
    }
  });
});
