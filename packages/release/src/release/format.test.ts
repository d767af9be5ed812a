import { describe, expect, it } from 'vitest';
import { sampleRecord } from '../../test/sample-record.js';
import { ciBuildFromEnvironment } from './ci.js';
import { formatRelease, formatReleaseList } from './format.js';

describe('history output', () => {
  it('one line per release with id, version, environment, who, start, duration, outcome', () => {
    const done = sampleRecord({ id: '20261206-100000-aaaa', status: 'succeeded', durationMs: 95_000 });
    const split = sampleRecord({
      id: '20261206-110000-bbbb',
      status: 'rolled-back',
      versions: { backend: 'v3', frontend: 'v2' },
      durationMs: 4000,
    });
    expect(formatReleaseList([split, done]).split('\n')).toEqual([
      'id                    version                  env    who  started               took   outcome',
      '20261206-110000-bbbb  backend v3, frontend v2  green  ops  2026-12-06T10:00:00Z  4.0s   rolled-back',
      '20261206-100000-aaaa  v2                       green  ops  2026-12-06T10:00:00Z  1m35s  succeeded',
    ]);
    expect(formatReleaseList([])).toBe('no releases yet');
  });

  it('one release step by step, with errors and what was left', () => {
    const record = sampleRecord({ status: 'failed', outcome: 'release failed at step migrate' });
    record.steps[3] = {
      ...record.steps[3]!,
      status: 'failed',
      attempts: 2,
      durationMs: 1200,
      error: { code: 'STEP_FAILED', message: 'relation "x" does not exist' },
      left: 'traffic untouched (on blue)',
    };
    const text = formatRelease(record);
    expect(text).toMatch(/^release \S+: v2 to green \(live before: blue\): failed$/m);
    expect(text).toMatch(/ {2}failed {2}migrate +migrate \(1\.2s\) \[2 attempts\]/);
    expect(text).toMatch(/error: relation "x" does not exist/);
    expect(text).toMatch(/left: traffic untouched \(on blue\)/);
  });
});

describe('the CI build from the environment', () => {
  it("reads Jenkins' variables, and nothing outside a build", () => {
    expect(
      ciBuildFromEnvironment({
        BUILD_URL: 'https://ci.example.com/job/shop/42/',
        BUILD_TAG: 'jenkins-shop-42',
        JOB_NAME: 'shop',
        BUILD_USER_ID: 'alice',
      }),
    ).toEqual({
      buildUrl: 'https://ci.example.com/job/shop/42/',
      buildTag: 'jenkins-shop-42',
      jobName: 'shop',
      startedBy: 'alice',
    });
    expect(ciBuildFromEnvironment({ HOME: '/root' })).toBeUndefined();
    expect(ciBuildFromEnvironment({ BUILD_URL: 'javascript:alert(1)' })).toBeUndefined();
  });
});
