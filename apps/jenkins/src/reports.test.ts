import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RELEASE_STEPS, type ReleaseRecord } from '@rel/release';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { junitReport } from './junit.js';
import { createBuildLog } from './log.js';
import { writeBuildReports } from './reports.js';
import { summaryMarkdown } from './summary.js';

function record(overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  const at = '2026-12-06T10:00:00.000Z';
  const runner = { user: 'jenkins', host: 'agent-1', pid: 4242, command: 'jenkins continue', at };
  return {
    schema: 1,
    id: '20261206-100000-abcd',
    project: 'shop',
    versions: { backend: 'v2', frontend: 'v1' },
    only: 'backend',
    target: 'green',
    from: 'blue',
    options: { replicate: false, monitorMs: 600_000, monitorIntervalMs: 30_000, pauseBeforeSwitch: false },
    ci: { buildUrl: 'https://ci.example/job/shop/7/', buildTag: 'jenkins-shop-7', jobName: 'shop' },
    startedBy: { user: 'jenkins', host: 'agent-1' },
    startedAt: at,
    updatedAt: at,
    status: 'rolled-back',
    outcome: 'release 20261206-100000-abcd rolled back: green failed in production',
    runner,
    runs: [runner],
    steps: RELEASE_STEPS.map((id) => ({
      id,
      title: `${id} of v2`,
      status: 'done',
      attempts: 1,
      durationMs: 1500,
      summary: `${id} done`,
    })),
    ...overrides,
  };
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  isArray: (name) => name === 'testcase',
});

function parse(xml: string) {
  expect(XMLValidator.validate(xml)).toBe(true);
  return parser.parse(xml) as {
    testsuites: {
      tests: string;
      failures: string;
      skipped: string;
      testsuite: {
        name: string;
        tests: string;
        time: string;
        testcase: {
          name: string;
          classname: string;
          time: string;
          failure?: { message: string; type: string; '#text': string };
          skipped?: { message: string };
        }[];
      };
    };
  };
}

describe('the JUnit report', () => {
  it('is the Ant format: a suite for the release, a case per step with its time in seconds, failures and skips', () => {
    const r = record();
    r.steps[2] = { ...r.steps[2]!, status: 'skipped', summary: 'not asked (--replicate)', durationMs: undefined };
    r.steps[6] = { ...r.steps[6]!, status: 'skipped', summary: 'not asked (--pause-before-switch)' };
    r.steps[8] = {
      ...r.steps[8]!,
      status: 'failed',
      durationMs: 61_250,
      error: { code: 'ROLLED_BACK', message: 'green failed in production: /health answered 500' },
      left: 'traffic is on blue; green runs: api v2 running',
    };
    const { testsuites } = parse(junitReport(r));
    expect(testsuites).toMatchObject({ tests: '9', failures: '1', skipped: '2' });
    const suite = testsuites.testsuite;
    expect(suite.name).toBe('shop release 20261206-100000-abcd');
    expect(suite.testcase.map((c) => c.name.split(':')[0])).toEqual([...RELEASE_STEPS]);
    expect(suite.testcase[0]).toMatchObject({ classname: 'rel.shop.release', time: '1.500' });
    expect(suite.testcase[2]!.skipped?.message).toBe('not asked (--replicate)');
    const monitor = suite.testcase[8]!;
    expect(monitor.time).toBe('61.250');
    expect(monitor.failure).toMatchObject({
      message: 'green failed in production: /health answered 500',
      type: 'ROLLED_BACK',
    });
    expect(monitor.failure!['#text']).toContain('left: traffic is on blue');
    expect(Number(suite.time)).toBeCloseTo(61.25 + 1.5 * 7, 3);
  });

  it('stays well formed whatever the text: <, &, quotes, and terminal control codes in names and errors', () => {
    const r = record({ project: 'a&b' });
    const nasty = 'step <one> & "two" \'three\' \x1b[31mred\x1b[0m ]]> <!-- end';
    r.steps[1] = { ...r.steps[1]!, title: nasty, status: 'failed', error: { code: 'STEP_FAILED', message: nasty } };
    const { testsuites } = parse(junitReport(r));
    const c = testsuites.testsuite.testcase[1]!;
    expect(c.name).toBe(`deploy-backend: ${nasty.replace(/\x1b/g, '')}`);
    expect(c.failure!.message).toBe(nasty.replace(/\x1b/g, ''));
    expect(testsuites.testsuite.name).toBe('a&b release 20261206-100000-abcd');
  });

  it('says why the steps that have not run did not: held, awaiting approval, failed before them', () => {
    const held = record({ status: 'held' });
    for (const s of held.steps.slice(4)) Object.assign(s, { status: 'pending', durationMs: undefined });
    const cases = parse(junitReport(held)).testsuites.testsuite.testcase;
    expect(cases[4]!.skipped?.message).toBe('not run yet: the release is held before it');
    const failed = record({ status: 'failed' });
    failed.steps[3] = { ...failed.steps[3]!, status: 'failed', error: { code: 'STEP_FAILED', message: 'boom' } };
    for (const s of failed.steps.slice(4)) Object.assign(s, { status: 'pending' });
    expect(parse(junitReport(failed)).testsuites.testsuite.testcase[5]!.skipped?.message).toBe(
      'not run: the release failed before it',
    );
  });
});

