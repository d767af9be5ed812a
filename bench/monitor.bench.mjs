// bench/monitor: how fast `rel monitor` rolls back, and what it costs to run.
//
// 1. With a 1 s interval and threshold 3: the time from the moment green's API starts to fail to the
//    moment blue is verified serving through nginx (a fresh connection every 20 ms, by the environment
//    header), against the bound threshold x interval + 1 s. Several rounds; each prints its time.
// 2. CPU and peak memory of `rel monitor 60s --interval 1s` watching a healthy environment, read from
//    /proc (user + system CPU over the wall time, whole run and steady state; VmHWM). Targets: under 1% of
//    a core and under 80 MB. BENCH_ROUNDS=0 skips part 1; BENCH_FOOTPRINT_RUNS=3 repeats part 2 and prints the
//    medians (CPU figures vary with what else the machine runs). The runs share a compile cache of their own
//    (XDG_CACHE_HOME, see apps/cli/bin/load-cli.js), empty before the first: run 1 is a first run ever, the
//    others are every later run; the medians are over those later runs.
//
// Runs on the sandbox's sample project (examples/sandbox/rel.config.yaml), like `npm run demo`.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SANDBOX_NGINX_URL } from '@rel/test-utils';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const config = `${root}examples/sandbox/rel.config.yaml`;
const rel = `${root}apps/cli/bin/rel.js`;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3); // 0: the footprint only
const FOOTPRINT_SECONDS = Number(process.env.BENCH_FOOTPRINT_SECONDS ?? 60);
const INTERVAL_S = 1;
const THRESHOLD = 3;
const greenApi = 'http://127.0.0.1:18082';
const publicUrl = `${SANDBOX_NGINX_URL}/api/health`;

const compileCache = mkdtempSync(`${tmpdir()}/rel-bench-cache-`);
const relRun = (...args) => exec(process.execPath, [rel, '--config', config, ...args], { maxBuffer: 1 << 24 });
const setFailMode = (mode) => fetch(`${greenApi}/admin/fail?mode=${mode}`, { method: 'POST' }).then((r) => r.text());

/** Which environment answers through nginx, on a fresh connection. */
function whoAnswers() {
  return new Promise((resolve) => {
    const req = get(publicUrl, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, env: res.headers['x-rel-environment'] }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0 }));
  });
}

async function setUp() {
  for (const args of [
    ['deploy', 'backend', 'blue', 'v1'],
    ['db', 'migrate', 'blue'],
    ['deploy', 'frontend', 'blue', 'v1'],
    ['deploy', 'backend', 'green', 'v2'],
    ['db', 'migrate', 'green'],
    ['deploy', 'frontend', 'green', 'v2'],
  ]) {
    // a fixture: whichever environment nginx routes to is replaced too
    await relRun(...args, '--force');
  }
}

async function greenLive() {
  await setFailMode('off');
  await relRun('switch', 'blue');
  await relRun('switch', 'green');
}

