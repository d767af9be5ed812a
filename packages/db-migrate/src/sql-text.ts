import { RelError } from '@rel/core';

/** One SQL statement of a file, with where it starts. */
export interface SqlStatement {
  /** The statement as written, without the terminating `;`, trimmed. */
  text: string;
  /** Offset (UTF-16 index) of `text` in the file. */
  offset: number;
  /**
   * The statement with comments removed and the contents of strings and dollar-quoted bodies blanked out
   * (`''`, `$$`), upper-cased and with whitespace collapsed: what rules match keywords against.
   */
  shape: string;
}

export interface LineColumn {
  line: number;
  column: number;
}

/** 1-based line and column of a UTF-16 offset in `text`. */
export function lineColumnAt(text: string, offset: number): LineColumn {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * PostgreSQL reports `position` as a 1-based count of characters (code points) in the query it was sent;
 * this returns the UTF-16 offset of that character in `query`.
 */
export function offsetOfPosition(query: string, position: number): number {
  let offset = 0;
  for (let n = 1; n < position && offset < query.length; n++) {
    const code = query.codePointAt(offset)!;
    offset += code > 0xffff ? 2 : 1;
  }
  return offset;
}

const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/**
 * Splits a SQL file into statements at top-level semicolons, honouring '...' and E'...' strings, "..."
 * identifiers, $tag$...$tag$ bodies and -- and nested /* *\/ comments. An unterminated one, or a psql
 * meta-command (`\connect`), is a BAD_INPUT error naming `file`, line and column.
 */
export function splitSqlStatements(sql: string, file = 'SQL'): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let shape = '';
  let i = 0;
  const fail = (at: number, what: string): never => {
    const { line, column } = lineColumnAt(sql, at);
    throw new RelError('BAD_INPUT', `malformed SQL in ${file} at line ${line}, column ${column}: ${what}`, {
      details: { file, line, column },
    });
  };
  // Leading comments are not part of a statement: its text starts at its first token.
  let first = -1;
  const push = (end: number) => {
    const from = first === -1 ? start : first;
    first = -1;
    const raw = sql.slice(from, end);
    const text = raw.trim();
    const normalized = shape.replace(/\s+/g, ' ').trim().toUpperCase();
    if (normalized !== '') statements.push({ text, offset: from + raw.indexOf(text), shape: normalized });
    shape = '';
  };
  let atLineStart = true;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (atLineStart && c === '\\') fail(i, 'psql meta-commands (backslash commands) are not supported');
    if (c === '\n') atLineStart = true;
    else if (c !== ' ' && c !== '\t' && c !== '\r') atLineStart = false;
    const isComment = (c === '-' && next === '-') || (c === '/' && next === '*');
    if (first === -1 && !isComment && !/\s/.test(c)) first = i;
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      shape += ' ';
    } else if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < sql.length && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      if (depth > 0) fail(i, 'unterminated /* comment');
      i = j;
      shape += ' ';
    } else if (c === "'") {
      const escapes = /[eE]$/.test(sql.slice(Math.max(0, i - 1), i)) && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? '');
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail(i, 'unterminated string literal');
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      shape += "''";
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail(i, 'unterminated quoted identifier');
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j++;
      }
      shape += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === '$' && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '') && DOLLAR_TAG.test(sql.slice(i, i + 64))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 64))![0];
      const end = sql.indexOf(tag, i + tag.length);
      if (end === -1) fail(i, `unterminated dollar-quoted body ${tag}`);
      shape += '$$';
      i = end + tag.length;
    } else if (c === ';') {
      push(i);
      start = i + 1;
      i++;
    } else {
      shape += c;
      i++;
    }
  }
  push(sql.length);
  return statements;
}

/** `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`: the runner owns transactions, so these are skipped. */
export function isTransactionControl(statement: SqlStatement): boolean {
  return /^(BEGIN( TRANSACTION| WORK)?|START TRANSACTION.*|COMMIT( TRANSACTION| WORK)?|END( TRANSACTION| WORK)?|ROLLBACK( TRANSACTION| WORK)?)$/.test(
    statement.shape,
  );
}

const NON_TRANSACTIONAL: { pattern: RegExp; what: string; beforeVersion?: number }[] = [
  { pattern: /^CREATE (UNIQUE )?INDEX CONCURRENTLY\b/, what: 'CREATE INDEX CONCURRENTLY' },
  { pattern: /^DROP INDEX CONCURRENTLY\b/, what: 'DROP INDEX CONCURRENTLY' },
  { pattern: /^REINDEX\b.*\bCONCURRENTLY\b/, what: 'REINDEX CONCURRENTLY' },
  { pattern: /^ALTER TABLE\b.*\bDETACH PARTITION\b.*\bCONCURRENTLY\b/, what: 'DETACH PARTITION CONCURRENTLY' },
  { pattern: /^VACUUM\b/, what: 'VACUUM' },
  { pattern: /^(CREATE|DROP) DATABASE\b/, what: 'CREATE/DROP DATABASE' },
  { pattern: /^(CREATE|DROP) TABLESPACE\b/, what: 'CREATE/DROP TABLESPACE' },
  { pattern: /^ALTER SYSTEM\b/, what: 'ALTER SYSTEM' },
  { pattern: /^CREATE SUBSCRIPTION\b/, what: 'CREATE SUBSCRIPTION' },
  // Allowed in a transaction block since PostgreSQL 12.
  { pattern: /^ALTER TYPE\b.*\bADD VALUE\b/, what: 'ALTER TYPE ... ADD VALUE', beforeVersion: 120000 },
];

/**
 * What makes a statement impossible inside a transaction block (`CREATE INDEX CONCURRENTLY`, `VACUUM`...),
 * or undefined. `serverVersionNum` (`server_version_num`, default 150000) decides version-dependent cases.
 */
export function nonTransactionalReason(statement: SqlStatement, serverVersionNum = 150000): string | undefined {
  for (const rule of NON_TRANSACTIONAL) {
    if (rule.beforeVersion !== undefined && serverVersionNum >= rule.beforeVersion) continue;
    if (rule.pattern.test(statement.shape)) return rule.what;
  }
  return undefined;
}

/** A statement cut to one line of at most `max` characters, for messages. */
export function trimStatement(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
