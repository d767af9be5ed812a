import { efBlockBody } from './sources.js';
import { lineColumnAt, type SqlStatement, splitSqlStatements, trimStatement } from './sql-text.js';
import type { Migration, MigrationWarning } from './types.js';

const NAME = String.raw`((?:"[^"]+"|[A-Z0-9_$]+)(?:\.(?:"[^"]+"|[A-Z0-9_$]+))?)`;
const ALTER_TABLE = new RegExp(`^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?${NAME}`);
const CREATE_TABLE = new RegExp(
  `^CREATE (?:(?:GLOBAL |LOCAL )?(?:TEMPORARY |TEMP )|UNLOGGED )?TABLE (?:IF NOT EXISTS )?${NAME}`,
);
const CREATE_INDEX = new RegExp(String.raw`^CREATE (?:UNIQUE )?INDEX (?!CONCURRENTLY\b).*? ON (?:ONLY )?${NAME}`);
const VOLATILE_CALL = /\b(RANDOM|GEN_RANDOM_UUID|UUID_GENERATE_V[14]|CLOCK_TIMESTAMP|TIMEOFDAY|NEXTVAL)\s*\(/;

/** `"Items"`, `public.items` and `ITEMS` name the same table for these rules (they only warn). */
function tableKey(name: string): string {
  return name
    .replace(/"/g, '')
    .replace(/^PUBLIC\./i, '')
    .toUpperCase();
}

interface Rule {
  rule: string;
  test: (shape: string) => boolean;
  message: string;
  /** Skipped for a table created earlier in the same run: it has no rows and no readers yet. */
  onExistingTableOnly: boolean;
}

const RULES: Rule[] = [
  {
    rule: 'alter-column-type',
    test: (s) => ALTER_TABLE.test(s) && /\bALTER (?:COLUMN )?\S+ (?:SET DATA )?TYPE\b/.test(s),
    message: 'ALTER COLUMN ... TYPE rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock',
    onExistingTableOnly: true,
  },
  {
    rule: 'volatile-default',
    test: (s) =>
      ALTER_TABLE.test(s) &&
      /\bADD (?:COLUMN )?/.test(s) &&
      ((/\bDEFAULT\b/.test(s) && VOLATILE_CALL.test(s.slice(s.indexOf(' DEFAULT ')))) ||
        /\bADD (?:COLUMN )?(?:IF NOT EXISTS )?\S+ (?:SMALL|BIG)?SERIAL\b/.test(s)),
    message:
      'ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), serial...) rewrites the table under an ACCESS EXCLUSIVE lock',
    onExistingTableOnly: true,
  },
  {
    rule: 'constraint-without-not-valid',
    test: (s) =>
      ALTER_TABLE.test(s) && /\bADD (?:CONSTRAINT \S+ )?(?:FOREIGN KEY|CHECK)\b/.test(s) && !/\bNOT VALID\b/.test(s),
    message:
      'ADD CONSTRAINT FOREIGN KEY/CHECK without NOT VALID scans the table while holding its lock; add it NOT VALID, then VALIDATE CONSTRAINT',
    onExistingTableOnly: true,
  },
  {
    rule: 'drop-column',
    test: (s) =>
      ALTER_TABLE.test(s) &&
      (/\bDROP COLUMN\b/.test(s) ||
        /(?:^ALTER TABLE \S+(?: \S+)?|,) DROP (?!CONSTRAINT|COLUMN|DEFAULT|NOT NULL|IDENTITY|EXPRESSION)/.test(s)),
    message: 'DROP COLUMN loses data, and the version still running on blue may read the column',
    onExistingTableOnly: true,
  },
  {
    rule: 'rename',
    test: (s) => /^ALTER (?:TABLE|VIEW|MATERIALIZED VIEW)\b/.test(s) && /\bRENAME (?!CONSTRAINT\b)/.test(s),
    message: 'RENAME breaks the version still running on blue, which uses the old name',
    onExistingTableOnly: true,
  },
  {
    rule: 'drop-table',
    test: (s) => /^DROP TABLE\b/.test(s),
    message: 'DROP TABLE loses data, and the version still running on blue may use the table',
    onExistingTableOnly: false,
  },
  {
    rule: 'vacuum-full',
    test: (s) => /^VACUUM (?:\([^)]*\bFULL\b[^)]*\)|FULL\b)/.test(s),
    message: 'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock',
    onExistingTableOnly: false,
  },
  {
    rule: 'cluster',
    test: (s) => /^CLUSTER\b/.test(s),
    message: 'CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock',
    onExistingTableOnly: false,
  },
  {
    rule: 'lock-table',
    test: (s) => /^LOCK\b/.test(s),
    message: 'LOCK TABLE blocks the version still serving traffic',
    onExistingTableOnly: false,
  },
  {
    rule: 'truncate',
    test: (s) => /^TRUNCATE\b/.test(s),
    message: 'TRUNCATE loses data and takes an ACCESS EXCLUSIVE lock',
    onExistingTableOnly: false,
  },
  {
    rule: 'reindex-without-concurrently',
    test: (s) => /^REINDEX\b/.test(s) && !/\bCONCURRENTLY\b/.test(s),
    message: 'REINDEX without CONCURRENTLY blocks writes to the table',
    onExistingTableOnly: false,
  },
];

