import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type EngineProxy,
  type Receiver,
  registryPassword,
  startEngineProxy,
  startReceiver,
  startTestNginx,
  type TestNginx,
  testProject,
} from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);

// The planted-secret sweep: every place a secret can come from holds a unique value (the registry's password, the
// database password with characters JSON escapes, a connection string in backend.env secret by its name, a value
// marked secret, a webhook URL's token, a webhook header), then the commands run in plain, --verbose and --json
// modes against the sandbox; none of the values may appear in their output, the files they write, the Docker
// engine's request URLs, the notifications sent, or the process list while they ran.
describe('secrets never leave', () => {
  const unique = randomBytes(5).toString('hex');
  const secrets = {
    registry: registryPassword(),
    db: `db;p"w\\d-${unique}`,
    connection: `Host=db;Password=cs-${unique}`,
    marked: `marked-${unique}`,
    webhookToken: `tok-${unique}`,
    header: `hdr-${unique}`,
  };
  const t = testProject('secrets', (yaml) =>
    yaml
      .replace(
        /^registry:\n(?: .*\n|\n)*/m,
        'registry:\n  server: 127.0.0.1:5000\n  username: rel\n  password: ${REL_REGISTRY_TOKEN}\n\n',
      )
      .replace(/password: \$\{REL_DB_PASSWORD:-[^}]*\}/, 'password: ${REL_DB_PASSWORD}')
      .replace(
        'dbCheckPath: /items',
        'dbCheckPath: /items\n  env:\n    ConnectionStrings__Default: "${REL_CONNECTION}"\n    UPSTREAM: { value: "${REL_MARKED}", secret: true }',
      ),
  );
  let nginx: TestNginx;
  let receiver: Receiver;
  let recorder: EngineProxy;
  const outputs: string[] = [];
  const processLists: string[] = [];
  const engineSocket = join(t.dir, 'engine.sock');
  const env = () => ({
    REL_REGISTRY_TOKEN: secrets.registry,
    REL_DB_PASSWORD: secrets.db,
    REL_CONNECTION: secrets.connection,
    REL_MARKED: secrets.marked,
    REL_WEBHOOK_URL: `${receiver.url}/hook/${secrets.webhookToken}`,
    REL_WEBHOOK_HEADER: `Bearer ${secrets.header}`,
    DOCKER_HOST: `unix://${engineSocket}`,
  });

  /** Runs rel, snapshotting the process list every 100 ms meanwhile; keeps everything it printed. */
  async function rel(args: string[]) {
    let snapshots = true;
    const watcher = (async () => {
      while (snapshots) {
        processLists.push((await exec('ps', ['-eo', 'args'], { maxBuffer: 1 << 24 })).stdout);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const result = await t.rel(args, env());
    snapshots = false;
    await watcher;
    outputs.push(`$ rel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
    return result;
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    nginx = await startTestNginx(t, 'socket');
    recorder = await startEngineProxy(engineSocket);
    appendFileSync(
      t.configFile,
      `${nginx.yaml}
notifications:
  timeout: 2s
  targets:
    - { kind: webhook, url: "\${REL_WEBHOOK_URL}", headers: { Authorization: "\${REL_WEBHOOK_HEADER}" } }
`,
    );
  });

  afterAll(async () => {
    await recorder?.close();
    await nginx?.stop();
    await receiver?.close();
    await t.cleanup();
  });

  it('the commands in every output mode print, write and send none of the planted values', async () => {
    const ok = async (args: string[], code = 0) => {
      const r = await rel(args);
      expect(r.code, `rel ${args.join(' ')}: ${r.stderr}`).toBe(code);
    };
    await ok(['release', 'v1', '--monitor', '2s', '--monitor-interval', '500ms', '--json']);
    for (const mode of [[], ['--verbose'], ['--json']]) await ok(['status', ...mode]);
    await ok(['deploy', 'backend', 'idle', 'v2', '--json']);
    await ok(['db', 'backup', 'idle', '--verbose']);
    await ok(['db', 'migrate', 'idle']);
    await ok(['release', 'v2', '--replicate', '--monitor', '2s', '--monitor-interval', '500ms', '--verbose']);
    await ok(['monitor', '2s', '--interval', '500ms', '--json']);
    await ok(['rollback', 'idle', '--json']);
    await ok(['history', '--json']);
    await ok(['deploy', 'backend', 'idle', 'v404-nope', '--json'], 1);
    await ok(['deploy', 'backend', 'idle', 'v404-nope', '--verbose'], 1);

    // what was written: the state directory (journal, live record, audit, monitor logs and reports, backups)
    const files = walk(join(t.dir, 'state'));
    expect(files.length).toBeGreaterThan(5);
    const places: Record<string, string> = {
      output: outputs.join('\n'),
      'engine request URLs': recorder.requestLines().join('\n'),
      'process list': processLists.join('\n'),
      notifications: JSON.stringify(receiver.received.map((r) => r.body)),
      ...Object.fromEntries(files.map((f) => [f, readFileSync(f, 'latin1')])),
    };
    // the sweep sees what it should: requests, notifications, output
    expect(recorder.requestLines().filter((l) => /^POST \S*\/containers\/create/.test(l)).length).toBeGreaterThan(0);
    expect(receiver.received.length).toBeGreaterThan(0);
    const found: string[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      const forms = [value, JSON.stringify(value).slice(1, -1)];
      for (const [place, text] of Object.entries(places)) {
        if (forms.some((form) => text.includes(form))) found.push(`${name} in ${place}`);
      }
    }
    expect(found).toEqual([]);
    // and the values did their work: the database password and the webhook header were used
    expect(receiver.received.every((r) => r.path === `/hook/${secrets.webhookToken}`)).toBe(true);
  });
});

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
