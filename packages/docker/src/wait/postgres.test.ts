import { describe, expect, it } from 'vitest';
import { Wait } from '../wait.js';

describe('Wait.forPostgres', () => {
  it('describes the port it waits on', () => {
    expect(Wait.forPostgres({ user: 'rel', database: 'app' }).description).toBe(
      'PostgreSQL to accept connections on port 5432',
    );
  });

  it('refuses a user or database pg_isready would read as options or a connection string with BAD_INPUT', () => {
    expect(() => Wait.forPostgres({ user: 'rel', database: 'dbname=x host=evil' })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
    expect(() => Wait.forPostgres({ user: '-U', database: 'app' })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
  });
});
