// Footprint of a monitor run: a child process runs the built package (dist) for 60 s at a 1 s interval
// against a local node:http server in this process (two HTTP probes, a resource probe, the JSON Lines log and
// the Prometheus textfile), then reports its own CPU time (process.cpuUsage) and peak RSS.
// Usage: npx tsup && node scripts/footprint.mjs [durationSeconds=60] [intervalMs=1000] [--liftoff-only]
// --liftoff-only runs the child with that V8 flag: V8 then never recompiles undici's llhttp WebAssembly with
// TurboFan, whose compilation is a transient ~30 MiB RSS spike after the first requests.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** CPU time since `mark`, as a percentage of one core over the wall time since it. */
function percentSince(mark) {
  const used = process.cpuUsage(mark.cpu);
  return Math.round(((used.user + used.system) / 1000 / (performance.now() - mark.at)) * 10_000) / 100;
}

if (process.argv[2] === '--child') {
  const [, , , url, dir, durationMs, intervalMs] = process.argv;
  const { httpProbe, resourceProbe, runMonitor } = await import('@rel/monitor');
  const before = process.cpuUsage();
  const started = performance.now();
  let warm;
  let half;
  const result = await runMonitor({
    probes: [
      httpProbe({ name: 'public', url, timeoutMs: 2000 }),
      httpProbe({ name: 'api', url, timeoutMs: 2000, expectBody: 'ok' }),
      resourceProbe({ name: 'self', sample: () => ({ memoryBytes: process.memoryUsage.rss() }) }),
    ],
    intervalMs: Number(intervalMs),
    durationMs: Number(durationMs),
    log: { path: join(dir, 'monitor.jsonl') },
    prometheus: { path: join(dir, 'rel_monitor.prom') },
    onEvent: (event) => {
      // After the first check: module loading, JIT and WebAssembly compilation are behind.
      if (event.type !== 'step:progress') return;
      if (event.current === 1) warm = { cpu: process.cpuUsage(), at: performance.now() };
      // The second half: V8's start-up work (memory-reducing GCs, tier-up compiles) is over.
      if (event.current === Math.ceil(event.total / 2)) half = { cpu: process.cpuUsage(), at: performance.now() };
    },
  });
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(before);
  const total = process.cpuUsage();
  process.stdout.write(
    `${JSON.stringify({
      outcome: result.outcome,
      checks: result.summary.checks,
      wallMs: Math.round(wallMs),
      runCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      processCpuMs: Math.round((total.user + total.system) / 1000),
      runCpuPercentOfCore: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 10_000) / 100,
      afterFirstCheckCpuPercentOfCore: percentSince(warm),
      secondHalfCpuPercentOfCore: percentSince(half),
      peakRssMiB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
      latencyMs: result.summary.latencyMs,
    })}\n`,
  );
} else {
  const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const durationMs = Number(args[0] ?? 60) * 1000;
  const intervalMs = Number(args[1] ?? 1000);
  const v8Flags = process.argv.includes('--liftoff-only') ? ['--liftoff-only'] : [];
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/health`;
  const dir = await mkdtemp(join(tmpdir(), 'rel-monitor-footprint-'));
  const child = spawn(
    process.execPath,
    [...v8Flags, fileURLToPath(import.meta.url), '--child', url, dir, String(durationMs), String(intervalMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  server.close();
  await rm(dir, { recursive: true, force: true });
  if (code !== 0) {
    console.error(`the monitor child exited with ${code}`);
    process.exit(1);
  }
  const figures = JSON.parse(output);
  console.log(JSON.stringify({ v8Flags, ...figures }, null, 2));
  const over = [];
  if (figures.runCpuPercentOfCore >= 1) over.push(`CPU ${figures.runCpuPercentOfCore}% of a core (target < 1%)`);
  if (figures.peakRssMiB >= 80) over.push(`peak RSS ${figures.peakRssMiB} MiB (target < 80 MiB)`);
  const ok = over.length === 0;
  console.log(ok ? 'within target (< 1% of a core, < 80 MiB)' : `OVER target: ${over.join(', ')}`);
  process.exitCode = ok ? 0 : 1;
}
