import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  docker,
  type Receiver,
  relBin,
  startReceiver,
  startTestNginx,
  type TestNginx,
  testProject,
  throughNginx,
} from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REGISTRY = '127.0.0.1:5000';

interface JsonEvent {
  type: string;
  step?: string;
  message?: string;
  release?: { id: string; step: string };
  code?: string;
  data?: unknown;
}

// `rel release` against the sample app's real containers, a real registry and a real nginx (socket method):
// one project, its releases in a row, each test starting from where the one before left it.
describe('rel release', () => {
  const t = testProject('rel');
  let nginx: TestNginx;
  let receiver: Receiver;
  type Notification = { event?: string; severity?: string; fields?: Record<string, string> };
  const received = () => receiver.received.map((r) => r.body as Notification);
  const failCheck = join(t.dir, 'fail-check');

  /** Runs rel with --json; `onEvent` sees each event as it comes (and may signal the process). */
  function relJson(
    args: string[],
    onEvent: (event: JsonEvent, child: ChildProcess) => void = () => {},
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; events: JsonEvent[]; stderr: string }> {
    const child = spawn(process.execPath, [relBin, ...args, '--config', t.configFile, '--json'], {
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: JsonEvent[] = [];
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as JsonEvent;
      events.push(event);
      onEvent(event, child);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    return new Promise((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, events, stderr });
      });
    });
  }

  async function history(id?: string) {
    const r = await t.rel(['history', ...(id ? [id] : []), '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!).data;
  }

  async function newest() {
    const { releases } = await history();
    return releases[0] as {
      id: string;
      status: string;
      target: string;
      from: string | null;
      versions: { backend: string; frontend: string };
      steps: { id: string; status: string; attempts: number; error?: { code: string; message: string } }[];
    };
  }

  async function writeItem(name: string) {
    const created = await fetch(`${nginx.publicUrl}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(created.status).toBe(201);
  }

  async function live() {
    return throughNginx(nginx.publicUrl);
  }

  /** One column of a query in an environment's database, row by row. */
  async function query(env: 'blue' | 'green', sql: string): Promise<string[]> {
    const out = await docker('exec', `${t.project}-${env}-db`, 'psql', '-U', 'app', '-d', 'app', '-Atc', sql);
    return out.split('\n').filter(Boolean);
  }
  const rowsOf = (env: 'blue' | 'green') => query(env, 'SELECT name FROM items ORDER BY id');

  beforeAll(async () => {
    receiver = await startReceiver();
    nginx = await startTestNginx(t, 'socket');
    // the pre-switch check: the idle API answers /items through REL_API_URL, unless the test asks it to fail
    writeFileSync(
      join(t.dir, 'smoke.mjs'),
      `import { existsSync } from 'node:fs';
const url = process.env.REL_API_URL + '/items';
const res = await fetch(url);
console.log('smoke: GET ' + url + ' answered ' + res.status + ' (' + process.env.REL_ENVIRONMENT + ', ' + process.env.REL_BACKEND_VERSION + ')');
if (existsSync(${JSON.stringify(failCheck)})) { console.error('smoke: failing on purpose'); process.exit(3); }
process.exit(res.status === 200 ? 0 : 1);
`,
    );
    appendFileSync(
      t.configFile,
      `${nginx.yaml}
notifications:
  timeout: 2s
  targets:
    - { kind: webhook, name: local, url: "${receiver.url}/hook" }
release:
  monitor: 2s
  monitorInterval: 500ms
  checks:
    - { name: smoke, command: [node, smoke.mjs], timeout: 20s }
`,
    );
    // an API image whose last migration fails (a table that does not exist), and its client
    const context = join(t.dir, 'broken-image');
    mkdirSync(context, { recursive: true });
    writeFileSync(
      join(context, '20251201000000_Broken.sql'),
      '-- fails on purpose\nALTER TABLE no_such_table ADD COLUMN x integer;\n',
    );
    writeFileSync(
      join(context, 'Dockerfile'),
      `FROM ${REGISTRY}/rel-sample/api:v3\nCOPY 20251201000000_Broken.sql /app/migrations/\n`,
    );
    await docker('pull', `${REGISTRY}/rel-sample/api:v3`);
    await docker('build', '-q', '-t', `${REGISTRY}/rel-sample/api:vbroken`, context);
    await docker('pull', `${REGISTRY}/rel-sample/client:v3`);
    await docker('tag', `${REGISTRY}/rel-sample/client:v3`, `${REGISTRY}/rel-sample/client:vbroken`);
    await docker('push', `${REGISTRY}/rel-sample/api:vbroken`);
    await docker('push', `${REGISTRY}/rel-sample/client:vbroken`);
  });
  afterAll(async () => {
    await nginx?.stop();
    await receiver?.close();
    await t.cleanup();
  });

  it('bad input: nothing to resume or promote, a malformed tag, a tag that does not exist; nothing changes', async () => {
    for (const [args, pattern] of [
      [['release', 'resume'], /^rel: nothing to resume: no release is interrupted/],
      [['release', 'promote'], /^rel: nothing to promote: no release is paused for approval/],
      [['release', 'abort'], /^rel: nothing to abort/],
      [['release', 'v1;rm -rf /'], /^rel: invalid version "v1;rm -rf \/"/],
      [['release', 'v1', '--only', 'database'], /^rel: invalid --only "database": expected backend or frontend/],
      [['release', 'v1', '--monitor', 'soon'], /^rel: invalid --monitor "soon"/],
      [['release', 'v1', '--only', 'backend'], /^rel: --only backend: nothing is live to keep the frontend of/],
      [['history', 'zz'], /^rel: invalid release id "zz"/],
    ] as const) {
      const r = await t.rel([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect((await history()).releases).toEqual([]);

    const missing = await t.rel(['release', 'v404']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/failed at step pull: .*v404/);
    expect(missing.stderr).toMatch(/traffic untouched/);
    expect(await docker('ps', '-aq', '--filter', `label=rel.project=${t.project}`)).toBe('');
    const record = await newest();
    expect(record.status).toBe('failed');
    expect(record.steps[0]).toMatchObject({ id: 'pull', status: 'failed', error: { code: 'NOT_FOUND' } });
    expect(record.steps.slice(1).every((s) => s.status === 'pending' || s.status === 'skipped')).toBe(true);
  });

  it('v1, v2, v3 in a row: each to the then-idle environment, traffic moving each time', async () => {
    // nginx routes to blue from the start, where nothing runs: the first release goes to green
    const first = await t.rel(['release', 'v1']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/v1 is live on green and passed its watch/);
    expect(await live()).toMatchObject({ status: 200, env: 'green', version: 'v1' });
    await writeItem('written-on-v1');

    const second = await t.rel(['release', 'v2', '--replicate']);
    expect(second.code, second.stderr).toBe(0);
    expect(await live()).toMatchObject({ status: 200, env: 'blue', version: 'v2' });
    expect(await rowsOf('blue')).toEqual(['written-on-v1']);

    const dry = await t.rel(['release', 'v3', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/live: blue since .*; the release goes to green, the idle environment/);
    expect(dry.stdout).toMatch(/\(skipped: not asked .*\) copy blue's database into green/);

    const third = await t.rel(['release', 'v3']);
    expect(third.code, third.stderr).toBe(0);
    expect(await live()).toMatchObject({ status: 200, env: 'green', version: 'v3' });
    const list = await t.rel(['history']);
    expect(list.stdout.split('\n').filter((l) => / succeeded$/.test(l))).toHaveLength(3);
    const record = await newest();
    expect(record).toMatchObject({ status: 'succeeded', target: 'green', from: 'blue' });
    expect(record.steps.map((s) => `${s.id}:${s.status}`)).toEqual([
      'pull:done',
      'deploy-backend:done',
      'replicate:skipped',
      'migrate:done',
      'deploy-frontend:done',
      'checks:done',
      'approval:skipped',
      'switch:done',
      'monitor:done',
    ]);
    const events = received()
      .filter((n) => n.event?.startsWith('release-'))
      .map((n) => n.event);
    expect(events.filter((e) => e === 'release-succeeded')).toHaveLength(3);
    const shown = await t.rel(['history', record.id.slice(0, 17)]);
    expect(shown.stdout).toMatch(/done +checks +check green before the switch/);
    expect(shown.stdout).toMatch(/smoke passed/);
  });

  it('the single-step commands refuse the live environment without --force, and accept idle and live', async () => {
    for (const args of [
      ['deploy', 'backend', 'green', 'v3'],
      ['deploy', 'frontend', 'live', 'v3'],
      ['db', 'migrate', 'green'],
      ['db', 'restore', 'live', 'latest'],
    ]) {
      const r = await t.rel(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^rel: refusing to .* green: it is the live environment .*idle environment blue/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const idle = await t.rel(['deploy', 'backend', 'idle', 'v3', '--dry-run']);
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toMatch(/rel deploy backend blue v3 would/);
    const forced = await t.rel(['deploy', 'frontend', 'green', 'v3', '--force', '--dry-run']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await live()).toMatchObject({ env: 'green', version: 'v3' });
  });

  it('a failing migration stops the release before the switch: live untouched, the journal says so', async () => {
    const r = await t.rel(['release', 'vbroken']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/failed at step migrate: .*no_such_table/);
    expect(r.stderr).toMatch(/traffic untouched \(on green\); blue runs: /);
    expect(await live()).toMatchObject({ status: 200, env: 'green', version: 'v3' });
    const record = await newest();
    expect(record.status).toBe('failed');
    expect(record.steps.find((s) => s.id === 'migrate')).toMatchObject({ status: 'failed' });
    expect(record.steps.find((s) => s.id === 'switch')).toMatchObject({ status: 'pending' });
    expect(received().at(-1)).toMatchObject({ event: 'release-failed', severity: 'warning' });
  });

  it('a failing pre-switch check stops the release before the switch', async () => {
    writeFileSync(failCheck, '');
    try {
      const r = await t.rel(['release', 'v2']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /failed at step checks: pre-switch check smoke exited with 3: smoke: failing on purpose;/,
      );
      expect(await live()).toMatchObject({ env: 'green', version: 'v3' });
      const record = await newest();
      expect(record.steps.find((s) => s.id === 'checks')).toMatchObject({ status: 'failed' });
      expect(record.steps.find((s) => s.id === 'deploy-frontend')).toMatchObject({ status: 'done' });
    } finally {
      rmSync(failCheck, { force: true });
    }
  });

  it('pause before the switch, refuse others meanwhile, then promote', async () => {
    const paused = await t.rel(['release', 'v2', '--pause-before-switch']);
    expect(paused.code, paused.stderr).toBe(5);
    expect(paused.stdout).toMatch(/paused before the switch: blue runs v2, verified; rel release promote/);
    expect(await live()).toMatchObject({ env: 'green', version: 'v3' });
    expect((await newest()).status).toBe('paused');

    const another = await t.rel(['release', 'v1']);
    expect(another.code).toBe(3);
    expect(another.stderr).toMatch(/another release is open: release \S+ \(v2 to blue\) is paused awaiting approval/);
    const deploy = await t.rel(['deploy', 'backend', 'blue', 'v1']);
    expect(deploy.code).toBe(3);
    expect(deploy.stderr).toMatch(/refusing to deploy the backend to blue: release \S+ \(v2 to blue\) is paused/);
    const resume = await t.rel(['release', 'resume']);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toMatch(/nothing to resume: release \S+ .* is paused awaiting approval/);

    const promoted = await t.rel(['release', 'promote']);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(await live()).toMatchObject({ env: 'blue', version: 'v2' });
    const record = await newest();
    expect(record.status).toBe('succeeded');
    expect(record.steps.find((s) => s.id === 'approval')).toMatchObject({ status: 'done' });
  });

  it('pause, then abort: live untouched, the release ends aborted', async () => {
    const paused = await t.rel(['release', 'v3', '--pause-before-switch']);
    expect(paused.code, paused.stderr).toBe(5);
    const aborted = await t.rel(['release', 'abort', '--reason', 'not today']);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stdout).toMatch(/aborted: not today; traffic untouched \(on blue\)/);
    expect(await live()).toMatchObject({ env: 'blue', version: 'v2' });
    const record = await newest();
    expect(record.status).toBe('aborted');
    expect(record.steps.find((s) => s.id === 'switch')).toMatchObject({ status: 'skipped' });
    const promote = await t.rel(['release', 'promote']);
    expect(promote.code).toBe(2);
  });

  it('a breach while production is watched rolls back by itself; the release ends rolled back', async () => {
    let failed: Promise<unknown> | undefined;
    const run = await relJson(['release', 'v3', '--monitor', '30s', '--monitor-interval', '300ms'], (event) => {
      if (event.type === 'step:start' && event.step === 'release/monitor') {
        failed = fetch(`http://127.0.0.1:${t.ports.green.apiPort}/admin/fail?mode=error`, { method: 'POST' });
      }
    });
    await failed;
    expect(run.code, run.stderr).toBe(4);
    expect(await live()).toMatchObject({ env: 'blue', version: 'v2' });
    const record = await newest();
    expect(record.status).toBe('rolled-back');
    expect(record.steps.find((s) => s.id === 'monitor')).toMatchObject({
      status: 'failed',
      error: { code: 'ROLLED_BACK' },
    });
    expect(
      received().some((n) => n.event === 'rollback' && n.severity === 'critical' && n.fields?.release === record.id),
    ).toBe(true);
    // every event of the run names the release and its step
    const own = run.events.filter((e) => e.type.startsWith('step:') || e.type === 'log');
    expect(own.filter((e) => e.release?.id === record.id).length).toBeGreaterThan(own.length * 0.9);
    await fetch(`http://127.0.0.1:${t.ports.green.apiPort}/admin/fail?mode=off`, { method: 'POST' });
  });

  it('a second rel release while one runs is refused, naming the holder (the lock, then the open release)', async () => {
    const seen: Record<string, ReturnType<typeof t.rel>> = {};
    const run = await relJson(['release', 'v3', '--monitor', '3s', '--monitor-interval', '500ms'], (event) => {
      if (event.type !== 'step:start') return;
      if (event.step === 'release/deploy-backend') seen.locked = t.rel(['release', 'v1']);
      if (event.step === 'release/monitor') seen.open = t.rel(['release', 'v1']);
    });
    expect(run.code, run.stderr).toBe(0);
    const locked = await seen.locked!;
    expect(locked.code).toBe(3);
    expect(locked.stderr).toMatch(/release lock held by "release v3" \(pid \d+ on /);
    const open = await seen.open!;
    expect(open.code).toBe(3);
    expect(open.stderr).toMatch(/release \S+ \(v3 to green\) is running \(step monitor; "release" pid \d+ on /);
    expect(await live()).toMatchObject({ env: 'green', version: 'v3' });
  });

  it('kill -9 at the start of every step, then resume: it ends as an uninterrupted release does', async () => {
    await writeItem('written-on-v3');
    const steps = ['pull', 'deploy-backend', 'replicate', 'migrate', 'deploy-frontend', 'checks', 'switch', 'monitor'];
    let args = ['release', 'v2', '--replicate'];
    for (const step of steps) {
      // rel kills itself with SIGKILL as the step starts (its start is in the journal): no race with a test's kill
      const run = await t.rel(args, { REL_TEST_CRASH_AT_STEP: step });
      expect(run.code, `killed at ${step}: ${run.stderr}`).toBe(-1);
      const record = await newest();
      expect(record.status, step).toBe('running');
      expect(
        record.steps.find((s) => s.id === step),
        step,
      ).toMatchObject({ status: 'running' });
      const blocked = await t.rel(['release', 'v3']);
      expect(blocked.code, step).toBe(3);
      expect(blocked.stderr).toMatch(
        new RegExp(`was interrupted at step ${step} .*: rel release resume, or rel release abort`),
      );
      // the lock of the killed run is taken over (the watch after the switch runs without it)
      const takeover = /took over the release lock .*: its holder "release (v2|resume)" .* is gone/;
      if (step === 'monitor') expect(blocked.stdout).not.toMatch(takeover);
      else expect(blocked.stdout, step).toMatch(takeover);
      args = ['release', 'resume'];
    }
    const last = await t.rel(['release', 'resume']);
    expect(last.code, last.stderr).toBe(0);

    expect(await live()).toMatchObject({ status: 200, env: 'blue', version: 'v2' });
    const record = await newest();
    expect(record.status).toBe('succeeded');
    for (const step of record.steps) {
      if (step.id === 'approval') continue;
      expect(step, step.id).toMatchObject({ status: 'done', attempts: 2 });
    }
    // what an uninterrupted release leaves: one container per role, running, and blue holds green's data
    const containers = await docker(
      'ps',
      '-a',
      '--filter',
      `label=rel.project=${t.project}`,
      '--filter',
      'label=rel.environment=blue',
      '--format',
      '{{.Label "rel.role"}} {{.Label "rel.version"}} {{.State}}',
    );
    expect(containers.split('\n').sort()).toEqual(['api v2 running', 'client v2 running', 'db 15 running']);
    expect(await rowsOf('blue')).toEqual(await rowsOf('green'));
    expect(await rowsOf('blue')).toContain('written-on-v3');
    const databases = await query('blue', 'SELECT datname FROM pg_database');
    expect(databases).not.toContain('app__rel_new');
    expect(readFileSync(join(t.dir, 'state', 'live.json'), 'utf8')).toMatch(/"live": "blue"/);
  });

  it('--only frontend keeps the live backend; --backend and --frontend name two versions', async () => {
    const plan = await t.rel(['release', '--backend', 'v3', '--frontend', 'v1', '--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/deploy backend v3 to green/);
    expect(plan.stdout).toMatch(/deploy frontend v1 to green/);

    const r = await t.rel(['release', 'v3', '--only', 'frontend', '--monitor', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(await live()).toMatchObject({ env: 'green', version: 'v2' });
    const client = await fetch(`${nginx.publicUrl}/version`).then((res) => res.text());
    expect(client.trim()).toBe('v3');
    const record = await newest();
    expect(record).toMatchObject({ versions: { backend: 'v2', frontend: 'v3' }, only: 'frontend' });
    expect(record.steps.find((s) => s.id === 'monitor')).toMatchObject({ status: 'skipped' });
    const list = await t.rel(['history', '--limit', '1']);
    expect(list.stdout).toMatch(/frontend v3 +green .* succeeded\n\(\d+ older; --limit \d+\)/);
  });

  it('SIGINT during a step: exit 130, the journal says interrupted, resume finishes the release', async () => {
    const run = await relJson(['release', 'v3'], (event, child) => {
      if (event.type === 'step:start' && event.step === 'release/deploy-backend') child.kill('SIGINT');
    });
    expect(run.code, run.stderr).toBe(130);
    const record = await newest();
    expect(record.status).toBe('interrupted');
    expect(record.steps.find((s) => s.id === 'deploy-backend')).toMatchObject({ status: 'pending', attempts: 1 });
    expect(await live()).toMatchObject({ env: 'green' });
    const resumed = await t.rel(['release', 'resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await live()).toMatchObject({ env: 'blue', version: 'v3' });
    expect((await newest()).status).toBe('succeeded');
  });

  it('a damaged journal file: a clear error naming the file, no crash', async () => {
    const { id } = await newest();
    const file = join(t.dir, 'state', 'releases', `${id}.json`);
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.slice(0, 200));
    try {
      const shown = await t.rel(['history', id]);
      expect(shown.code).toBe(2);
      expect(shown.stderr.trim().split('\n')).toHaveLength(1);
      expect(shown.stderr).toContain(`release journal ${file} is damaged: not valid JSON`);
      const list = await t.rel(['history']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain(`warn: release journal ${file} is damaged`);
      const release = await t.rel(['release', 'v3']);
      expect(release.code).toBe(2);
      expect(release.stderr).toContain(`release journal ${file} is damaged`);
    } finally {
      writeFileSync(file, good);
    }
  });
});
