import { describe, expect, it } from 'vitest';
import { lintMigrations } from './lint.js';
import { parseIdempotentScript } from './sources.js';
import { splitSqlStatements } from './sql-text.js';
import type { Migration } from './types.js';

function migration(sql: string, id = '20250101000000_M'): Migration {
  return { id, file: `${id}.sql`, checksum: '', statements: splitSqlStatements(sql), fileText: sql };
}
const rules = (...sql: string[]) =>
  lintMigrations(sql.map((s, i) => migration(s, `2025010100000${i}_M`))).map((w) => w.rule);

describe('lintMigrations', () => {
  it.each([
    ['CREATE INDEX ix ON items (name)', 'index-without-concurrently'],
    ['CREATE UNIQUE INDEX ix ON public."Items" (name)', 'index-without-concurrently'],
    ['ALTER TABLE items ALTER COLUMN name TYPE varchar(10)', 'alter-column-type'],
    ['ALTER TABLE items ALTER name SET DATA TYPE varchar(10)', 'alter-column-type'],
    ['ALTER TABLE items ALTER COLUMN name SET NOT NULL', 'set-not-null'],
    ['ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid()', 'volatile-default'],
    ['ALTER TABLE items ADD COLUMN r float8 NOT NULL DEFAULT random()', 'volatile-default'],
    ['ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT clock_timestamp()', 'volatile-default'],
    ['ALTER TABLE items ADD COLUMN n bigserial', 'volatile-default'],
    ['ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (o) REFERENCES owners (id)', 'constraint-without-not-valid'],
    ['ALTER TABLE items ADD CONSTRAINT ck CHECK (length(name) > 0)', 'constraint-without-not-valid'],
    ['ALTER TABLE items DROP COLUMN name', 'drop-column'],
    ['DROP TABLE items', 'drop-table'],
    ['ALTER TABLE items RENAME COLUMN name TO title', 'rename'],
    ['ALTER TABLE items RENAME TO things', 'rename'],
    ['VACUUM FULL items', 'vacuum-full'],
    ['CLUSTER items USING ix', 'cluster'],
    ['LOCK TABLE items IN ACCESS EXCLUSIVE MODE', 'lock-table'],
    ['TRUNCATE items', 'truncate'],
  ])('%s -> %s', (sql, rule) => expect(rules(sql)).toEqual([rule]));

  it.each([
    'CREATE INDEX CONCURRENTLY ix ON items (name)',
    'ALTER TABLE items ADD COLUMN done boolean NOT NULL DEFAULT false',
    'ALTER TABLE items ADD COLUMN at timestamptz NOT NULL DEFAULT now()',
    'ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (o) REFERENCES owners (id) NOT VALID',
    'ALTER TABLE items VALIDATE CONSTRAINT fk',
    'ALTER TABLE items ALTER COLUMN name DROP NOT NULL',
    'ALTER TABLE items ALTER COLUMN name DROP DEFAULT',
    'ALTER TABLE items RENAME CONSTRAINT a TO b',
    "COMMENT ON TABLE items IS 'DROP TABLE items'",
  ])('%s is fine', (sql) => expect(rules(sql)).toEqual([]));

  it('accepts SET NOT NULL after a NOT VALID check', () => {
    expect(
      rules(
        'ALTER TABLE items ADD CONSTRAINT nn CHECK (name IS NOT NULL) NOT VALID',
        'ALTER TABLE items VALIDATE CONSTRAINT nn; ALTER TABLE items ALTER COLUMN name SET NOT NULL',
      ),
    ).toEqual([]);
  });

  it('does not warn about tables created earlier in the same run', () => {
    expect(
      rules(
        'CREATE TABLE owners (id int PRIMARY KEY, name text)',
        'CREATE INDEX ix ON owners (name); ALTER TABLE owners ALTER COLUMN name SET NOT NULL',
      ),
    ).toEqual([]);
  });

  it('gives the line and the statement', () => {
    const [warning] = lintMigrations([migration('-- v3\n\nCREATE INDEX ix\n  ON items (name);')]);
    expect(warning).toMatchObject({
      line: 3,
      statement: 'CREATE INDEX ix ON items (name)',
      migrationId: '20250101000000_M',
    });
  });

  it('looks inside the DO $EF$ blocks of an idempotent script', () => {
    const text = `START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20250101000000_Ix') THEN
    CREATE INDEX "IX_items_name" ON items (name);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20250101000000_Ix') THEN
    INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
    VALUES ('20250101000000_Ix', '8.0.11');
    END IF;
END $EF$;
COMMIT;
`;
    const warnings = lintMigrations(parseIdempotentScript(text).migrations);
    expect(warnings).toMatchObject([{ rule: 'index-without-concurrently', line: 6, migrationId: '20250101000000_Ix' }]);
  });
});
