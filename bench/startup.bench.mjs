// bench/startup: what `rel status` costs to start, this build against a baseline build of an earlier commit,
// measured side by side in one run (alternating, BENCH_ROUNDS rounds each, medians of wall time and CPU time).
//
// The baseline is BENCH_BASELINE_REV (default 8b02ecd^: the last commit whose configuration loader was the
// hand-written validator, before the schema was declared once with zod). Its checkout and build are kept in
// .bench/startup-<commit> (made on the first run: git worktree, npm ci, turbo build of @rel/cli; a few minutes).
// Both run the same command on the sandbox (`rel status` with examples/sandbox/rel.config.yaml: configuration
// loaded and checked, the Docker engine asked about both environments, nginx's state read), with the same Node.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '@rel/test-utils';

const root = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const rev = process.env.BENCH_BASELINE_REV ?? '8b02ecd^';
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--short', rev);
const baseline = join(root, '.bench', `startup-${commit}`);

if (!existsSync(join(baseline, 'apps/cli/dist-bin'))) {
  console.log(`building the baseline ${commit} in ${baseline} (once)`);
  mkdirSync(join(root, '.bench'), { recursive: true });
  if (!existsSync(baseline)) git('worktree', 'add', '--detach', baseline, commit);
  const inBaseline = { cwd: baseline, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } };
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], inBaseline);
  execFileSync('npx', ['turbo', 'run', 'build', '--filter=@rel/cli...', '--output-logs=errors-only'], inBaseline);
}
const current = join(root, 'apps/cli/dist-bin');
if (!existsSync(current)) {
  console.error(`${current} is missing: npm run build`);
  process.exit(1);
}

const config = join(root, 'examples/sandbox/rel.config.yaml');
/** One `rel status`: its wall time and its CPU time (user + system), in ms, from GNU time. */
function once(checkout) {
  const run = spawnSync(
    '/usr/bin/time',
    ['-f', '%e %U %S', process.execPath, join(checkout, 'apps/cli/bin/rel.js'), 'status', '--config', config],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`rel status of ${checkout} exited ${run.status}: ${run.stderr.trim()}`);
  const [wall, user, system] = run.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall: wall * 1000, cpu: (user + system) * 1000 };
}

const variants = [
  { label: 'this build', checkout: root, wall: [], cpu: [] },
  { label: `baseline ${commit}`, checkout: baseline, wall: [], cpu: [] },
];
for (const v of variants) once(v.checkout); // warm the page cache and V8's code cache of both
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(round + i) % variants.length];
    const { wall, cpu } = once(v.checkout);
    v.wall.push(wall);
    v.cpu.push(cpu);
  }
}
const [now, before] = variants;
console.log(`rel status on the sandbox, ${ROUNDS} rounds alternating, medians:`);
for (const v of variants) {
  console.log(`  ${`${v.label}:`.padEnd(20)} wall ${median(v.wall).toFixed(0)} ms, CPU ${median(v.cpu).toFixed(0)} ms`);
}
console.log(
  `  ratio this build / baseline: wall ${(median(now.wall) / median(before.wall)).toFixed(2)}x, ` +
    `CPU ${(median(now.cpu) / median(before.cpu)).toFixed(2)}x`,
);
