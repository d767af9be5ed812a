// The `rel` CLI against the sandbox: a test project of its own per test file (containers, ports, state), the built
// `rel` run with its config, and an nginx of its own in front of the project's blue and green ports.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { prepareSocketDir, renderSocketRoutingConfig } from '@rel/nginx-switch';
import { docker, removeProject } from './docker.js';
import { type Answer, whoAnswers } from './http.js';
import { REPO_ROOT } from './sandbox.js';

const exec = promisify(execFile);
/** The built `rel` (apps/cli/bin/rel.js): run it with `process.execPath`. */
export const relBin = join(REPO_ROOT, 'apps/cli/bin/rel.js');

export interface RelResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestProject {
  project: string;
  dir: string;
  configFile: string;
  ports: {
    blue: { apiPort: number; clientPort: number; dbPort: number };
    green: { apiPort: number; clientPort: number; dbPort: number };
  };
  /** Runs the built `rel` with this project's config (CI=1; killed after 90 s, saying so in its stderr). */
  rel(args: string[], env?: NodeJS.ProcessEnv): Promise<RelResult>;
  /** Removes every container, network and volume of the project. */
  cleanup(): Promise<void>;
}

let next = 0;

const flow = (o: Record<string, number>) =>
  `{ ${Object.entries(o)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;

/**
 * A project of its own for one test file: the sandbox example with another name, other ports and the
 * `rel.test` label (so `scripts/sandbox` removes leftovers). `edit` rewrites the YAML text.
 */
export function testProject(name: string, edit: (yaml: string) => string = (y) => y): TestProject {
  const project = `reltest-${name}-${process.pid % 10000}${next++}`;
  // below the kernel's ephemeral ports (32768-60999), so no outgoing connection holds one of them
  const base = 21000 + ((process.pid * 7 + next * 10) % 1100) * 10;
  const ports = {
    blue: { apiPort: base + 1, clientPort: base + 2, dbPort: base + 3 },
    green: { apiPort: base + 4, clientPort: base + 5, dbPort: base + 6 },
  };
  const dir = mkdtempSync(join(tmpdir(), `${project}-`));
  const configFile = join(dir, 'rel.config.yaml');
  // the example's nginx section fronts the sandbox's own project, and its release section runs a check beside the
  // example: both go (from the nginx comment to the end); a test adds its own (startTestNginx)
  const yaml = readFileSync(join(REPO_ROOT, 'examples/sandbox/rel.config.yaml'), 'utf8')
    .replace(/^# The sandbox's nginx[\s\S]*$/m, '')
    .replace('project: sample', `project: ${project}`)
    .replace(/blue: +\{[^}]*\}/, `blue: ${flow(ports.blue)}`)
    .replace(/green: +\{[^}]*\}/, `green: ${flow(ports.green)}`)
    .replace(/^stateDir:.*$/m, `stateDir: ${dir}/state\nlabels:\n  rel.test: "1"`);
  writeFileSync(configFile, edit(yaml));
  return {
    project,
    dir,
    configFile,
    ports,
    async rel(args, env = {}) {
      try {
        const { stdout, stderr } = await exec(process.execPath, [relBin, ...args, '--config', configFile], {
          env: { ...process.env, CI: '1', ...env },
          maxBuffer: 1 << 24,
          // a hung command fails its test with its output instead of hanging the run
          timeout: 90_000,
          killSignal: 'SIGKILL',
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string; killed?: boolean };
        const stderr = e.killed ? `${e.stderr}\n(killed after 90 s: rel ${args.join(' ')})` : e.stderr;
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr };
      }
    },
    async cleanup() {
      await removeProject(project);
    },
  };
}

export interface TestNginx {
  prefix: string;
  configFile: string;
  publicUrl: string;
  port: number;
  /** The `nginx:` section for this instance, to append to a test config. */
  yaml: string;
  stop(): Promise<void>;
}

/**
 * Starts an nginx of its own for a test project, in front of the project's blue and green ports, laid out
 * for the socket method (or the reload method: plain upstreams naming blue's ports and a server-level
 * environment header), exactly as the sandbox's nginx is.
 */
export async function startTestNginx(t: TestProject, method: 'socket' | 'reload'): Promise<TestNginx> {
  const prefix = join(t.dir, `nginx-${method}`);
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  // nginx workers run as nobody: they must be able to reach the sockets under the test's temp dir
  chmodSync(t.dir, 0o755);
  const port = 10000 + ((process.pid * 13 + next++ * 7) % 5000); // below the ephemeral ports too
  const api = `${t.project.replace(/-/g, '_')}_api`;
  const client = `${t.project.replace(/-/g, '_')}_client`;
  const addresses = {
    blue: { [api]: `127.0.0.1:${t.ports.blue.apiPort}`, [client]: `127.0.0.1:${t.ports.blue.clientPort}` },
    green: { [api]: `127.0.0.1:${t.ports.green.apiPort}`, [client]: `127.0.0.1:${t.ports.green.clientPort}` },
  };
  const socketDir = join(prefix, 'routes');
  let routing: string;
  if (method === 'socket') {
    await prepareSocketDir(socketDir, { live: 'blue' });
    routing = renderSocketRoutingConfig({ upstreams: [api, client], addresses, socketDir });
  } else {
    routing = `upstream ${api} {\n    server ${addresses.blue[api]};\n}\nupstream ${client} {\n    server ${addresses.blue[client]};\n}\n`;
  }
  const configFile = join(prefix, 'nginx.conf');
  writeFileSync(
    configFile,
    `worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
worker_shutdown_timeout 10s;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path /tmp;
    proxy_temp_path /tmp;
    fastcgi_temp_path /tmp;
    uwsgi_temp_path /tmp;
    scgi_temp_path /tmp;
    include extra.conf;
${routing}
    server {
        listen 127.0.0.1:${port};
${method === 'reload' ? '        add_header X-Rel-Environment blue always;\n' : ''}        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /api/ {
            proxy_pass http://${api}/;
        }
        location / {
            proxy_pass http://${client};
        }
    }
}
`,
  );
  writeFileSync(
    join(prefix, 'extra.conf'),
    '# included by nginx.conf; a test removes it to break the config on purpose\n',
  );
  await exec('nginx', ['-p', `${prefix}/`, '-c', 'nginx.conf']);
  const yaml = `
nginx:
  config: ${configFile}
  upstreams: { api: ${api}, client: ${client} }
  method: ${method}
  socketDir: ${socketDir}
  test: [nginx, -t, -q, -p, "${prefix}/", -c, nginx.conf]
  reload:
    command: [nginx, -s, reload, -p, "${prefix}/", -c, nginx.conf]
  publicUrl: http://127.0.0.1:${port}
  verify: { path: /api/health, consecutive: 5, timeout: 5s }
`;
  return {
    prefix,
    configFile,
    port,
    publicUrl: `http://127.0.0.1:${port}`,
    yaml,
    async stop() {
      await exec('nginx', ['-p', `${prefix}/`, '-c', 'nginx.conf', '-s', 'stop']).catch(() => undefined);
    },
  };
}

/** Which environment answered `path` through nginx, and which version (a new connection, within 3 s). */
export function throughNginx(publicUrl: string, path = '/api/health'): Promise<Answer> {
  return whoAnswers(`${publicUrl}${path}`, 3000);
}

/** Starts a stopped container of a test project and waits until its API answers 200 at `port` (10 s at most). */
export async function startAndWaitHealthy(container: string, port: number): Promise<void> {
  await docker('start', container);
  let status = 0;
  for (let i = 0; i < 100; i++) {
    status = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${container} is not healthy after 10 s (last status ${status})`);
}