/** The statements to lint: an idempotent script's EF blocks are opened, the history insert left out. */
function lintableStatements(migration: Migration): SqlStatement[] {
  const out: SqlStatement[] = [];
  for (const statement of migration.statements) {
    const block = efBlockBody(statement);
    if (!block) {
      out.push(statement);
      continue;
    }
    for (const inner of splitSqlStatements(block.body, migration.file)) {
      if (/^INSERT INTO "__EFMIGRATIONSHISTORY"/.test(inner.shape)) continue;
      out.push({ ...inner, offset: inner.offset + block.offset });
    }
  }
  return out;
}

/**
 * Warns about statements of pending migrations that take heavy locks, rewrite tables, lose data or break
 * the old version still running: index without CONCURRENTLY, ALTER COLUMN TYPE, SET NOT NULL without a
 * NOT VALID check first, volatile defaults, constraints without NOT VALID, DROP, RENAME, VACUUM FULL,
 * CLUSTER, LOCK, TRUNCATE. Tables created earlier in the same migrations are exempt where harmless.
 */
export function lintMigrations(migrations: readonly Migration[]): MigrationWarning[] {
  const warnings: MigrationWarning[] = [];
  const newTables = new Set<string>();
  const notNullChecked = new Set<string>();
  for (const migration of migrations) {
    for (const statement of lintableStatements(migration)) {
      const s = statement.shape;
      const warn = (rule: string, message: string) => {
        const { line } = lineColumnAt(migration.fileText, statement.offset);
        warnings.push({
          migrationId: migration.id,
          rule,
          message,
          file: migration.file,
          line,
          statement: trimStatement(statement.text),
        });
      };
      const created = CREATE_TABLE.exec(s);
      if (created) {
        newTables.add(tableKey(created[1]!));
        continue;
      }
      const index = CREATE_INDEX.exec(s);
      if (index && !newTables.has(tableKey(index[1]!))) {
        warn(
          'index-without-concurrently',
          'CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds',
        );
      }
      const altered = ALTER_TABLE.exec(s);
      const table = altered ? tableKey(altered[1]!) : undefined;
      const isNew = table !== undefined && newTables.has(table);
      if (table && /\bADD (?:CONSTRAINT \S+ )?CHECK\b.*\bIS NOT NULL\b.*\bNOT VALID\b/.test(s))
        notNullChecked.add(table);
      if (table && !isNew && /\bSET NOT NULL\b/.test(s) && !notNullChecked.has(table)) {
        warn(
          'set-not-null',
          'SET NOT NULL scans the table under an ACCESS EXCLUSIVE lock; add a CHECK (col IS NOT NULL) NOT VALID and VALIDATE it first',
        );
      }
      for (const rule of RULES) {
        if (rule.onExistingTableOnly && isNew) continue;
        if (rule.test(s)) warn(rule.rule, rule.message);
      }
    }
  }
  return warnings;
}
