import { describe, expect, it } from 'vitest';
import type { PostDataJob, PostDataPhase } from '../dump-script.js';
import { FakeClient, fakeRun, fakeSessions } from './fakes.js';
import { postData, runPostDataJob } from './post-data.js';

const job = (name: string, settings: string[] = [], type = 'INDEX'): PostDataJob => ({
  type,
  name,
  settings,
  statements: [`CREATE INDEX ${name} ON public.t USING btree (id)`],
  table: 'public.t',
});

describe('runPostDataJob', () => {
  it('gives the session exactly the settings the job was dumped under, changing only what differs', async () => {
    const run = fakeRun();
    const client = new FakeClient();
    const session = { client: client.client, settings: new Map<string, string>() };
    await runPostDataJob(run, session, job('i1', ["SET default_tablespace = 'fast'", 'SET lock_timeout = 0']), 's');
    await runPostDataJob(run, session, job('i2', ['SET lock_timeout = 0']), 's');
    expect(client.queries).toEqual([
      "SET default_tablespace = 'fast'",
      'SET lock_timeout = 0',
      'CREATE INDEX i1 ON public.t USING btree (id)',
      'RESET default_tablespace',
      'CREATE INDEX i2 ON public.t USING btree (id)',
    ]);
    expect([...session.settings.keys()]).toEqual(['lock_timeout']);
    expect(run.events.at(-1)).toMatchObject({ type: 'log', level: 'debug', step: 's' });
  });

  it('runs a statement PostgreSQL cancelled to break a deadlock again, up to 5 times', async () => {
    let failures = 4;
    const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const client = new FakeClient(() => {
      if (failures-- > 0) throw deadlock();
    });
    const session = { client: client.client, settings: new Map<string, string>() };
    await runPostDataJob(fakeRun(), session, job('fk', [], 'FK CONSTRAINT'), 's');
    expect(client.queries).toHaveLength(5);

    const always = new FakeClient(() => {
      throw deadlock();
    });
    const error = await runPostDataJob(
      fakeRun(),
      { client: always.client, settings: new Map() },
      job('orders_fk', [], 'FK CONSTRAINT'),
      's',
    ).catch((e) => e);
    expect(always.queries).toHaveLength(5);
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe(
      'creating fk constraint orders_fk on 127.0.0.1:5434/app__rel_new failed: deadlock detected',
    );
  });
});

describe('postData', () => {
  it('runs the phases in order, a parallel one over every session, the others one job at a time', async () => {
    const run = fakeRun({ parallel: 2 });
    const { sessions, opened } = fakeSessions(run);
    const phases: PostDataPhase[] = [
      { label: 'indexes and constraints', parallel: true, jobs: [job('a'), job('b'), job('c'), job('d')] },
      { label: 'empty', parallel: true, jobs: [] },
      { label: 'triggers', parallel: false, jobs: [job('t1', [], 'TRIGGER'), job('t2', [], 'TRIGGER')] },
    ];
    const progress: string[] = [];
    await postData(run, sessions, phases, (message) => progress.push(message));
    const ran = (client: FakeClient) => client.queries.filter((sql) => sql.startsWith('CREATE'));
    expect(opened).toHaveLength(2);
    expect(ran(opened[0]!).length).toBeGreaterThan(0);
    expect(ran(opened[1]!).length).toBeGreaterThan(0);
    expect([...ran(opened[0]!), ...ran(opened[1]!)].sort()).toHaveLength(6);
    // The sequential phase, on the first session, in its order, after the parallel one.
    expect(ran(opened[0]!).slice(-2)).toEqual([
      'CREATE INDEX t1 ON public.t USING btree (id)',
      'CREATE INDEX t2 ON public.t USING btree (id)',
    ]);
    expect(progress.map((m) => m.replace(/ in .*/, ''))).toEqual([
      'indexes and constraints: 4 done',
      'triggers: 2 done',
    ]);
  });

  it('stops when the run is aborted', async () => {
    const run = fakeRun();
    const { sessions } = fakeSessions(run);
    run.controller.abort();
    const error = await postData(run, sessions, [{ label: 'x', parallel: false, jobs: [job('a')] }], () => {}).catch(
      (e) => e,
    );
    expect(error.code).toBe('ABORTED');
  });
});
