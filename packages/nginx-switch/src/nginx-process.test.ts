import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nginxErrorLine, readNginxPid, reloadNginx, testNginxConfig } from './nginx-process.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rel-ns-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('nginxErrorLine', () => {
  it('takes the first error-level line, without timestamp and pid', () => {
    const output = [
      'nginx: [warn] the "user" directive makes sense only if the master process runs with super-user privileges',
      '2026/11/26 11:44:50 [emerg] 16239#16239: unknown directive "bogus_directive" in /tmp/ngx/broken.conf:8',
      'nginx: configuration file /tmp/ngx/broken.conf test failed',
    ].join('\n');
    expect(nginxErrorLine(output)).toBe('nginx: [emerg] unknown directive "bogus_directive" in /tmp/ngx/broken.conf:8');
    expect(
      nginxErrorLine('nginx: [emerg] bind() to unix:/run/rel/blue/api.sock failed (98: Address already in use)'),
    ).toBe('nginx: [emerg] bind() to unix:/run/rel/blue/api.sock failed (98: Address already in use)');
    expect(nginxErrorLine('something\nlast words\n')).toBe('last words');
  });
});

describe('testNginxConfig', () => {
  it("fails with CONFIG and nginx's own message", async () => {
    const fake = [
      'sh',
      '-c',
      'echo "2026/11/26 11:44:50 [emerg] 1#1: unexpected \\"}\\" in /etc/nginx/x.conf:3" >&2; exit 1',
    ];
    await expect(testNginxConfig(fake)).rejects.toMatchObject({
      code: 'CONFIG',
      message: 'nginx config test failed: nginx: [emerg] unexpected "}" in /etc/nginx/x.conf:3',
    });
    await testNginxConfig(['true']);
  });

  it('says when the command does not exist or hangs', async () => {
    await expect(testNginxConfig(['/nonexistent/nginx', '-t'])).rejects.toMatchObject({
      code: 'CONFIG',
      message: 'nginx config test (/nonexistent/nginx) failed: /nonexistent/nginx: command not found',
    });
    await expect(testNginxConfig(['sleep', '5'], { timeoutMs: 100 })).rejects.toThrow(/timed out/);
  });
});

describe('readNginxPid', () => {
  it('reads a live pid', async () => {
    const file = join(dir, 'nginx.pid');
    await writeFile(file, `${process.pid}\n`);
    expect(await readNginxPid(file)).toBe(process.pid);
  });

  it('says nginx is not running for a missing, empty or stale pid file', async () => {
    const file = join(dir, 'nginx.pid');
    await expect(readNginxPid(file)).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: `nginx is not running: no pid file ${file}`,
    });
    await writeFile(file, '\n');
    await expect(readNginxPid(file)).rejects.toThrow(`nginx is not running: pid file ${file} holds no pid`);
    const gone = spawnSync('true').pid;
    await writeFile(file, `${gone}\n`);
    await expect(readNginxPid(file)).rejects.toThrow(
      `nginx is not running: pid ${gone} from ${file} is gone (stale pid file)`,
    );
  });
});

describe('reloadNginx', () => {
  it('maps "nginx is not running" answers of the reload command to UNREACHABLE', async () => {
    const fake = [
      'sh',
      '-c',
      `echo 'nginx: [error] open() "${dir}/nginx.pid" failed (2: No such file or directory)' >&2; exit 1`,
    ];
    await expect(reloadNginx({ kind: 'command', command: fake })).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: `nginx reload failed: nginx: [error] open() "${dir}/nginx.pid" failed (2: No such file or directory)`,
    });
    await expect(
      reloadNginx({
        kind: 'command',
        command: ['sh', '-c', 'echo "nginx: [alert] kill(1, 1) failed (1: Operation not permitted)" >&2; exit 1'],
      }),
    ).rejects.toMatchObject({ code: 'STEP_FAILED' });
  });

  it('refuses a stale pid file for a signal reload and an unsafe container name for docker', async () => {
    const file = join(dir, 'nginx.pid');
    await writeFile(file, `${spawnSync('true').pid}`);
    await expect(reloadNginx({ kind: 'signal', pidFile: file })).rejects.toMatchObject({ code: 'UNREACHABLE' });
    await expect(reloadNginx({ kind: 'docker', container: 'nginx; rm -rf /' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: 'invalid container name "nginx; rm -rf /"',
    });
  });
});