/** One round: monitor running and passing; fail green; time until blue is verified through nginx. */
async function rollbackRound() {
  await greenLive();
  const child = spawn(process.execPath, [
    rel,
    '--config',
    config,
    'monitor',
    '120s',
    '--interval',
    `${INTERVAL_S}s`,
    '--threshold',
    String(THRESHOLD),
    '--json',
  ]);
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // the first check has passed: the monitor is watching
  while (!/"message":"check 1\/\d+ passed/.test(out)) {
    if (child.exitCode !== null) throw new Error(`rel monitor ended early: ${out.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // fail at a random point within the interval, as production does
  await new Promise((r) => setTimeout(r, Math.random() * INTERVAL_S * 1000));
  const failedAt = performance.now();
  await setFailMode('error');
  let verifiedAt;
  for (;;) {
    const answer = await whoAnswers();
    if (answer.status === 200 && answer.env === 'blue') {
      verifiedAt = performance.now();
      break;
    }
    if (performance.now() - failedAt > 30_000) throw new Error('no rollback within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const code = await exited;
  await setFailMode('off');
  return { ms: verifiedAt - failedAt, code };
}

const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s

/** CPU seconds (user + system) and peak resident memory (VmHWM, bytes) of a running process. */
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  return { cpu, hwm };
}

/**
 * `rel monitor <n>s --interval 1s` on a healthy green, read from /proc every 250 ms: CPU over the whole
 * run (start-up included: loading and compiling the CLI) and in steady state (from the first check on),
 * and the peak resident memory.
 */
async function footprint() {
  await greenLive();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [rel, '--config', config, 'monitor', `${FOOTPRINT_SECONDS}s`, '--interval', '1s', '--json'],
    { env: { ...process.env, XDG_CACHE_HOME: compileCache } },
  );
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let last;
  let atFirstCheck;
  while (child.exitCode === null) {
    try {
      last = { ...usage(child.pid), at: performance.now() };
      if (!atFirstCheck && /"message":"check 1\//.test(out)) atFirstCheck = last;
    } catch {
      break; // gone between the check and the read
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await exited;
  const wall = (last.at - started) / 1000;
  const steadyWall = (last.at - atFirstCheck.at) / 1000;
  return {
    wall,
    cpu: last.cpu,
    cpuPercent: (last.cpu / wall) * 100,
    startupCpu: atFirstCheck.cpu,
    steadyPercent: ((last.cpu - atFirstCheck.cpu) / steadyWall) * 100,
    steadyWall,
    peakMb: last.hwm / 2 ** 20,
  };
}

await setUp();
const bound = THRESHOLD * INTERVAL_S * 1000 + 1000;
const rounds = [];
for (let i = 0; i < ROUNDS; i++) {
  const round = await rollbackRound();
  rounds.push(round.ms);
  console.log(
    `  round ${i + 1}: blue verified ${round.ms.toFixed(0)} ms after green failed (rel monitor exit ${round.code})`,
  );
}
if (rounds.length > 0) {
  const worst = Math.max(...rounds);
  console.log(`rollback: interval ${INTERVAL_S}s, threshold ${THRESHOLD}, ${ROUNDS} rounds`);
  console.log(
    `  fail -> blue verified:   median ${[...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)].toFixed(0)} ms, worst ${worst.toFixed(0)} ms; bound ${bound} ms (threshold x interval + 1 s): ${worst <= bound ? 'within' : 'OVER'} (worst / bound ${(worst / bound).toFixed(2)}x)`,
  );
}
// Several footprint runs (BENCH_FOOTPRINT_RUNS, default 1) on a busy machine: each is printed, then the medians.
const FOOTPRINT_RUNS = Math.max(1, Number(process.env.BENCH_FOOTPRINT_RUNS ?? 1));
const footprints = [];
for (let i = 0; i < FOOTPRINT_RUNS; i++) {
  const f = await footprint();
  footprints.push(f);
  console.log(
    `footprint: rel monitor ${FOOTPRINT_SECONDS}s --interval 1s on a healthy environment (${i === 0 ? 'first run: compile cache empty' : 'compile cache warm'})`,
  );
  console.log(
    `  CPU, steady state:  ${f.steadyPercent.toFixed(2)}% of a core over ${f.steadyWall.toFixed(1)} s from the first check on (target < 1%)`,
  );
  console.log(
    `  CPU, whole run:     ${f.cpuPercent.toFixed(2)}% of a core (${f.cpu.toFixed(2)} s over ${f.wall.toFixed(1)} s; start-up up to the first check: ${f.startupCpu.toFixed(2)} s)`,
  );
  console.log(`  peak memory (RSS):  ${f.peakMb.toFixed(1)} MiB (target < 80 MB)`);
}
if (FOOTPRINT_RUNS > 1) {
  const warm = footprints.slice(1);
  const median = (key) => warm.map((f) => f[key]).sort((a, b) => a - b)[Math.floor(warm.length / 2)];
  console.log(
    `footprint, median of the ${warm.length} runs with a warm compile cache: steady ${median('steadyPercent').toFixed(2)}%, whole run ${median('cpuPercent').toFixed(2)}% of a core, start-up ${median('startupCpu').toFixed(2)} s, peak ${median('peakMb').toFixed(1)} MiB`,
  );
}
