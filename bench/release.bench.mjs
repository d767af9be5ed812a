// bench/release: a whole `rel release` (the watch shortened) while wrk keeps keep-alive traffic on nginx, against
// the same release done by hand as single commands (deploy backend, db replicate, db migrate, deploy frontend,
// the smoke check, switch, monitor), measured side by side in one run: the rounds alternate (by hand, then
// rel release, each into the then-idle environment), and wrk runs through every round. Prints the failed
// requests of each kind of round (target 0), the time of each step, and the release's total against the sum
// of the single commands (target <= 1.05x). The sandbox's own project ("sample", as npm run demo leaves it).
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median, SANDBOX_NGINX_URL } from '@rel/test-utils';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const rel = join(root, 'apps/cli/bin/rel.js');
const config = join(root, 'examples/sandbox/rel.config.yaml');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WATCH = process.env.BENCH_WATCH ?? '5s';
const PORTS = { blue: { api: 18081, client: 18091 }, green: { api: 18082, client: 18092 } };

/** Runs rel; resolves with its wall time (process start to exit) and its JSON events. */
function relRun(args, { allowFail = false } = {}) {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [rel, ...args, '--config', config, '--json'], {
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const events = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      if (code !== 0 && !allowFail)
        reject(new Error(`rel ${args.join(' ')} exited ${code}: ${JSON.stringify(events.at(-1))}`));
      else resolve({ ms, events, code });
    });
  });
}

async function liveEnvironment() {
  const { events } = await relRun(['status']);
  return events.at(-1).data.live.live;
}

/** wrk through nginx until stopped; resolves with its counts. */
function startLoad() {
  const wrk = spawn('wrk', ['-t2', '-c8', '-d3600s', `${SANDBOX_NGINX_URL}/api/health`]);
  let out = '';
  wrk.stdout.on('data', (d) => (out += d));
  const done = new Promise((resolve) => wrk.on('exit', resolve));
  return async () => {
    wrk.kill('SIGINT');
    await done;
    const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const socketErrors = errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
    return { total, failed: non2xx + socketErrors, detail: `${non2xx} non-2xx, ${errors?.[0] ?? 'no socket errors'}` };
  };
}

/** The release done by hand: one rel command per step, into the idle environment. */
async function byHand(version) {
  const live = await liveEnvironment();
  const idle = live === 'blue' ? 'green' : 'blue';
  const steps = {};
  const step = async (name, run) => {
    const t0 = process.hrtime.bigint();
    await run();
    steps[name] = Number(process.hrtime.bigint() - t0) / 1e6;
  };
  await step('deploy-backend', () => relRun(['deploy', 'backend', idle, version]));
  await step('replicate', () => relRun(['db', 'replicate', live, idle]));
  await step('migrate', () => relRun(['db', 'migrate', idle]));
  await step('deploy-frontend', () => relRun(['deploy', 'frontend', idle, version]));
  await step('checks', () =>
    exec(process.execPath, [join(root, 'examples/sandbox/checks/smoke.mjs')], {
      env: {
        ...process.env,
        REL_API_URL: `http://127.0.0.1:${PORTS[idle].api}`,
        REL_CLIENT_URL: `http://127.0.0.1:${PORTS[idle].client}`,
      },
    }),
  );
  await step('switch', () => relRun(['switch', idle]));
  await step('monitor', () => relRun(['monitor', WATCH, '--interval', '1s']));
  return { total: Object.values(steps).reduce((a, b) => a + b, 0), steps, to: idle };
}

async function released(version) {
  const { ms, events } = await relRun([
    'release',
    version,
    '--replicate',
    '--monitor',
    WATCH,
    '--monitor-interval',
    '1s',
  ]);
  const steps = {};
  for (const e of events) {
    if (e.type === 'step:finish' && e.step?.startsWith('release/')) steps[e.step.slice(8)] = e.durationMs;
  }
  return { total: ms, steps, to: events.at(-1).data.target };
}

// something live to release against, and no release left open by an earlier run
await relRun(['release', 'abort'], { allowFail: true });
if (!(await liveEnvironment())) await relRun(['release', 'v1', '--monitor', '0']);

const hand = [];
const release = [];
const load = { hand: [], release: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [kind, run, version] of [
    ['hand', byHand, 'v2'],
    ['release', released, 'v3'],
  ]) {
    const stop = startLoad();
    await new Promise((r) => setTimeout(r, 500));
    const result = await run(version);
    await new Promise((r) => setTimeout(r, 500));
    load[kind].push(await stop());
    (kind === 'hand' ? hand : release).push(result);
    console.log(
      `  round ${round + 1} ${kind.padEnd(7)} ${version} -> ${result.to}: ${(result.total / 1000).toFixed(2)} s; ${Object.entries(
        result.steps,
      )
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`)
        .join(', ')}`,
    );
  }
}

const names = ['pull', 'deploy-backend', 'replicate', 'migrate', 'deploy-frontend', 'checks', 'switch', 'monitor'];
console.log(
  `rel release (watch ${WATCH} at 1s, --replicate) vs the single commands by hand, ${ROUNDS} round(s) each, medians:`,
);
console.log(`  ${'step'.padEnd(16)} ${'by hand'.padStart(9)} ${'release'.padStart(9)}`);
for (const name of names) {
  const h = hand.map((r) => r.steps[name]).filter((v) => v !== undefined);
  const r = release.map((x) => x.steps[name]).filter((v) => v !== undefined);
  const cell = (xs) => (xs.length ? `${(median(xs) / 1000).toFixed(2)} s` : '-').padStart(9);
  console.log(`  ${name.padEnd(16)} ${cell(h)} ${cell(r)}`);
}
const handTotal = median(hand.map((r) => r.total));
const releaseTotal = median(release.map((r) => r.total));
console.log(
  `  ${'total'.padEnd(16)} ${`${(handTotal / 1000).toFixed(2)} s`.padStart(9)} ${`${(releaseTotal / 1000).toFixed(2)} s`.padStart(9)}   ratio release/by hand ${(releaseTotal / handTotal).toFixed(2)}x (target <= 1.05x)`,
);
for (const kind of ['hand', 'release']) {
  const total = load[kind].reduce((a, b) => a + b.total, 0);
  const failed = load[kind].reduce((a, b) => a + b.failed, 0);
  console.log(
    `  wrk -t2 -c8 keep-alive through nginx during the ${kind === 'hand' ? 'single commands' : 'releases'}: ${total} requests, ${failed} failed (target 0): ${load[kind].map((l) => l.detail).join('; ')}`,
  );
}
