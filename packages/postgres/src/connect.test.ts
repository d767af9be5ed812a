import { RelError } from '@rel/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applicationName, connectionError, connectPostgres, describeConnection, oneLine } from './index.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The error a promise rejects with; a promise that resolves fails the test. */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as RelError,
  );

const pgError = (code: string | undefined, message: string) => Object.assign(new Error(message), { code });

describe('connectionError', () => {
  const where = 'db.example:5432/app';
  it.each([
    [
      '28P01',
      'password authentication failed for user "app"',
      'AUTH',
      `PostgreSQL at ${where} refused the credentials: password authentication failed for user "app"`,
    ],
    [
      '28000',
      'no pg_hba.conf entry for host',
      'AUTH',
      `PostgreSQL at ${where} refused the credentials: no pg_hba.conf entry for host`,
    ],
    [
      undefined,
      'SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string',
      'AUTH',
      /^PostgreSQL at .* refused the credentials: SASL/,
    ],
    ['3D000', 'database "app" does not exist', 'NOT_FOUND', `PostgreSQL at ${where}: database "app" does not exist`],
    [
      'ECONNREFUSED',
      'connect ECONNREFUSED 10.0.0.1:5432',
      'UNREACHABLE',
      `cannot reach PostgreSQL at ${where}: connect ECONNREFUSED 10.0.0.1:5432`,
    ],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND db.example', 'UNREACHABLE', /^cannot reach PostgreSQL at /],
    ['57P03', 'the database system is starting up', 'UNREACHABLE', /starting up$/],
    [undefined, 'Connection terminated due to connection timeout', 'UNREACHABLE', /connection timeout$/],
    ['ECONNRESET', '', 'UNREACHABLE', `cannot reach PostgreSQL at ${where}: ECONNRESET`],
    [
      '53300',
      'sorry, too many clients already',
      'STEP_FAILED',
      `connecting to PostgreSQL at ${where}: sorry, too many clients already`,
    ],
  ])('%s %j: %s', (code, message, expected, text) => {
    const error = connectionError(pgError(code, message), where, []);
    expect(error).toBeInstanceOf(RelError);
    expect(error.code).toBe(expected);
    if (typeof text === 'string') expect(error.message).toBe(text);
    else expect(error.message).toMatch(text);
    expect(error.details).toEqual(code ? { where, code } : { where });
  });

  it('a missing database is CONFIG where the caller says so', () => {
    expect(connectionError(pgError('3D000', 'database "x" does not exist'), where, [], 'CONFIG').code).toBe('CONFIG');
  });

  it('one line, never a secret, and a RelError as it is', () => {
    const error = connectionError(pgError('XX000', 'failed for s3cret-pw\nDETAIL: Password=other;Host=x'), where, [
      's3cret-pw',
    ]);
    expect(error.message).toBe(`connecting to PostgreSQL at ${where}: failed for ***`);
    const own = new RelError('ABORTED', 'stopped');
    expect(connectionError(own, where, [])).toBe(own);
    expect(oneLine('  first \n second')).toBe('first');
  });
});

describe('describeConnection', () => {
  it('names host, port and database, with the secrets', () => {
    expect(describeConnection({ host: 'db', port: 6432, user: 'app', password: 'pw', database: 'shop' })).toEqual({
      where: 'db:6432/shop',
      secrets: ['pw'],
    });
    expect(describeConnection({ host: 'db', database: 'shop', password: '' }, 'postgres').where).toBe(
      'db:5432/postgres',
    );
  });

  it("falls back on pg's environment as pg does", () => {
    vi.stubEnv('PGHOST', 'pg.internal');
    vi.stubEnv('PGPORT', '5433');
    vi.stubEnv('PGDATABASE', 'fromenv');
    expect(describeConnection({ database: 'shop' }).where).toBe('pg.internal:5433/shop');
    expect(describeConnection({}).where).toBe('pg.internal:5433/fromenv');
  });

  it('reads a connection URL, and keeps it and its password (both spellings) secret', () => {
    const connectionString = 'postgres://app:p%40ss@db.example:6000/shop';
    expect(describeConnection({ connectionString })).toEqual({
      where: 'db.example:6000/shop',
      secrets: [connectionString, 'p@ss', 'p%40ss'],
    });
    const keyValue = 'host=db password=x dbname=shop';
    expect(describeConnection({ host: 'db', connectionString: keyValue }).secrets).toEqual([keyValue]);
  });
});

describe('connectPostgres', () => {
  it('a refused connection: UNREACHABLE naming host and port, never the password', async () => {
    const password = 'Sup3r-Secret-pw';
    const error = await failure(
      connectPostgres(
        { host: '127.0.0.1', port: 1, user: 'app', password, database: 'app' },
        { applicationName: applicationName('rel test') },
      ),
    );
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toMatch(/^cannot reach PostgreSQL at 127\.0\.0\.1:1\/app: .*ECONNREFUSED/);
    expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain(password);
  });

  it('a client factory that fails: its error mapped, naming no server', async () => {
    const error = await failure(
      connectPostgres(() => Promise.reject(pgError('28P01', 'password authentication failed')), {
        applicationName: 'x',
      }),
    );
    expect(error).toMatchObject({
      code: 'AUTH',
      message: 'PostgreSQL at the database refused the credentials: password authentication failed',
    });
  });

  it('application names fit in 63 bytes', () => {
    expect(applicationName('rel db migrate')).toMatch(
      new RegExp(`^rel db migrate \\(.* pid ${process.pid}\\)$|^.{63}$`),
    );
    expect(applicationName('x'.repeat(100))).toHaveLength(63);
  });
});
