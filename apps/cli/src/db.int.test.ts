import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { docker, testProject } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const psql = (container: string, sql: string) =>
  docker('exec', container, 'psql', '-U', 'app', '-d', 'app', '-tAc', sql);
const snapshot = (container: string) =>
  psql(
    container,
    `SELECT string_agg(format('%s=%s', c.relname, (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I', c.relname), false, true, '')))[1]::text), ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'`,
  );

// rel db migrate / backup / restore against the sample API's real images and PostgreSQL containers.
describe.each(['sql-folder', 'idempotent-script', 'bundle'] as const)('rel db (%s migrations)', (kind) => {
  const t = testProject(`db${kind[0]}`, (y) =>
    y.replace('migrations: { kind: sql-folder }', `migrations: { kind: ${kind} }`),
  );
  const db = `${t.project}-green-db`;
  const api = `http://127.0.0.1:${t.ports.green.apiPort}`;

  beforeAll(async () => {
    const r = await t.rel(['deploy', 'backend', 'green', 'v1']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => t.cleanup());

  it('v1 -> v2: applied once, a second run applies nothing, the API reads and writes', async () => {
    const plan = await t.rel(['db', 'migrate', 'green', '--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/would apply 1 migration\(s\)[\s\S]*20251101000000_InitialCreate/);
    const v1 = await t.rel(['db', 'migrate', 'green']);
    expect(v1.code, v1.stderr).toBe(0);
    expect(v1.stdout).toMatch(/applied 20251101000000_InitialCreate/);
    expect((await fetch(`${api}/items`)).status).toBe(200);

    expect((await t.rel(['deploy', 'backend', 'green', 'v2'])).code).toBe(0);
    const v2 = await t.rel(['db', 'migrate', 'green']);
    expect(v2.code, v2.stderr).toBe(0);
    expect(v2.stdout).toMatch(/applied 20251108000000_AddItemDone/);
    const again = await t.rel(['db', 'migrate', 'green']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/up to date \(2 migration\(s\) applied before\)/);
    expect(await psql(db, 'SELECT string_agg("MigrationId", \',\' ORDER BY 1) FROM "__EFMigrationsHistory"')).toBe(
      '20251101000000_InitialCreate,20251108000000_AddItemDone',
    );
    const created = await fetch(`${api}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', done: true }),
    });
    expect(created.status).toBe(201);
    // the password never shows, whatever the form (the bundle gets it in --connection)
    expect(v2.stdout + v2.stderr).not.toContain('sandbox-only-db-password');
  });

  it('backup -> restore gives identical data; backups are 0600 in the state directory', async () => {
    await fetch(`${api}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"kept"}',
    });
    const before = await snapshot(db);
    const sums = await psql(db, "SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM items i");
    const backup = await t.rel(['db', 'backup', 'green']);
    expect(backup.code, backup.stderr).toBe(0);
    const dir = join(t.dir, 'state', 'backups', 'green');
    const files = readdirSync(dir).filter((f) => f.endsWith('.dump'));
    expect(files.length).toBeGreaterThanOrEqual(1);
    expect(statSync(join(dir, files.at(-1)!)).mode & 0o777).toBe(0o600);
    await fetch(`${api}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"lost"}',
    });
    await psql(db, 'CREATE TABLE scratch (x int); INSERT INTO scratch VALUES (1)');
    const restore = await t.rel(['db', 'restore', 'green', 'latest']);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/\(verified against its manifest\)/);
    expect(await snapshot(db)).toBe(before);
    expect(await psql(db, "SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM items i")).toBe(sums);
  });

  if (kind === 'sql-folder') {
    // Security review, issue 15: psql replays the file as the database owner, so restore takes only backups rel
    // recorded (a manifest with its sha256 beside each), unless --force-unverified (not --force).
    it('restore refuses a tampered backup, a file that is not a backup, and checks the same in --dry-run', async () => {
      const dir = join(t.dir, 'state', 'backups', 'green');
      const backup = await t.rel(['db', 'backup', 'green']);
      expect(backup.code, backup.stderr).toBe(0);
      const latest = join(
        dir,
        readdirSync(dir)
          .filter((f) => f.endsWith('.dump'))
          .at(-1)!,
      );
      const manifest = JSON.parse(readFileSync(`${latest}.json`, 'utf8'));
      expect(manifest).toMatchObject({ kind: 'rel-backup', database: 'app', environment: 'green' });
      expect(statSync(`${latest}.json`).mode & 0o777).toBe(0o600);
      const before = await snapshot(db);

      const dry = await t.rel(['db', 'restore', 'green', basename(latest), '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(new RegExp(`would replace green's database with ${latest} \\(a backup of green's`));

      const original = readFileSync(latest);
      const tampered = Buffer.from(original);
      tampered.writeUInt8(tampered.readUInt8(tampered.length >> 1) ^ 0xff, tampered.length >> 1);
      writeFileSync(latest, tampered);
      try {
        for (const args of [[latest], ['latest'], [latest, '--dry-run'], [latest, '--force']]) {
          const r = await t.rel(['db', 'restore', 'green', ...args]);
          expect(r.code, r.stderr).toBe(2);
          expect(r.stderr).toMatch(
            new RegExp(`^rel: refusing to restore ${latest}: its sha256 or size does not match its manifest`),
          );
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
        }
      } finally {
        writeFileSync(latest, original);
      }

      for (const [args, file] of [
        [['/etc/hostname'], '/etc/hostname'],
        [['../../../../etc/shadow', '--dry-run'], '/etc/shadow'],
        [['/etc/hostname', '--force'], '/etc/hostname'],
      ] as const) {
        const r = await t.rel(['db', 'restore', 'green', ...args]);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(
          new RegExp(`^rel: refusing to restore ${file}: no backup manifest in .* records it .*--force-unverified`),
        );
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      expect(await snapshot(db)).toBe(before);
    });

    it('--force-unverified restores a valid dump no manifest records, and says so', async () => {
      const dir = join(t.dir, 'state', 'backups', 'green');
      const backup = await t.rel(['db', 'backup', 'green']);
      expect(backup.code, backup.stderr).toBe(0);
      const before = await snapshot(db);
      // a valid dump elsewhere that no manifest records: a backup whose manifest is gone, moved out
      const latest = join(
        dir,
        readdirSync(dir)
          .filter((f) => f.endsWith('.dump'))
          .at(-1)!,
      );
      const loose = join(t.dir, 'loose.dump');
      renameSync(latest, loose);
      rmSync(`${latest}.json`);
      await psql(db, 'CREATE TABLE after_the_dump (x int)');
      const refused = await t.rel(['db', 'restore', 'green', loose]);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/^rel: refusing to restore .*loose\.dump: no backup manifest in /);
      const dry = await t.rel(['db', 'restore', 'green', loose, '--dry-run', '--force-unverified']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(
        /would replace green's database with .*loose\.dump, unverified \(--force-unverified\)/,
      );
      const r = await t.rel(['db', 'restore', 'green', loose, '--force-unverified']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/restored green's database from .*loose\.dump .*\(unverified: no backup manifest in /);
      expect(await snapshot(db)).toBe(before);
    });

    it('bad input: one line, non-zero, nothing changed', async () => {
      const before = await snapshot(db);
      for (const [args, pattern] of [
        [['db', 'migrate', 'purple'], /^rel: unknown environment "purple"/],
        [['db', 'restore', 'green', 'nope.dump'], /^rel: backup nope\.dump not found in /],
        [['db', 'migrate', 'blue'], /^rel: blue has no running database container/],
      ] as const) {
        const r = await t.rel([...args]);
        expect(r.code, r.stderr).not.toBe(0);
        expect(r.stderr).toMatch(pattern);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      // wrong password: AUTH, and the password nowhere
      const wrong = testProject('dbpw', (y) =>
        y.replace(/password: \$\{REL_DB_PASSWORD:-[^}]*\}/, 'password: Wr0ngDbPass'),
      );
      const { writeFileSync, readFileSync } = await import('node:fs');
      writeFileSync(
        wrong.configFile,
        readFileSync(wrong.configFile, 'utf8')
          .replace(/^project: .*$/m, `project: ${t.project}`)
          .replace(/\{ apiPort: \d+, clientPort: \d+, dbPort: \d+ \}/g, (m, offset: number) =>
            offset < readFileSync(wrong.configFile, 'utf8').indexOf('green:')
              ? m
              : `{ apiPort: ${t.ports.green.apiPort}, clientPort: ${t.ports.green.clientPort}, dbPort: ${t.ports.green.dbPort} }`,
          ),
      );
      const r = await wrong.rel(['db', 'migrate', 'green']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/password|authentication/i);
      expect(r.stdout + r.stderr).not.toContain('Wr0ngDbPass');
      expect(await snapshot(db)).toBe(before);
    });
  }
});
