// bench/deploy: `rel deploy backend green <v>` against the same steps done by hand with the docker CLI,
// measured side by side in one run (alternating, several rounds, medians). Also: how long after the API
// was actually ready (its "listening on" log line, as the engine timestamped it) rel noticed it, and
// `rel --help` against `node -e 0`.
//
// The baseline does the same steps as rel with one docker CLI call each: pull the API and database images,
// check the network and volume, stop and remove the old API container, check the running database and
// pg_isready in it, start the API, poll /health until 200 (every 100 ms, a tighter loop than such scripts
// usually have).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dockerCli as docker, median, SANDBOX_IMAGES, SANDBOX_REGISTRY } from '@rel/test-utils';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const rel = join(root, 'apps/cli/bin/rel.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const project = 'relbench';
const ports = { apiPort: 28082, clientPort: 28092, dbPort: 25432 };
const versions = ['v1', 'v2'];

const dir = mkdtempSync(join(tmpdir(), 'rel-bench-'));
const config = join(dir, 'rel.config.yaml');
writeFileSync(
  config,
  readFileSync(join(root, 'examples/sandbox/rel.config.yaml'), 'utf8')
    .replace('project: sample', `project: ${project}`)
    .replace(/blue: +\{[^}]*\}/, 'blue:  { apiPort: 28081, clientPort: 28091, dbPort: 25431 }')
    .replace(
      /green: +\{[^}]*\}/,
      `green: { apiPort: ${ports.apiPort}, clientPort: ${ports.clientPort}, dbPort: ${ports.dbPort} }`,
    )
    .replace(/^stateDir:.*$/m, `stateDir: ${dir}/state\nlabels:\n  rel.test: "1"`),
);

const healthUrl = `http://127.0.0.1:${ports.apiPort}/health`;

/**
 * The moment the API was really ready: the timestamp the engine gave its "listening on" log line (the
 * server writes it from its listen callback). Not a poll from outside: a connection made as the container
 * starts can hang in docker-proxy for a while, which would make an outside watcher late.
 */
async function listeningAt(container) {
  const { stdout } = await docker('logs', '--timestamps', container);
  const line = stdout.split('\n').find((l) => l.includes(' listening on :'));
  if (!line) throw new Error(`${container} wrote no "listening on" line`);
  return Date.parse(line.slice(0, line.indexOf(' ')));
}

async function byHand(version) {
  const t0 = Date.now();
  const api = `${SANDBOX_REGISTRY}/rel-sample/api:${version}`;
  const name = `${project}-green-api`;
  // the same steps rel takes, one docker CLI call each
  await Promise.all([docker('pull', '-q', api), docker('pull', '-q', SANDBOX_IMAGES.postgres)]);
  await docker('network', 'inspect', '-f', '{{.Id}}', `${project}-green`);
  await docker('volume', 'inspect', '-f', '{{.Name}}', `${project}-green-pgdata`);
  await docker('stop', name).catch(() => {});
  await docker('rm', name).catch(() => {});
  await docker('inspect', '-f', '{{.State.Running}}', `${project}-green-db`);
  await docker('exec', `${project}-green-db`, 'pg_isready', '-h', '127.0.0.1', '-U', 'app', '-d', 'app');
  await docker(
    'run',
    '-d',
    '--name',
    name,
    '--network',
    `${project}-green`,
    '--label',
    `rel.project=${project}`,
    '--label',
    'rel.environment=green',
    '--label',
    'rel.role=api',
    '--label',
    `rel.version=${version}`,
    '--label',
    'rel.test=1',
    '--restart',
    'unless-stopped',
    '-e',
    'PORT=8080',
    '-e',
    'PGHOST=db',
    '-e',
    'PGPORT=5432',
    '-e',
    'PGUSER=app',
    '-e',
    'PGPASSWORD=sandbox-only-db-password',
    '-e',
    'PGDATABASE=app',
    '-p',
    `127.0.0.1:${ports.apiPort}:8080`,
    api,
  );
  // a tighter loop than `until curl -sf ...; do sleep 1; done`
  for (;;) {
    try {
      const res = await fetch(healthUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

async function withRel(version) {
  const t0 = Date.now();
  let noticedAt;
  const steps = {};
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
      rel,
      'deploy',
      'backend',
      'green',
      version,
      '--force',
      '--json',
      '--config',
      config,
    ]);
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const event = JSON.parse(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        if (event.type === 'step:finish') steps[event.step] = (steps[event.step] ?? 0) + event.durationMs;
        if (event.type === 'step:finish' && event.step === 'api') noticedAt = event.at;
      }
    });
    child.stderr.on('data', (d) => process.stderr.write(d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rel exited ${code}`))));
  });
  const total = Date.now() - t0;
  return { total, noticeMs: noticedAt - (await listeningAt(`${project}-green-api`)), steps };
}

async function timeCommand(cmd, args, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await exec(cmd, args);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

// undici's sockets and AbortSignal.timeout's timers do not keep the process alive: this does, until the end
const keepAlive = setInterval(() => {}, 1000);
try {
  // warm up: the database runs and both versions are pulled once, as on a machine that deployed before
  await exec(process.execPath, [rel, 'deploy', 'backend', 'green', 'v1', '--force', '--config', config]);
  const relTimes = [];
  const handTimes = [];
  const notice = [];
  let lastSteps = {};
  for (let i = 0; i < ROUNDS; i++) {
    const version = versions[i % 2];
    handTimes.push(await byHand(version));
    const r = await withRel(version === 'v1' ? 'v2' : 'v1');
    relTimes.push(r.total);
    notice.push(r.noticeMs);
    lastSteps = r.steps;
  }
  const relMedian = median(relTimes);
  const handMedian = median(handTimes);
  console.log(`deploy backend green, ${ROUNDS} rounds alternating, medians:`);
  console.log(`  rel deploy backend:        ${relMedian} ms  (all: ${relTimes.join(', ')})`);
  console.log(`  by hand with docker CLI:   ${handMedian} ms  (all: ${handTimes.join(', ')})`);
  console.log(`  ratio rel / by hand:       ${(relMedian / handMedian).toFixed(2)}x  (target <= 1.10x)`);
  console.log(
    `  rel noticed readiness:     ${median(notice)} ms after the API was ready (all: ${notice.join(', ')}; target < 250 ms)`,
  );

  console.log(
    `  rel's steps, last round:   ${Object.entries(lastSteps)
      .map(([step, ms]) => `${step} ${ms} ms`)
      .join(', ')} (some run in parallel)`,
  );

  const help = await timeCommand(process.execPath, [rel, '--help'], 21);
  const bare = await timeCommand(process.execPath, ['-e', '0'], 21);
  console.log(
    `  rel --help median:         ${help.toFixed(1)} ms; node -e 0: ${bare.toFixed(1)} ms; ratio ${(help / bare).toFixed(2)}x (target <= 3x)`,
  );
} finally {
  clearInterval(keepAlive);
  const { stdout } = await docker('ps', '-aq', '--filter', `label=rel.project=${project}`);
  const ids = stdout.split('\n').filter(Boolean);
  if (ids.length) await docker('rm', '-f', '-v', ...ids);
  await docker('network', 'rm', `${project}-green`).catch(() => {});
  await docker('volume', 'rm', `${project}-green-pgdata`).catch(() => {});
}
