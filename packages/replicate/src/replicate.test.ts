import { isRelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import type { SourceTable } from './catalog.js';
import { compareFingerprints } from './catalog.js';
import { redact } from './connection.js';
import { nextSequenceValue, planCopies, runPool } from './copy.js';
import { alterDatabaseSet, splitSettingList } from './databases.js';
import { planPostData, referencedTable, settingName, splitDumpScript } from './dump-script.js';
import { isReadOnlyValue } from './freeze.js';
import { chooseMethod } from './method.js';
import { checkOptions } from './options.js';
import { checksumQuery, newDatabaseName, previousDatabaseName, quoteIdent, quoteLiteral } from './sql.js';

// The shape of `pg_dump --section=post-data` output (PostgreSQL 15.14+), with the traps a naive split falls into.
const POST_DATA = `--
-- PostgreSQL database dump
--

\\restrict nGbR83gLh14O1y9ahV0VHkt6sUFWDjpO5cp72FOmzBcKDGCEOTpc8dDUamJ11LP

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);
SET default_tablespace = '';

--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: public; Owner: app
--

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);

--
-- Name: orders_customer; Type: INDEX; Schema: public; Owner: app
--

CREATE INDEX orders_customer ON public.orders USING btree (customer_id);

--
-- Name: INDEX orders_customer; Type: COMMENT; Schema: public; Owner: app
--

COMMENT ON INDEX public.orders_customer IS 'a comment; with a semicolon
-- Name: fake; Type: INDEX; Schema: public; Owner: app';

--
-- Name: Order Lines Order Lines_pkey; Type: CONSTRAINT; Schema: Shop; Owner: app
--

ALTER TABLE ONLY "Shop"."Order Lines"
    ADD CONSTRAINT "Order Lines_pkey" PRIMARY KEY ("order", "Line");

SET default_tablespace = fast;

--
-- Name: orders_big; Type: INDEX; Schema: public; Owner: app; Tablespace: fast
--

CREATE INDEX orders_big ON public.orders USING btree (placed_at);

SET default_tablespace = '';

--
-- Name: parted_1_id_idx; Type: INDEX ATTACH; Schema: public; Owner: app
--

ALTER INDEX public.parted_id ATTACH PARTITION public.parted_1_id_idx;

--
-- Name: logs t1; Type: TRIGGER; Schema: public; Owner: app
--

CREATE TRIGGER t1 BEFORE INSERT ON public.logs FOR EACH ROW EXECUTE FUNCTION public.trg();

--
-- Name: orders orders_customer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: app
--

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);

--
-- Name: mv; Type: MATERIALIZED VIEW DATA; Schema: public; Owner: app
--

REFRESH MATERIALIZED VIEW public.mv;

--
-- PostgreSQL database dump complete
--

\\unrestrict nGbR83gLh14O1y9ahV0VHkt6sUFWDjpO5cp72FOmzBcKDGCEOTpc8dDUamJ11LP
`;

describe('planCopies', () => {
  const MiB = 1024 ** 2;
  const table = (name: string, mib: number, columns = ['"a"']): SourceTable => ({
    qualified: `"public"."${name}"`,
    dumpName: `public.${name}`,
    columns,
    binary: true,
    hashes: columns.map(() => 'hashint4extended'),
    bytes: mib * MiB,
    pages: (mib * MiB) / 8192,
  });
  const shape = (jobs: ReturnType<typeof planCopies>) =>
    jobs.map((job) =>
      job.part ? `${job.table.dumpName}[${job.part.fromPage}-${job.part.toPage ?? ''}]` : job.table.dumpName,
    );

  it('splits a table that would bound the copy into page ranges, leaving one stream for the rest', () => {
    const tables = [table('events', 1024), table('orders', 64), table('settings', 1)];
    // 4 streams: a quarter of the total is ~272 MiB; events is 1 GiB, so 3 parts (one stream stays for the rest).
    expect(shape(planCopies(tables, 4, true, 256 * MiB))).toEqual([
      'public.events[0-43690]',
      'public.events[43690-87381]',
      'public.events[87381-]', // the last part is open-ended: rows may be in later pages by now
      'public.orders',
      'public.settings',
    ]);
    expect(shape(planCopies(tables, 3, true, 256 * MiB))).toEqual([
      'public.events[0-65536]',
      'public.events[65536-]',
      'public.orders',
      'public.settings',
    ]);
  });

  it('does not split without page-range scans, with fewer than 3 streams, small tables or tables without columns', () => {
    const tables = [table('events', 1024), table('orders', 64)];
    expect(shape(planCopies(tables, 4, false, 256 * MiB))).toEqual(['public.events', 'public.orders']);
    expect(shape(planCopies(tables, 2, true, 256 * MiB))).toEqual(['public.events', 'public.orders']);
    expect(shape(planCopies([table('a', 200), table('b', 200)], 4, true, 256 * MiB))).toEqual(['public.a', 'public.b']);
    expect(shape(planCopies([table('wide', 1024, [])], 4, true, 256 * MiB))).toEqual(['public.wide']);
    expect(shape(planCopies(tables, 4, true, Number.POSITIVE_INFINITY))).toEqual(['public.events', 'public.orders']);
    // Two big tables of the same size: two parts each, all four streams busy.
    expect(shape(planCopies([table('a', 600), table('b', 600)], 4, true, 256 * MiB))).toEqual([
      'public.a[0-38400]',
      'public.a[38400-]',
      'public.b[0-38400]',
      'public.b[38400-]',
    ]);
  });
});

describe('splitDumpScript', () => {
  it('splits at top-level semicolons and tags each statement with its TOC entry', () => {
    const statements = splitDumpScript(POST_DATA);
    expect(statements.map((s) => s.entry?.type ?? '-')).toEqual([
      '-',
      '-',
      '-',
      '-',
      'CONSTRAINT',
      'INDEX',
      'COMMENT',
      'CONSTRAINT',
      'CONSTRAINT', // the SET default_tablespace written after an entry, before the next TOC comment
      'INDEX',
      'INDEX',
      'INDEX ATTACH',
      'TRIGGER',
      'FK CONSTRAINT',
      'MATERIALIZED VIEW DATA',
    ]);
    const comment = statements.find((s) => s.entry?.type === 'COMMENT')!;
    expect(comment.sql).toBe(
      "COMMENT ON INDEX public.orders_customer IS 'a comment; with a semicolon\n-- Name: fake; Type: INDEX; Schema: public; Owner: app'",
    );
    expect(statements.find((s) => s.entry?.schema === 'Shop')!.entry!.name).toBe('Order Lines Order Lines_pkey');
  });

  it('honours dollar quotes, E strings, quoted identifiers and comments', () => {
    const statements = splitDumpScript(
      `CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n` +
        `SELECT E'it\\'s; here', "a;b" FROM t /* ; */ -- ;\n;\n` +
        `SELECT $$;$$;`,
    );
    expect(statements.map((s) => s.sql)).toEqual([
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
      `SELECT E'it\\'s; here', "a;b" FROM t /* ; */ -- ;`,
      'SELECT $$;$$',
    ]);
  });

  it('refuses psql meta-commands other than \\restrict and unterminated text', () => {
    expect(() => splitDumpScript('\\connect other\nSELECT 1;')).toThrow(/psql meta-command \\connect/);
    expect(() => splitDumpScript("SELECT 'open;")).toThrow(/unterminated string/);
    expect(() => splitDumpScript('SELECT 1')).toThrow(/without its final semicolon/);
  });
});

describe('settingName', () => {
  it('recognises SET and set_config statements', () => {
    expect(settingName('SET default_tablespace = fast')).toBe('default_tablespace');
    expect(settingName("SELECT pg_catalog.set_config('search_path', '', false)")).toBe('search_path');
    expect(settingName('SET SESSION statement_timeout TO 0')).toBe('statement_timeout');
    expect(settingName('CREATE INDEX x ON t (a)')).toBeUndefined();
  });
});

describe('planPostData', () => {
  it('runs indexes and keys first (biggest tables first), then attachments, foreign keys, then the rest in order', () => {
    const phases = planPostData(
      splitDumpScript(POST_DATA),
      new Map([
        ['public.orders', 1000],
        ['public.customers', 10],
      ]),
    );
    expect(phases.map((p) => [p.label, p.parallel, p.jobs.map((j) => j.name)])).toEqual([
      [
        'indexes and constraints',
        true,
        ['orders_customer', 'orders_big', 'customers customers_pkey', 'Order Lines Order Lines_pkey'],
      ],
      ['partition index attachments', false, ['parted_1_id_idx']],
      ['foreign keys', true, ['orders orders_customer_id_fkey']],
      ['triggers, rules, policies, comments, materialized views', false, ['INDEX orders_customer', 'logs t1', 'mv']],
    ]);
    const jobs = phases.flatMap((p) => p.jobs);
    expect(jobs.find((j) => j.name === 'Order Lines Order Lines_pkey')!.table).toBe('"Shop"."Order Lines"');
    // Each job carries the settings pg_dump wrote above it, whatever order it runs in.
    const tablespace = (name: string) => jobs.find((j) => j.name === name)!.settings.find((s) => /tablespace/.test(s));
    expect(tablespace('orders_big')).toBe('SET default_tablespace = fast');
    expect(tablespace('orders_customer')).toBe("SET default_tablespace = ''");
    expect(tablespace('parted_1_id_idx')).toBe("SET default_tablespace = ''");
    expect(jobs[0]!.settings).toContain("SELECT pg_catalog.set_config('search_path', '', false)");
    // A foreign key names the table it references, so that it can run as soon as both tables have their keys.
    expect(referencedTable(jobs.find((j) => j.type === 'FK CONSTRAINT')!)).toBe('public.customers');
    const fk = (sql: string) => referencedTable({ type: 'FK CONSTRAINT', name: 'x', settings: [], statements: [sql] });
    expect(
      fk(
        'ALTER TABLE ONLY "Shop"."Order Lines"\n    ADD CONSTRAINT x FOREIGN KEY ("a) REFERENCES b.c(") REFERENCES "Shop"."We.ird"(id)',
      ),
    ).toBe('"Shop"."We.ird"');
    expect(referencedTable(jobs.find((j) => j.type === 'INDEX')!)).toBeUndefined();
  });

  it('has nothing to do for an empty post-data section', () => {
    expect(planPostData(splitDumpScript('SET statement_timeout = 0;\n'))).toEqual([]);
  });
});

describe('SQL text', () => {
  it('quotes identifiers and literals', () => {
    expect(quoteIdent('Order "Lines"')).toBe('"Order ""Lines"""');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(() => quoteIdent('a\0b')).toThrow();
  });

  it('builds an order-independent checksum over ONLY the table, that counts identical rows', () => {
    // A row's hash: the xor of its columns' hashes, each seeded with its position, NULL a constant of its own.
    expect(
      checksumQuery(
        '"Shop"."Order Lines"',
        ['"id"', '"Note"', '"at"', '"total"'],
        ['hashint8extended', 'hashtextextended', 'array', 'text'],
      ),
    ).toBe(
      'SELECT count(*)::text AS rows, coalesce(sum(' +
        'coalesce(pg_catalog.hashint8extended(rel_row."id", 0), -1) # ' +
        'coalesce(pg_catalog.hashtextextended(rel_row."Note" COLLATE "C", 1), -2) # ' +
        'coalesce(pg_catalog.hash_array_extended(ARRAY[rel_row."at"], 2), -3) # ' +
        'coalesce(pg_catalog.hashtextextended(rel_row."total"::text COLLATE "C", 3), -4)' +
        '), 0)::text AS checksum FROM ONLY "Shop"."Order Lines" AS rel_row',
    );
    // A table without columns still counts its rows.
    expect(checksumQuery('public.t', [], [])).toBe(
      'SELECT count(*)::text AS rows, coalesce(sum(0::int8), 0)::text AS checksum FROM ONLY public.t AS rel_row',
    );
  });

  it('names the databases of a run', () => {
    expect(newDatabaseName('app')).toBe('app__rel_new');
    expect(previousDatabaseName('app')).toBe('app__rel_previous');
  });

  it('carries database settings as literals, lists split', () => {
    expect(splitSettingList('"$user", public, "we""ird"')).toEqual(['$user', 'public', 'we"ird']);
    expect(alterDatabaseSet('app', 'search_path="$user", public')).toBe(
      `ALTER DATABASE "app" SET search_path TO '$user', 'public'`,
    );
    expect(alterDatabaseSet('app', "work_mem=64MB'; DROP")).toBe(`ALTER DATABASE "app" SET work_mem TO '64MB''; DROP'`);
    expect(alterDatabaseSet('app', 'bad name=1')).toBeUndefined();
  });

  it('redacts secrets and password= pairs', () => {
    expect(redact('auth failed for s3cret, password=abc;x', ['s3cret'])).toBe('auth failed for ***, password=***;x');
  });
});

describe('chooseMethod', () => {
  const plpgsql = { name: 'plpgsql', version: '1.0', configTables: 0 };
  it('takes the COPY path for contrib extensions', () => {
    expect(chooseMethod([plpgsql, { name: 'pg_trgm', version: '1.6', configTables: 0 }]).method).toBe('copy');
  });

  it('falls back to pg_dump | pg_restore for unknown extensions or configuration tables, saying why', () => {
    expect(chooseMethod([plpgsql, { name: 'postgis', version: '3.4', configTables: 1 }])).toEqual({
      method: 'dump-restore',
      reason: 'extension postgis keeps rows in 1 configuration table(s), which only pg_dump copies',
    });
    expect(chooseMethod([{ name: 'timescaledb', version: '2', configTables: 0 }]).reason).toMatch(
      /extension timescaledb is not one the COPY path knows/,
    );
  });

  it('obeys forceMethod, but refuses to force the COPY path where it would not be faithful', () => {
    expect(chooseMethod([plpgsql], 'dump-restore')).toMatchObject({ method: 'dump-restore', reason: /forced/ });
    expect(chooseMethod([plpgsql], 'copy')).toMatchObject({ method: 'copy', reason: /forced/ });
    expect(() => chooseMethod([{ name: 'x', version: '1', configTables: 2 }], 'copy')).toThrow(
      /cannot force the COPY path/,
    );
  });
});

describe('checkOptions', () => {
  const source = { host: '127.0.0.1', port: 5432, user: 'app', password: 'pw-secret', database: 'app' };
  const target = { ...source, port: 5433 };
  const bad = (options: object) => {
    try {
      checkOptions({ source, target, ...options } as never);
    } catch (error) {
      expect(isRelError(error, 'BAD_INPUT')).toBe(true);
      expect((error as Error).message).not.toContain('pw-secret');
      return (error as Error).message;
    }
    throw new Error('expected BAD_INPUT');
  };

  it('fills in defaults', () => {
    const checked = checkOptions({ source, target });
    expect(checked).toMatchObject({ parallel: 4, maintenanceDatabase: 'postgres', freezeWrites: false });
    expect(checked.maintenanceWorkMem).toBe('256MB');
    expect(checked.splitTableBytes).toBe(256 * 1024 ** 2);
  });

  it('names what is wrong', () => {
    expect(bad({ parallel: 0 })).toMatch(/invalid parallel 0/);
    expect(bad({ parallel: 2.5 })).toMatch(/invalid parallel/);
    expect(bad({ target: { ...target, database: 'x'.repeat(50) } })).toMatch(/target database name .*up to 49 bytes/);
    expect(bad({ target: { ...target, database: 'a b' } })).toMatch(/invalid target database name "a b"/);
    expect(bad({ target: { ...source } })).toMatch(/source and target are the same database/);
    expect(bad({ maintenanceDatabase: 'app' })).toMatch(/maintenance database must not be the target/);
    expect(bad({ forceMethod: 'rsync' })).toMatch(/invalid forceMethod "rsync"/);
    expect(bad({ stopConsumer: async () => {} })).toMatch(/stopConsumer and startConsumer go together/);
    expect(bad({ maintenanceWorkMem: '1; DROP' })).toMatch(/invalid maintenanceWorkMem/);
    expect(bad({ splitTableBytes: -1 })).toMatch(/^invalid splitTableBytes -1: expected a number of bytes/);
    expect(bad({ splitTableBytes: Number.NaN })).toMatch(/invalid splitTableBytes/);
    expect(bad({ source: { ...source, port: 70000 } })).toMatch(/invalid source port 70000/);
    expect(bad({ source: undefined })).toMatch(/source: expected connection settings/);
  });
});

describe('small pieces', () => {
  it('compares schema fingerprints as multisets', () => {
    expect(compareFingerprints(['a', 'b', 'b'], ['b', 'a', 'c'])).toEqual({ onlyInSource: ['b'], onlyInCopy: ['c'] });
  });

  it('computes the next value of a sequence', () => {
    expect(nextSequenceValue({ lastValue: '41', isCalled: true, increment: '1' })).toBe(42n);
    expect(nextSequenceValue({ lastValue: '1', isCalled: false, increment: '1' })).toBe(1n);
    expect(nextSequenceValue({ lastValue: '9223372036854775800', isCalled: true, increment: '-5' })).toBe(
      9223372036854775795n,
    );
  });

  it('recognises read-only values, including the freeze mark', () => {
    expect(['on', 'tru', 'TRUE', 'yes', '1'].every(isReadOnlyValue)).toBe(true);
    expect([null, 'off', 'false', '0'].some(isReadOnlyValue)).toBe(false);
  });

  it('runs a pool with bounded parallelism and stops handing out work after a failure', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await runPool([1, 2, 3, 4, 5, 6], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(n);
      running--;
    });
    expect(most).toBe(2);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const started: number[] = [];
    await expect(
      runPool([1, 2, 3, 4], 1, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
  });
});
