import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EXIT } from '@rel/release/config';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';

const config = fileURLToPath(new URL('../../../examples/sandbox/rel.config.yaml', import.meta.url));
const bin = fileURLToPath(new URL('../bin/rel.js', import.meta.url));
const forbid = fileURLToPath(new URL('../test/forbid-clients.mjs', import.meta.url));

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
  });
  stderr.on('data', (d) => {
    err += d;
  });
  const code = await main(args, { stdout, stderr, env });
  return { code, out, err };
}

describe('rel (in process)', () => {
  it('--help lists the commands and the exit codes', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toContain('rel deploy backend <env> <version>');
    expect(out).toContain('rel status');
    expect(out).toMatch(/exit codes: 0 ok, 1 a step failed, 2 bad input/);
  });

  it('--help lists rel release first, and says what <env> may be', async () => {
    const { out } = await run(['--help']);
    const commands = out.split('\n').filter((l) => l.startsWith('  rel '));
    expect(commands[0]).toMatch(/^ {2}rel release \[<version>\] +release to the idle environment/);
    expect(out).toMatch(/<env>: blue, green, idle \(the one nginx does not route to\) or live/);
    expect(out).toMatch(/5 release paused for approval/);
    const release = await run(['release', '--help']);
    expect(release.out).toMatch(/^usage: rel release \[<version>\] \[options\]/);
    expect(release.out).toMatch(/--pause-before-switch +stop once the idle environment is verified \(exit 5\)/);
  });

  it('help for one command', async () => {
    const { code, out } = await run(['deploy', 'frontend', '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: rel deploy frontend <env> <version>/);
  });

  it.each([
    [
      ['deploy', 'backend', 'purple', 'v1'],
      /^rel: unknown environment "purple": expected blue, green, idle or live\n$/,
    ],
    [['deploy', 'backend', 'green', 'v1;rm -rf /'], /^rel: invalid version "v1;rm -rf \/"/],
    [['deploy', 'backend', 'green', '$(reboot)'], /^rel: invalid version "\$\(reboot\)"/],
    [['deploy', 'backend', 'green', ''], /^rel: invalid version ""/],
    [['deploy', 'backend', 'green'], /^rel: expected 2 argument\(s\): usage: rel deploy backend <env> <version>\n$/],
    [['deploy', 'sideways', 'green', 'v1'], /^rel: unknown command "deploy sideways green v1"/],
    [['deploy', 'backend', 'green', 'v1', '--colour'], /^rel: Unknown option '--colour'/],
    [['frobnicate'], /^rel: unknown command "frobnicate" \(see rel --help\)\n$/],
    [['release', 'v2', 'v3'], /^rel: expected 0 to 1 argument\(s\): usage: rel release \[<version>\]\n$/],
    [['release', 'v2', '--replicate', '--no-replicate'], /^rel: --replicate and --no-replicate contradict each other/],
    [['release', 'v2', '--monitor=-5'], /^rel: invalid --monitor "-5"/],
    [['release', 'v2', '--monitor-interval', '0'], /^rel: invalid --monitor-interval "0": must be greater than zero/],
    [['release', 'v2', '--only', 'both'], /^rel: invalid --only "both": expected backend or frontend/],
    [['release', 'resume', 'x', 'y'], /^rel: expected 0 to 1 argument\(s\): usage: rel release resume \[<id>\]/],
    [['history', '--limit', 'all'], /^rel: invalid --limit "all": expected a whole number >= 1/],
    // waits longer than a timer can hold, and timings that contradict each other
    [['monitor', '99999999999'], /^rel: invalid duration "99999999999": at most 24 days/],
    [['monitor', '10s', '--interval', '30s'], /^rel: the interval between checks \(30\.0s\) is longer than the watch/],
    [
      ['monitor', '1m', '--interval', '10s', '--timeout', '20s'],
      /^rel: invalid --timeout "20s": longer than the interval/,
    ],
    [['monitor', '1m', '--url', 'http://ops:hunter2@127.0.0.1:9/x'], /^rel: invalid --url: it carries credentials/],
  ])('bad input %j: one line, exit 2', async (args, pattern) => {
    const { code, out, err } = await run([...args, '--config', config]);
    expect(code).toBe(EXIT.BAD_INPUT);
    expect(err).toMatch(pattern);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(out).toBe('');
  });

  it('a missing config file: exit 2 naming the file', async () => {
    const { code, err } = await run(['status', '--config', '/nonexistent/rel.config.yaml']);
    expect(code).toBe(EXIT.BAD_INPUT);
    expect(err).toBe('rel: config file /nonexistent/rel.config.yaml not found (set --config or REL_CONFIG)\n');
  });

  it('--json lists every problem of a config', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const bad = join(mkdtempSync(join(tmpdir(), 'rel-config-')), 'rel.config.yaml');
    writeFileSync(
      bad,
      readFileSync(config, 'utf8')
        .replace('project: sample', 'project: Bad Name')
        .replace('apiPort: 18082', 'apiPort: 0'),
    );
    const { code, out } = await run(['status', '--json', '--config', bad]);
    expect(code).toBe(EXIT.BAD_INPUT);
    const error = JSON.parse(out);
    expect(error).toMatchObject({ type: 'error', code: 'CONFIG', message: expect.stringMatching(/2 problems: /) });
    expect(error.details.problems).toHaveLength(2);
  });

  it('--json reports the error as a JSON line', async () => {
    const { code, out } = await run(['deploy', 'backend', 'red', 'v1', '--json', '--config', config]);
    expect(code).toBe(EXIT.BAD_INPUT);
    expect(JSON.parse(out)).toMatchObject({ type: 'error', code: 'BAD_INPUT', exitCode: 2 });
  });
});

describe('rel (the built binary)', () => {
  const exec = promisify(execFile);

  it.each([
    [['db', 'replicate', 'green', 'green'], /^rel: cannot replicate green into itself/],
    [['db', 'replicate', 'idle', 'idle'], /^rel: cannot replicate idle into itself/],
    [['db', 'restore', 'green', '/nonexistent/app.dump'], /^rel: backup \/nonexistent\/app\.dump does not exist$/],
    [['db', 'restore', 'blue', '/etc/hostname'], /^rel: refusing to restore \/etc\/hostname: /],
  ])('bad input %j is said before the engine is asked (none answers here): exit 2', async (args, pattern) => {
    const failed = await exec(process.execPath, [bin, ...args, '--config', config], {
      env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(EXIT.BAD_INPUT);
    expect(failed.stderr.trim()).toMatch(pattern);
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--help and --version load no Docker, database or HTTP client', async () => {
    for (const flag of ['--help', '--version']) {
      const { stdout } = await exec(process.execPath, ['--import', forbid, bin, flag]);
      expect(stdout).toMatch(flag === '--version' ? /^rel \d+\.\d+\.\d+\n$/ : /commands:/);
    }
  });

  it('the guard itself works: a command that needs Docker fails under it', async () => {
    const error = await exec(process.execPath, ['--import', forbid, bin, 'status', '--config', config]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(error).toMatchObject({ code: 1 });
    expect((error as { stderr: string }).stderr).toMatch(/forbidden module (dockerode|docker-modem|http|net)\b/);
  });

  it('a malformed config file is a one-line error, exit 2, no stack trace', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/rel-cli-`);
    writeFileSync(`${dir}/rel.config.yaml`, 'project: [oops\n');
    const error = await exec(process.execPath, [bin, 'status'], { cwd: dir }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toMatch(
      /^rel: config file .*rel\.config\.yaml is not valid YAML at line \d+, column \d+: .*\n$/,
    );
  });
});
