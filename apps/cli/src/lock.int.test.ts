import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { relBin, startTestNginx, type TestNginx, testProject } from '@rel/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Two workspaces of one project (two Jenkins jobs, or a job and a person's checkout), each with its own copy of
// rel.config.yaml and no stateDir in it: they share the project's state directory, so its release lock and journal.
describe('one project, two workspaces', () => {
  const t = testProject('lock');
  let nginx: TestNginx;
  const stateHome = mkdtempSync(join(tmpdir(), 'rel-state-home-'));
  const workspaces = ['job-a', 'job-b'].map((name) => join(t.dir, name, 'rel.config.yaml'));
  const env = { REL_STATE_HOME: stateHome };
  const [a, b] = workspaces as [string, string];
  /** The built rel with one workspace's config (t.rel would add the test project's own --config). */
  const rel = (config: string, args: string[]) =>
    promisify(execFile)(process.execPath, [relBin, ...args, '--config', config], {
      env: { ...process.env, CI: '1', ...env },
      timeout: 90_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  beforeAll(async () => {
    nginx = await startTestNginx(t, 'socket');
    // the test project's config without its stateDir line: the default applies
    const text = `${readFileSync(t.configFile, 'utf8').replace(/^stateDir:.*\n/m, '')}${nginx.yaml}`;
    for (const file of workspaces) {
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, text);
    }
  });

  afterAll(async () => {
    await nginx?.stop();
    await t.cleanup();
  });

  it('a release open in one workspace is refused, named, in the other; the other can end it', async () => {
    const paused = await rel(a, ['release', 'v1', '--pause-before-switch', '--monitor', '0']);
    expect(paused.code, paused.stderr).toBe(5);
    const second = await rel(b, ['release', 'v2']);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/^rel: another release is open: release \S+ \(v1 to (blue|green)\) is paused/);
    const deploy = await rel(b, ['deploy', 'backend', 'idle', 'v2']);
    expect(deploy.code).toBe(3);
    expect(deploy.stderr).toMatch(/refusing to deploy the backend to (blue|green): release \S+ .* is paused/);
    // one journal: the other workspace sees the release and ends it
    const history = await rel(b, ['history']);
    expect(history.stdout).toMatch(/v1 +(blue|green) .* paused/);
    const aborted = await rel(b, ['release', 'abort']);
    expect(aborted.code, aborted.stderr).toBe(0);
    // the shared state directory: the project's, under REL_STATE_HOME, not beside either config
    expect(readdirSync(join(stateHome, t.project, 'releases'))).toHaveLength(1);
    for (const file of workspaces) expect(readdirSync(join(file, '..'))).toEqual(['rel.config.yaml']);
  });
});
