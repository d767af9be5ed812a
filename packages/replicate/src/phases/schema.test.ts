import { describe, expect, it } from 'vitest';
import type { DatabaseExec } from '../types.js';
import { FakeClient, fakeRun, PASSWORD } from './fakes.js';
import { applyPreData, createSchema, pgDump } from './schema.js';

const entry = (name: string, type = 'TABLE') =>
  `--\n-- Name: ${name}; Type: ${type}; Schema: public; Owner: app\n--\n\n`;
const PRE = `SET statement_timeout = 0;\n\n${entry('a')}CREATE TABLE public.a (id integer);\n\n${entry('b')}CREATE TABLE public.b (id integer);\n`;
const POST = `${entry('a a_pkey', 'CONSTRAINT')}ALTER TABLE ONLY public.a\n    ADD CONSTRAINT a_pkey PRIMARY KEY (id);\n`;

function dumper(calls: { argv: string[]; env?: Record<string, string> }[], fail?: string): DatabaseExec {
  return async (argv, options = {}) => {
    calls.push({ argv, ...(options.env ? { env: options.env } : {}) });
    if (fail && argv.includes(fail)) {
      return { exitCode: 1, stdout: '', stderr: `line 1\nline 2\nline 3\nconnection to ${PASSWORD} failed\n` };
    }
    return { exitCode: 0, stdout: argv.includes('--section=pre-data') ? PRE : POST, stderr: '' };
  };
}

describe('createSchema', () => {
  it('dumps both sections on the snapshot, applies pre-data on a session of its own, keeps post-data', async () => {
    const calls: { argv: string[]; env?: Record<string, string> }[] = [];
    const run = fakeRun({ execSource: dumper(calls) });
    const session = new FakeClient();
    const schema = await createSchema(run, 'snap-1', async () => session.client);
    expect(calls.map((c) => c.argv)).toEqual([
      ['pg_dump', '--no-password', '--encoding=UTF8', '--snapshot=snap-1', '--section=pre-data', '--blobs'],
      ['pg_dump', '--no-password', '--encoding=UTF8', '--snapshot=snap-1', '--section=post-data'],
    ]);
    // The connection travels in the environment, never in argv.
    expect(calls[0]!.env).toMatchObject({
      PGHOST: '127.0.0.1',
      PGPORT: '5433',
      PGDATABASE: 'app',
      PGPASSWORD: PASSWORD,
    });
    expect(calls.flatMap((c) => c.argv).join(' ')).not.toContain(PASSWORD);
    expect(session.queries).toEqual([
      'SET statement_timeout = 0;\nCREATE TABLE public.a (id integer);\nCREATE TABLE public.b (id integer);',
    ]);
    expect(session.ended).toBe(true);
    expect(schema.pre).toBe(3);
    expect(schema.statements.map((s) => s.entry?.name)).toEqual(['a a_pkey']);
  });

  it('ends its session when applying fails', async () => {
    const run = fakeRun({ execSource: dumper([]) });
    const session = new FakeClient(() => {
      throw new Error('relation exists');
    });
    await expect(createSchema(run, 's', async () => session.client)).rejects.toThrow('relation exists');
    expect(session.ended).toBe(true);
  });
});

describe('applyPreData', () => {
  it('sends 200 statements at a time and names the objects of a batch that fails', async () => {
    const statements = Array.from({ length: 401 }, (_, i) => ({
      sql: `CREATE TABLE public.t${i} ()`,
      entry: { type: 'TABLE', name: `t${i}`, schema: 'public' },
    }));
    const ok = new FakeClient();
    await applyPreData(fakeRun(), ok.client, statements);
    expect(ok.queries).toHaveLength(3);
    expect(ok.queries[2]).toBe('CREATE TABLE public.t400 ();');

    const failing = new FakeClient((sql) => {
      if (sql.includes('t250')) throw new Error('type "x" does not exist\nLINE 3');
    });
    const error = await applyPreData(fakeRun(), failing.client, statements).catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      `applying the source's schema to 127.0.0.1:5434/app__rel_new failed: type "x" does not exist (in: TABLE t200, TABLE t201, TABLE t202...)`,
    );
  });
});

describe('pgDump', () => {
  it('fails with the last lines of stderr, without the password', async () => {
    const run = fakeRun({ execSource: dumper([], '--schema-only') });
    const error = await pgDump(run, ['--schema-only'], 'schema').catch((e) => e);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      'pg_dump (schema) of 127.0.0.1:5433/app failed (exit 1): line 2 | line 3 | connection to *** failed',
    );
  });
});
