// bench/switch-under-load: steady keep-alive load through nginx (wrk -c8, 32 s) while `rel switch` moves
// traffic between blue and green 12 times. Prints total requests, non-2xx, socket errors and the median
// time from command start to verified switch, for rel's default socket method (the sandbox's nginx) and,
// side by side in the same run, for the seed's method (rewrite upstreams + nginx -s reload) on a second
// nginx laid out the classic way in front of the same containers.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median, SANDBOX_NGINX_URL } from '@rel/test-utils';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const rel = join(root, 'apps/cli/bin/rel.js');
const example = join(root, 'examples/sandbox/rel.config.yaml');
const SWITCHES = Number(process.env.BENCH_SWITCHES ?? 12);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 32);

async function relRun(config, ...args) {
  const t0 = process.hrtime.bigint();
  const { stdout } = await exec(process.execPath, [rel, ...args, '--config', config], {
    env: { ...process.env, CI: '1' },
  });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout };
}

/** A second nginx in front of the sample's blue and green, with plain upstreams: the seed's reload way. */
async function startReloadNginx(dir) {
  const prefix = join(dir, 'nginx-reload');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
worker_shutdown_timeout 10s;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path /tmp;
    proxy_temp_path /tmp;
    upstream sample_api { server 127.0.0.1:18081; keepalive 16; }
    upstream sample_client { server 127.0.0.1:18091; keepalive 16; }
    server {
        listen 127.0.0.1:8089;
        add_header X-Rel-Environment blue always;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /api/ { proxy_pass http://sample_api/; }
        location / { proxy_pass http://sample_client; }
    }
}
`,
  );
  await exec('nginx', ['-p', `${prefix}/`, '-c', 'nginx.conf']);
  const config = join(dir, 'rel.reload.yaml');
  // the example without its nginx section (that one fronts the sandbox's nginx), plus this nginx
  const base = readFileSync(example, 'utf8')
    .replace(/^# The sandbox's nginx[\s\S]*$/m, '')
    .replace(/^stateDir:.*$/m, `stateDir: ${dir}/state-reload`);
  writeFileSync(
    config,
    `${base}
nginx:
  config: ${prefix}/nginx.conf
  upstreams: { api: sample_api, client: sample_client }
  method: reload
  test: [nginx, -t, -q, -p, "${prefix}/", -c, nginx.conf]
  reload:
    command: [nginx, -s, reload, -p, "${prefix}/", -c, nginx.conf]
  publicUrl: http://127.0.0.1:8089
  verify: { path: /api/health, consecutive: 5, timeout: 10s }
`,
  );
  return {
    config,
    url: 'http://127.0.0.1:8089',
    stop: () => exec('nginx', ['-p', `${prefix}/`, '-c', 'nginx.conf', '-s', 'stop']),
  };
}

async function underLoad(label, config, url) {
  await relRun(config, 'switch', 'blue');
  const wrk = spawn('wrk', ['-t2', '-c8', `-d${SECONDS}s`, '--latency', `${url}/api/health`]);
  let out = '';
  wrk.stdout.on('data', (d) => {
    out += d;
  });
  const done = new Promise((resolve) => wrk.on('exit', resolve));
  await new Promise((r) => setTimeout(r, 1000));
  const times = [];
  const gap = ((SECONDS - 3) * 1000) / SWITCHES;
  for (let i = 0; i < SWITCHES; i++) {
    const started = Date.now();
    const r = await relRun(config, 'switch', i % 2 === 0 ? 'green' : 'blue');
    times.push(r.ms);
    await new Promise((res) => setTimeout(res, Math.max(0, gap - (Date.now() - started))));
  }
  await done;
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    label,
    total,
    non2xx,
    socketErrors,
    errorsText: errors?.[0] ?? 'Socket errors: none',
    medianMs: median(times),
    times,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'rel-bench-switch-'));
const sandbox = example;
// the sample app, as the demo leaves it: v1 on blue, v2 on green
for (const [env, v] of [
  ['blue', 'v1'],
  ['green', 'v2'],
]) {
  for (const role of ['backend', 'frontend']) await relRun(sandbox, 'deploy', role, env, v, '--force');
}
const reload = await startReloadNginx(dir);
const results = [];
try {
  results.push(await underLoad('socket (rel default)', sandbox, SANDBOX_NGINX_URL));
  results.push(await underLoad("reload (the seed's way)", reload.config, reload.url));
} finally {
  await reload.stop().catch(() => {});
  await relRun(sandbox, 'switch', 'blue').catch(() => {});
}
console.log(`wrk -t2 -c8 -d${SECONDS}s keep-alive through nginx, ${SWITCHES} switches blue<->green each:`);
for (const r of results) {
  const failed = r.non2xx + r.socketErrors;
  console.log(
    `  ${r.label.padEnd(24)} ${String(r.total).padStart(7)} requests, ${r.non2xx} non-2xx, ${r.errorsText}; failed ${failed} (${((failed / Math.max(1, r.total)) * 100).toFixed(4)}%); switch median ${r.medianMs.toFixed(0)} ms (target 0 failed, < 1000 ms)`,
  );
}
const [socket, seed] = results;
console.log(
  `  failed requests socket/reload: ${socket.non2xx + socket.socketErrors} / ${seed.non2xx + seed.socketErrors}; switch time ratio socket/reload ${(socket.medianMs / seed.medianMs).toFixed(2)}x`,
);