describe('the build summary', () => {
  it('says what went where and how it ended, a line per step, with markup in messages made inert', () => {
    const r = record();
    r.steps[8] = {
      ...r.steps[8]!,
      status: 'failed',
      error: { code: 'ROLLED_BACK', message: '<script>alert(1)</script> | *bold*' },
    };
    const md = summaryMarkdown(r);
    expect(md.split('\n')[0]).toBe('**rel release backend v2** to green (live before: blue): **rolled back**');
    expect(md).toContain('| monitor of v2 | **failed**: &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*bold\\* |');
    expect(md).not.toContain('<script>');
  });
});

describe('the report directory', () => {
  it('holds the JUnit report, the summary and the record, with the secrets replaced, also where JSON escapes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rel-jenkins-reports-'));
    const secret = 'pa"ss\\word-7f3a';
    const r = record();
    r.steps[3] = {
      ...r.steps[3]!,
      status: 'failed',
      error: { code: 'STEP_FAILED', message: `password authentication failed for ${secret}` },
    };
    const log = createBuildLog({ write: () => {} });
    log.addSecrets([secret]);
    return writeBuildReports(dir, r, log).then(() => {
      for (const file of ['junit.xml', 'summary.md', 'release.json']) {
        const text = readFileSync(join(dir, file), 'utf8');
        expect(text, file).toMatch(/password authentication failed for (\\?\*){3}/);
        expect(text, file).not.toContain('7f3a');
      }
    });
  });
});

describe('the build log', () => {
  it('is plain timestamped lines tagged with the release step, without control codes or secrets', () => {
    const lines: string[] = [];
    const log = createBuildLog({ write: (t) => lines.push(t), now: () => new Date('2026-12-06T10:00:00.000Z') });
    log.addSecrets(['s3cret-token']);
    const release = { id: 'x', step: 'deploy-backend' };
    log.sink({
      type: 'step:start',
      step: 'release/deploy-backend',
      message: 'deploy backend v2',
      at: 0,
      release,
    } as never);
    log.sink({ type: 'log', level: 'warn', message: '\x1b[31mtoken s3cret-token\x1b[0m\r', at: 0, release } as never);
    log.line('done');
    expect(lines).toEqual([
      '2026-12-06T10:00:00.000Z [deploy-backend] start: deploy backend v2\n',
      '2026-12-06T10:00:00.000Z [deploy-backend]   warn: token *** \n',
      '2026-12-06T10:00:00.000Z rel-jenkins: done\n',
    ]);
  });
});
