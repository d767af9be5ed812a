import { describe, expect, it } from 'vitest';
import {
  isTransactionControl,
  lineColumnAt,
  nonTransactionalReason,
  offsetOfPosition,
  splitSqlStatements,
} from './sql-text.js';

describe('splitSqlStatements', () => {
  it('splits at top-level semicolons only', () => {
    const sql = [
      "INSERT INTO t VALUES ('a;b', E'it\\'s;', 'x''y;');",
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;',
      '-- a comment; with a semicolon',
      '/* nested /* comment; */ still; */ SELECT "odd;name" FROM t',
    ].join('\n');
    const statements = splitSqlStatements(sql);
    expect(statements.map((s) => s.text.slice(0, 20))).toEqual([
      'INSERT INTO t VALUES',
      'CREATE FUNCTION f() ',
      'SELECT "odd;name" FR',
    ]);
    expect(statements[2]!.shape).toBe('SELECT "ODD;NAME" FROM T');
    expect(statements[1]!.shape).toBe('CREATE FUNCTION F() RETURNS INT AS $$ LANGUAGE SQL');
    expect(sql.slice(statements[1]!.offset, statements[1]!.offset + 6)).toBe('CREATE');
  });

  it.each([
    ["SELECT 'open", 'unterminated string literal', 1, 8],
    ['SELECT 1;\n  SELECT "open', 'unterminated quoted identifier', 2, 10],
    ['SELECT 1;\nDO $x$ BEGIN', 'unterminated dollar-quoted body $x$', 2, 4],
    ['/* never closed', 'unterminated /* comment', 1, 1],
    ['SELECT 1;\n\\connect other', 'psql meta-commands', 2, 1],
  ])('reports %j as malformed with line and column', (sql, what, line, column) => {
    expect(() => splitSqlStatements(sql, 'm.sql')).toThrow(
      `malformed SQL in m.sql at line ${line}, column ${column}: ${what}`,
    );
  });

  it('recognises transaction control', () => {
    const kinds = splitSqlStatements('BEGIN; START TRANSACTION; SELECT 1; COMMIT; end;').map(isTransactionControl);
    expect(kinds).toEqual([true, true, false, true, true]);
  });
});

describe('nonTransactionalReason', () => {
  const reason = (sql: string, version?: number) => nonTransactionalReason(splitSqlStatements(sql)[0]!, version);
  it.each([
    ['CREATE INDEX CONCURRENTLY ix ON t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['create unique index concurrently ix on t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['DROP INDEX CONCURRENTLY ix', 'DROP INDEX CONCURRENTLY'],
    ['REINDEX INDEX CONCURRENTLY ix', 'REINDEX CONCURRENTLY'],
    ['VACUUM ANALYZE t', 'VACUUM'],
    ['CREATE DATABASE x', 'CREATE/DROP DATABASE'],
    ['ALTER TABLE p DETACH PARTITION c CONCURRENTLY', 'DETACH PARTITION CONCURRENTLY'],
  ])('%s cannot run in a transaction', (sql, why) => expect(reason(sql)).toBe(why));

  it.each(['CREATE INDEX ix ON t (a)', "SELECT 'CREATE INDEX CONCURRENTLY'", '-- VACUUM\nSELECT 1'])('%s can', (sql) =>
    expect(reason(sql)).toBeUndefined(),
  );

  it('ALTER TYPE ... ADD VALUE only before PostgreSQL 12', () => {
    expect(reason("ALTER TYPE mood ADD VALUE 'meh'", 110000)).toBe('ALTER TYPE ... ADD VALUE');
    expect(reason("ALTER TYPE mood ADD VALUE 'meh'", 150000)).toBeUndefined();
  });
});

describe('positions', () => {
  it('lineColumnAt counts from 1', () => {
    const text = 'ab\ncde\n\nf';
    expect(lineColumnAt(text, 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumnAt(text, 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumnAt(text, 8)).toEqual({ line: 4, column: 1 });
  });

  it('offsetOfPosition counts code points as PostgreSQL does', () => {
    const query = "SELECT '😀' + nope";
    // PostgreSQL's position of "nope" counts the emoji as one character.
    const position = [...query].indexOf('n') + 1;
    expect(query.slice(offsetOfPosition(query, position))).toBe('nope');
  });
});
