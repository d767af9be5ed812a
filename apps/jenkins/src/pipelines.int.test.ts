import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELEASE_STEPS } from '@rel/release';
// test support (@rel/test-utils): one test project (its own containers, ports, state), nginx in front, a receiver
import {
  docker,
  type Receiver,
  registryPassword,
  startReceiver,
  startTestNginx,
  type TestNginx,
  testProject,
  throughNginx,
} from '@rel/test-utils';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const app = fileURLToPath(new URL('..', import.meta.url));
const standin = join(app, 'test/pipeline-standin');
const relJenkins = join(app, 'bin/rel-jenkins.js');

interface StageResult {
  name: string;
  status: string;
  durationMs: number;
}
interface ShResult {
  stage: string;
  script: string;
  exitCode: number;
  startedAt: number;
  endedAt: number;
  lines: { at: number; text: string }[];
}
interface BuildResult {
  result: string;
  description: string | null;
  error: string | null;
  options: string[];
  stages: StageResult[];
  sh: ShResult[];
  junit: {
    file: string;
    tests: number;
    failures: number;
    skipped: number;
    cases: { name: string; status: string }[];
  }[];
  archived: string[];
  inputs: { message: string; answer: string; submitter?: string }[];
}
interface Build extends BuildResult {
  log: string;
  archiveDir: string;
  workspace: string;
  stage(name: string): StageResult | undefined;
}

let buildNumber = 0;

