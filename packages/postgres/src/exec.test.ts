import { Readable, Writable } from 'node:stream';
import type { RelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import { localExec, pgToolEnv } from './index.js';

describe('pgToolEnv', () => {
  it('puts the connection in libpq variables, only those set', () => {
    expect(
      pgToolEnv({ host: 'db', port: 6432, user: 'app', password: 'pw', database: 'shop', ssl: true }, 'other'),
    ).toEqual({
      PGDATABASE: 'other',
      PGHOST: 'db',
      PGPORT: '6432',
      PGUSER: 'app',
      PGPASSWORD: 'pw',
      PGSSLMODE: 'require',
    });
    expect(pgToolEnv({ database: 'shop' })).toEqual({ PGDATABASE: 'shop' });
  });
});

describe('localExec', () => {
  const node = (script: string) => [process.execPath, '-e', script];

  it('runs an argument array with env added, stdin piped in, and returns the exit code and output', async () => {
    const result = await localExec(
      node(
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{console.log(s.trim()+' '+process.env.PGDATABASE);console.error('warn');process.exit(3)})",
      ),
      { stdin: Readable.from(['from stdin']), env: { PGDATABASE: 'shop' } },
    );
    expect(result).toEqual({ exitCode: 3, stdout: 'from stdin shop\n', stderr: 'warn\n' });
  });

  it("streams standard output into options.stdout; the result's stdout is then empty", async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    const result = await localExec(node("process.stdout.write('x'.repeat(100000))"), { stdout: sink });
    expect(result.stdout).toBe('');
    expect(Buffer.concat(chunks).length).toBe(100_000);
  });

  it('a tool that is not installed: NOT_FOUND; an empty argv: BAD_INPUT', async () => {
    const missing = await localExec(['pg_dump_does_not_exist_here']).catch((e: unknown) => e as RelError);
    expect(missing).toMatchObject({
      code: 'NOT_FOUND',
      message: 'pg_dump_does_not_exist_here is not installed here (pass an exec that runs it elsewhere)',
    });
    await expect(localExec([])).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
