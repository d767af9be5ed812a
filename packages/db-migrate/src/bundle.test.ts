import { describe, expect, it } from 'vitest';
import { BUNDLE_PASSFILE, bundleInvocation } from './bundle.js';
import { adoConnectionString, pgpassFile, redact } from './connection.js';

describe('adoConnectionString: as DbConnectionStringBuilder writes it', () => {
  it.each([
    ['plain', 'app_db-1.x', 'app_db-1.x'],
    ['empty', '', ''],
    ['a semicolon', 'a;b', '"a;b"'],
    ['an equals sign', 'a=b', '"a=b"'],
    ['leading white space', ' a', '" a"'],
    ['trailing white space', 'a ', '"a "'],
    ['inner white space', 'a b', '"a b"'],
    ['a control character', 'a\tb', '"a\tb"'],
    ['a double quote and no single quote: single quotes', 'a"b', `'a"b'`],
    ['a single quote', "a'b", `"a'b"`],
    ['both quotes: double quotes, doubled inside', `a'"b;`, `"a'""b;"`],
  ])('a value with %s', (_, value, written) => {
    expect(adoConnectionString([['Database', value]])).toBe(`Database=${written}`);
  });

  it('joins pairs with ";" and doubles "=" in a key', () => {
    expect(
      adoConnectionString([
        ['Host', 'db'],
        ['Odd=Key', 'x'],
      ]),
    ).toBe('Host=db;Odd==Key=x');
  });

  it('refuses a NUL in a value and a key that starts with ";" or white space', () => {
    expect(() => adoConnectionString([['Database', 'a\0b']])).toThrow(/NUL/);
    expect(() => adoConnectionString([[';Host', 'x']])).toThrow(/invalid connection-string key/);
    expect(() => adoConnectionString([[' Host', 'x']])).toThrow(/invalid connection-string key/);
  });
});

describe('pgpassFile', () => {
  it('matches any host, port, database and user; escapes "\\" and ":"', () => {
    expect(pgpassFile(`p;w="x'y`)).toBe(`*:*:*:*:p;w="x'y\n`);
    expect(pgpassFile('a:b\\c')).toBe('*:*:*:*:a\\:b\\\\c\n');
    expect(pgpassFile(' leading space')).toBe('*:*:*:*: leading space\n');
  });

  it('refuses what a password file cannot hold, without showing the password', () => {
    for (const password of ['two\nlines', 'cr\rhere', 'nul\0here', 'trailing ']) {
      let message = '';
      try {
        pgpassFile(password);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/cannot go into a password file/);
      expect(message).not.toContain(password.slice(0, 3));
    }
  });
});

describe('bundleInvocation', () => {
  const password = `pw;="'x:\\y`;
  const base = { host: 'shop-green-db', port: 5432, database: 'shop', username: 'app', password };

  it('the connection string and the environment hold no password; the password file does', () => {
    const invocation = bundleInvocation({ ...base, verbose: true });
    expect(invocation.args).toEqual([
      '--connection',
      'Host=shop-green-db;Port=5432;Database=shop;Username=app',
      '--verbose',
    ]);
    expect(invocation.env).toEqual({ PGPASSFILE: BUNDLE_PASSFILE });
    expect(JSON.stringify([invocation.args, invocation.env])).not.toContain('pw;');
    expect(invocation.files).toEqual([{ path: BUNDLE_PASSFILE, content: `*:*:*:*:pw;="'x\\:\\\\y\n`, mode: 0o600 }]);
    expect(invocation.secrets).toEqual([password]);
  });

  it('quotes values that need it; no password, no file', () => {
    const invocation = bundleInvocation({ ...base, database: 'my db', password: '', passfile: '/x/pgpass' });
    expect(invocation).toEqual({
      args: ['--connection', 'Host=shop-green-db;Port=5432;Database="my db";Username=app'],
      env: {},
      files: [],
      secrets: [],
    });
  });
});

describe('redact', () => {
  it('hides a quoted Password value whole, with its ";" and spaces', () => {
    expect(redact('Host=db;Password="a;b c";Port=1', [])).toBe('Host=db;Password=***;Port=1');
    expect(redact(`Password='x"y' next`, [])).toBe('Password=*** next');
    expect(redact('password = plain; more', [])).toBe('password = ***; more');
  });
});