// The seed's pipelines, run for real: Groovy 2.4 executes the very files a user copies into Jenkins
// (pipelines/*.groovy and the shared library's vars/relRelease.groovy) against the stand-in for the pipeline DSL
// (test/pipeline-standin); every `sh` runs rel-jenkins on the sandbox: real containers, registry, PostgreSQL, nginx.
describe('the Jenkins pipelines', () => {
  const t = testProject('jenkins');
  let nginx: TestNginx;
  let receiver: Receiver;
  // every credential a planted, unique value: none of them may appear in what a build prints or archives
  const unique = randomBytes(6).toString('hex');
  const dbPassword = `db-pass-${unique}`;
  let credentials: Record<string, { type: 'string'; secret: string }>;
  let planted: string[];

  async function runPipeline(
    file: 'backend-release' | 'frontend-release',
    options: {
      params?: Record<string, string | boolean>;
      inputs?: { action: 'proceed' | 'abort'; submitter?: string }[];
      credentials?: Record<string, { type: 'string'; secret: string }>;
      /** Jenkins' causes of the build (who started it); without, BUILD_USER_ID says alice (the build user plugin). */
      causes?: Record<string, string>[];
      /** Sees each new line of the console log as the build writes it. */
      onLog?: (line: string) => void;
    } = {},
  ): Promise<Build> {
    const number = ++buildNumber;
    const dir = join(t.dir, `build-${file}-${number}`);
    const workspace = join(dir, 'workspace');
    const archiveDir = join(dir, 'archive');
    mkdirSync(workspace, { recursive: true });
    const spec = {
      pipeline: join(app, 'pipelines', `${file}.groovy`),
      libraries: { rel: app },
      workspace,
      archiveDir,
      params: options.params ?? {},
      env: {
        BUILD_URL: `http://127.0.0.1:8080/job/${file}/${number}/`,
        BUILD_TAG: `jenkins-${file}-${number}-${unique}`,
        JOB_NAME: file,
        BUILD_NUMBER: String(number),
        ...(options.causes ? {} : { BUILD_USER_ID: 'alice' }),
        REL_JENKINS: relJenkins,
        REL_CONFIG: t.configFile,
      },
      credentials: options.credentials ?? credentials,
      inputs: options.inputs ?? [],
      causes: options.causes ?? [],
      log: join(dir, 'build.log'),
      result: join(dir, 'result.json'),
    };
    const specFile = join(dir, 'build.json');
    writeFileSync(specFile, JSON.stringify(spec));
    const child = spawn('groovy', ['-cp', standin, join(standin, 'run-pipeline.groovy'), '--spec', specFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    // follow the console log as it grows
    let seen = 0;
    const follow = setInterval(() => {
      if (!options.onLog || !existsSync(spec.log)) return;
      const text = readFileSync(spec.log, 'utf8');
      const complete = text.lastIndexOf('\n') + 1;
      for (const line of text.slice(seen, complete).split('\n').filter(Boolean)) options.onLog(line);
      seen = Math.max(seen, complete);
    }, 100);
    const killer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearInterval(follow);
    clearTimeout(killer);
    if (!existsSync(spec.result)) throw new Error(`the stand-in wrote no result (exit ${code}):\n${output}`);
    const result = JSON.parse(readFileSync(spec.result, 'utf8')) as BuildResult;
    const log = existsSync(spec.log) ? readFileSync(spec.log, 'utf8') : '';
    return {
      ...result,
      log,
      archiveDir,
      workspace,
      stage: (name) => result.stages.find((s) => s.name === name),
    };
  }

  /** Every file the build archived, and its console log: what a person (or a log shipper) sees of a build. */
  function everythingShown(build: Build): string {
    const files = existsSync(build.archiveDir) ? walk(build.archiveDir) : [];
    return [build.log, JSON.stringify(build.description), ...files.map((f) => readFileSync(f, 'utf8'))].join('\n');
  }

  function expectNoSecrets(build: Build) {
    const shown = everythingShown(build);
    for (const secret of planted) expect(shown.includes(secret), `a planted credential in build output`).toBe(false);
  }

  function archivedJunit(build: Build) {
    const parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => name === 'testcase',
    });
    const xml = readFileSync(join(build.archiveDir, 'rel-report/junit.xml'), 'utf8');
    return parser.parse(xml).testsuites.testsuite.testcase as {
      name: string;
      time: string;
      failure?: { message: string; type: string };
      skipped?: { message: string };
    }[];
  }

  async function versionsOf(env: 'blue' | 'green') {
    const out = await docker(
      'ps',
      '--filter',
      `label=rel.project=${t.project}`,
      '--filter',
      `label=rel.environment=${env}`,
      '--format',
      '{{.Label "rel.role"}}={{.Label "rel.version"}}',
    );
    return Object.fromEntries(out.split('\n').map((l) => l.split('=')));
  }

  async function live() {
    return throughNginx(nginx.publicUrl);
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    nginx = await startTestNginx(t, 'socket');
    const webhook = `${receiver.url}/hooks/${unique}`;
    credentials = {
      'rel-registry-token': { type: 'string', secret: registryPassword() },
      'rel-db-password': { type: 'string', secret: dbPassword },
      'rel-webhook-url': { type: 'string', secret: webhook },
    };
    planted = [registryPassword(), dbPassword, webhook];
    appendFileSync(
      t.configFile,
      `${nginx.yaml}
notifications:
  timeout: 2s
  targets:
    - { kind: webhook, url: "\${REL_WEBHOOK_URL}" }
release:
  monitor: 10s
  monitorInterval: 1s
`,
    );
    // the registry's password comes from the credential, not from docker login's config.json
    const config = readFileSync(t.configFile, 'utf8')
      .replace(
        /^registry:\n(?: .*\n|\n)*/m,
        'registry:\n  server: 127.0.0.1:5000\n  username: rel\n  password: ${REL_REGISTRY_TOKEN}\n\n',
      )
      .replace(/password: \$\{REL_DB_PASSWORD:-[^}]*\}/, 'password: ${REL_DB_PASSWORD}');
    writeFileSync(t.configFile, config);
    // what is live before the pipelines: v1 of both, the first release (through the CLI, no watch)
    const first = await t.rel(['release', 'v1', '--monitor', '0'], {
      REL_REGISTRY_TOKEN: registryPassword(),
      REL_DB_PASSWORD: dbPassword,
      REL_WEBHOOK_URL: webhook,
    });
    expect(first.code, first.stderr).toBe(0);
  });

  afterAll(async () => {
    await nginx?.stop();
    await receiver?.close();
    await t.cleanup();
  });

  it('backend-release.groovy: v2 of the backend goes live on the idle environment, approved at the input step', async () => {
    const before = await live();
    const idle = before.env === 'blue' ? 'green' : 'blue';
    const build = await runPipeline('backend-release', {
      params: { VERSION: 'v2', MONITOR: '5s', APPROVAL: true },
      inputs: [{ action: 'proceed', submitter: 'carol' }],
    });
    expect(build.result, build.log).toBe('SUCCESS');
    expect(build.stages.map((s) => `${s.name}: ${s.status}`)).toEqual([
      'Check input: SUCCESS',
      'Pull images: SUCCESS',
      'Deploy backend: SUCCESS',
      'Replicate data: SKIPPED',
      'Migrate database: SUCCESS',
      'Deploy frontend: SUCCESS',
      'Verify: SUCCESS',
      'Approval: SUCCESS',
      'Switch traffic: SUCCESS',
      'Monitor production: SUCCESS',
    ]);
    expect(build.options).toEqual(expect.arrayContaining(['disableConcurrentBuilds']));
    expect(build.options.some((o) => o.startsWith('timeout'))).toBe(true);
    // live: the idle environment, with the new backend and the frontend it had
    expect(await live()).toMatchObject({ status: 200, env: idle, version: 'v2' });
    expect(await versionsOf(idle)).toMatchObject({ api: 'v2', client: 'v1' });
    // the JUnit report it archived lists every step, with its time; the stand-in's junit step read it too
    const cases = archivedJunit(build);
    expect(cases.map((c) => c.name.split(':')[0])).toEqual([...RELEASE_STEPS]);
    expect(cases.filter((c) => c.failure)).toEqual([]);
    expect(Number(cases[1]!.time)).toBeGreaterThan(0);
    expect(build.junit[0]).toMatchObject({ tests: 9, failures: 0 });
    expect(build.archived).toEqual(
      expect.arrayContaining(['rel-report/junit.xml', 'rel-report/summary.md', 'rel-report/release.json']),
    );
    expect(build.archived).toEqual(expect.arrayContaining(['rel-report/monitor.jsonl', 'rel-report/monitor.html']));
    expect(build.description).toMatch(/^\*\*rel release backend v2\*\* to (blue|green) .*\*\*succeeded\*\*/);
    // one release for the whole build, approved by the input's submitter, tied to the build
    const record = JSON.parse(readFileSync(join(build.archiveDir, 'rel-report/release.json'), 'utf8'));
    expect(record).toMatchObject({
      status: 'succeeded',
      only: 'backend',
      target: idle,
      approval: { by: 'carol' },
      ci: { buildUrl: 'http://127.0.0.1:8080/job/backend-release/1/', jobName: 'backend-release', startedBy: 'alice' },
    });
    expect(record.runs.map((r: { command: string }) => r.command)).toEqual([
      'jenkins start',
      'jenkins continue',
      'jenkins continue',
      'jenkins continue',
      'jenkins continue',
      'jenkins continue',
      'jenkins promote',
      'jenkins continue',
      'jenkins continue',
    ]);
    // the Slack/webhook messages link the build
    const announced = receiver.received
      .map((r) => r.body as { event?: string; fields?: Record<string, string> })
      .filter((n) => n.fields?.release === record.id);
    expect(announced.map((n) => n.event)).toEqual(['release-started', 'release-succeeded']);
    for (const n of announced) expect(n.fields?.build).toBe('http://127.0.0.1:8080/job/backend-release/1/');
    // plain lines, flushed as they happen: the watch's lines reach the log over its 5 seconds, not at its end
    const watch = build.sh.find((s) => s.stage === 'Monitor production')!;
    const startLine = watch.lines.find((l) => l.text.includes('[monitor] start:'))!;
    expect(startLine, watch.lines.map((l) => l.text).join('\n')).toBeDefined();
    expect(watch.endedAt - startLine.at).toBeGreaterThan(3000);
    expect(build.log).not.toMatch(/\x1b/);
    expect(build.log).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[deploy-backend\] start: deploy backend v2/m);
    expectNoSecrets(build);
  });

  it("the new environment's API failing during the watch: traffic back on the old one, the monitor step failed", async () => {
    const before = await live();
    const idle = before.env === 'blue' ? 'green' : 'blue';
    let failed: Promise<unknown> | undefined;
    const build = await runPipeline('frontend-release', {
      params: { VERSION: 'v2', MONITOR: '20s' },
      onLog: (line) => {
        if (!failed && line.includes('[monitor] start:')) {
          const port = t.ports[idle].apiPort;
          failed = fetch(`http://127.0.0.1:${port}/admin/fail?mode=error`, { method: 'POST' });
        }
      },
    });
    await failed;
    expect(build.result, build.log).toBe('FAILURE');
    expect(build.stage('Monitor production')?.status).toBe('FAILED');
    expect(build.stage('Approval')?.status).toBe('SKIPPED');
    expect(build.log).toMatch(
      /rel-jenkins exited with 4: production failed after the switch and traffic was rolled back/,
    );
    const monitor = archivedJunit(build).find((c) => c.name.startsWith('monitor:'))!;
    expect(monitor.failure).toMatchObject({ type: 'ROLLED_BACK' });
    expect(monitor.failure!.message).toMatch(new RegExp(`${idle} failed in production`));
    expect(build.junit[0]).toMatchObject({ failures: 1 });
    // traffic is back where it was, on the version it ran
    expect(await live()).toMatchObject({ status: 200, env: before.env, version: before.version });
    expect(build.archived).toEqual(expect.arrayContaining(['rel-report/monitor.html']));
    expect(build.description).toMatch(/\*\*rolled back\*\*/);
    await fetch(`http://127.0.0.1:${t.ports[idle].apiPort}/admin/fail?mode=off`, { method: 'POST' });
    expectNoSecrets(build);
  });

  it('answering the approval with abort ends the release: live untouched, the build ABORTED', async () => {
    const before = await live();
    const liveVersions = await versionsOf(before.env as 'blue' | 'green');
    const build = await runPipeline('backend-release', {
      params: { VERSION: 'v3', MONITOR: '0', APPROVAL: true },
      inputs: [{ action: 'abort' }],
      // no build user plugin: who started the build comes from Jenkins' own cause
      causes: [{ _class: 'hudson.model.Cause$UserIdCause', shortDescription: 'Started by user Dave', userId: 'dave' }],
    });
    expect(build.result, build.log).toBe('ABORTED');
    expect(build.stage('Approval')?.status).toBe('ABORTED');
    expect(build.stage('Switch traffic')?.status).toBe('SKIPPED');
    expect(await live()).toMatchObject({ status: 200, env: before.env, version: before.version });
    expect(await versionsOf(before.env as 'blue' | 'green')).toEqual(liveVersions);
    const record = JSON.parse(readFileSync(join(build.archiveDir, 'rel-report/release.json'), 'utf8'));
    expect(record.status).toBe('aborted');
    expect(record.ci.startedBy).toBe('dave');
    expect(record.outcome).toMatch(/aborted: the switch was not approved/);
    expect(archivedJunit(build).find((c) => c.name.startsWith('switch:'))?.skipped).toBeDefined();
    expectNoSecrets(build);
  });

  it("an aborted build (its timeout, abort pressed): rel-jenkins stops at SIGTERM (130), post's abort ends the release", async () => {
    const env = {
      ...process.env,
      BUILD_TAG: `jenkins-killed-${unique}`,
      BUILD_URL: 'http://127.0.0.1:8080/job/killed/1/',
      REL_CONFIG: t.configFile,
      REL_REPORT_DIR: join(t.dir, 'killed-report'),
      REL_REGISTRY_TOKEN: registryPassword(),
      REL_DB_PASSWORD: dbPassword,
      REL_WEBHOOK_URL: credentials['rel-webhook-url']!.secret,
    };
    const stage = (args: string[], onLine: (line: string, stop: () => void) => void = () => {}) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(relJenkins, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        const take = (chunk: string) => {
          output += chunk;
          for (const line of chunk.split('\n')) onLine(line, () => child.kill('SIGTERM'));
        };
        child.stdout.setEncoding('utf8').on('data', take);
        child.stderr.setEncoding('utf8').on('data', take);
        child.on('close', (code) => resolve({ code, output }));
      });
    const before = await live();
    const started = await stage(['start', '--version', 'v3', '--monitor', '60s', '--until', 'switch']);
    expect(started.code, started.output).toBe(0);
    const target = before.env === 'blue' ? 'green' : 'blue';
    expect(await live()).toMatchObject({ env: target, version: 'v3' });
    let signalled = false;
    const watch = await stage(['continue'], (line, stop) => {
      if (!signalled && line.includes('[monitor] start:')) {
        signalled = true;
        setTimeout(stop, 1500);
      }
    });
    expect(watch.code, watch.output).toBe(130);
    expect(watch.output).toMatch(/SIGTERM: stopping/);
    expect(watch.output).toMatch(/interrupted at step monitor/);
    const aborted = await stage(['abort', '--reason', 'the Jenkins build was aborted']);
    expect(aborted.code, aborted.output).toBe(0);
    expect(aborted.output).toMatch(/aborted: the Jenkins build was aborted; it had switched already/);
    const record = JSON.parse(readFileSync(join(env.REL_REPORT_DIR, 'release.json'), 'utf8'));
    expect(record).toMatchObject({ status: 'aborted', ci: { buildTag: env.BUILD_TAG } });
    // an abort never moves traffic: the new version stays live, as the summary says
    expect(await live()).toMatchObject({ env: target, version: 'v3' });
    expect(readFileSync(join(env.REL_REPORT_DIR, 'summary.md'), 'utf8')).toMatch(/\*\*aborted\*\*/);
    // a second abort (post runs after the stage's own) finds nothing left to do
    const again = await stage(['abort']);
    expect(again.code).toBe(0);
    expect(again.output).toMatch(/has ended already \(aborted\): nothing to abort/);
  });

  it('bad input fails the first stage with one line: a missing or malformed VERSION, a missing credential ID', async () => {
    const empty = await runPipeline('backend-release', { params: { VERSION: '' } });
    expect(empty.result).toBe('FAILURE');
    expect(empty.stage('Check input')?.status).toBe('FAILED');
    expect(empty.stage('Pull images')?.status).toBe('SKIPPED');
    expect(empty.log).toMatch(/rel-jenkins: ERROR: the VERSION parameter is empty: give the image tag to release/);
    expect(empty.log).toMatch(/rel-jenkins exited with 2: bad input or configuration; nothing was changed/);

    const malformed = await runPipeline('frontend-release', { params: { VERSION: 'v2 && curl evil' } });
    expect(malformed.result).toBe('FAILURE');
    expect(malformed.stage('Check input')?.status).toBe('FAILED');
    expect(malformed.log).toMatch(/ERROR: invalid VERSION parameter "v2 && curl evil": expected/);

    const { 'rel-db-password': _, ...withoutDb } = credentials;
    const missing = await runPipeline('backend-release', { params: { VERSION: 'v2' }, credentials: withoutDb });
    expect(missing.result).toBe('FAILURE');
    expect(missing.stage('Check input')?.status).toBe('FAILED');
    expect(missing.error).toMatch(/rel-db-password/);
    for (const build of [empty, malformed, missing]) {
      expect(build.stages.slice(1).every((s) => s.status === 'SKIPPED')).toBe(true);
      expectNoSecrets(build);
    }
  });

  it('another release open: the build stops at its first stage, NOT_BUILT, and changes nothing', async () => {
    const env = {
      REL_REGISTRY_TOKEN: registryPassword(),
      REL_DB_PASSWORD: dbPassword,
      REL_WEBHOOK_URL: credentials['rel-webhook-url']!.secret,
    };
    const paused = await t.rel(['release', 'v3', '--pause-before-switch', '--monitor', '0'], env);
    expect(paused.code, paused.stderr).toBe(5);
    try {
      const build = await runPipeline('backend-release', { params: { VERSION: 'v2' } });
      expect(build.result).toBe('NOT_BUILT');
      expect(build.stage('Check input')?.status).toBe('FAILED');
      expect(build.log).toMatch(/ERROR: another release is open: release \S+ \(v3 to (blue|green)\) is paused/);
      expect(build.log).toMatch(/rel-jenkins exited with 3: another release is open or holds the lock/);
      expectNoSecrets(build);
    } finally {
      const aborted = await t.rel(['release', 'abort'], env);
      expect(aborted.code, aborted.stderr).toBe(0);
    }
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
