#!/usr/bin/env node
// `node idempotent-script.mjs <migrations dir>`: writes to stdout the idempotent script that
// `dotnet ef migrations script --idempotent` would write for Npgsql, out of a folder of `<MigrationId>.sql`
// migrations (the sample app's single source of its migrations). As EF Core does: the history table first,
// then per migration, in the order of the ids, one transaction with each statement in a `DO $EF$` block
// guarded by its "__EFMigrationsHistory" row, and the block that inserts the row. scripts/sandbox runs it
// when it builds the API images (/app/migrations.sql).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PRODUCT_VERSION = '8.0.11';
const ID = /^[A-Za-z0-9_.-]{1,150}$/;

/** The statements of a SQL text (split at top-level `;`), without comments-only and empty ones. */
export function splitStatements(sql) {
  const statements = [];
  let start = 0;
  let i = 0;
  const push = (end) => {
    const text = stripLeadingComments(sql.slice(start, end)).trim();
    if (text) statements.push(text);
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      i = blockCommentEnd(sql, i);
    } else if (c === "'" || c === '"') {
      i++;
      while (i < sql.length) {
        if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === '$' && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))[0];
      const end = sql.indexOf(tag, i + tag.length);
      i = end < 0 ? sql.length : end + tag.length;
    } else if (c === ';') {
      push(i);
      start = ++i;
    } else i++;
  }
  push(sql.length);
  return statements;
}

/** Where the block comment starting at `start` ends (they nest in PostgreSQL). */
function blockCommentEnd(sql, start) {
  let depth = 0;
  let i = start;
  do {
    if (sql.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth--;
      i += 2;
    } else i++;
  } while (depth > 0 && i < sql.length);
  return Math.min(i, sql.length);
}

function stripLeadingComments(text) {
  let rest = text.trimStart();
  for (;;) {
    if (rest.startsWith('--')) {
      const end = rest.indexOf('\n');
      rest = end < 0 ? '' : rest.slice(end + 1).trimStart();
    } else if (rest.startsWith('/*')) {
      rest = rest.slice(blockCommentEnd(rest, 0)).trimStart();
    } else return rest;
  }
}

const indent = (text) =>
  text
    .split('\n')
    .map((line) => (line.trim() ? `    ${line.trimEnd()}` : ''))
    .join('\n');

function block(id, body) {
  return `DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '${id}') THEN
${indent(body)}
    END IF;
END $EF$;
`;
}

/** The idempotent script of the `<MigrationId>.sql` files of `dir`. */
export function idempotentScript(dir) {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  let script = `CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" character varying(150) NOT NULL,
    "ProductVersion" character varying(32) NOT NULL,
    CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId")
);

`;
  for (const file of files) {
    const id = file.slice(0, -'.sql'.length);
    if (!ID.test(id)) throw new Error(`${file}: ${JSON.stringify(id)} is not a migration id`);
    const sql = readFileSync(join(dir, file), 'utf8');
    if (sql.includes('$EF$')) throw new Error(`${file} contains $EF$, which would end its DO $EF$ block`);
    if (/\bCONCURRENTLY\b/i.test(sql)) throw new Error(`${file}: CONCURRENTLY cannot run inside a DO block`);
    const statements = splitStatements(sql);
    if (statements.length === 0) throw new Error(`${file} holds no statement`);
    const blocks = statements.map((statement) => block(id, `${statement};`));
    blocks.push(
      block(
        id,
        `INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")\nVALUES ('${id}', '${PRODUCT_VERSION}');`,
      ),
    );
    // EF Core leaves an empty line between the blocks of a migration, none before its COMMIT.
    script += `START TRANSACTION;\n\n${blocks.join('\n')}COMMIT;\n\n`;
  }
  return script;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const dir = process.argv[2];
  if (!dir || process.argv.length > 3) {
    console.error('usage: node idempotent-script.mjs <migrations dir>');
    process.exit(2);
  }
  try {
    process.stdout.write(idempotentScript(dir));
  } catch (error) {
    console.error(`idempotent-script: ${error.message}`);
    process.exit(1);
  }
}
