import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDockerConfigAuth } from './auth.js';

describe('readDockerConfigAuth', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rel-docker-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = (config: unknown) => writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const b64 = (text: string) => Buffer.from(text).toString('base64');

  it('decodes the auth field (passwords may contain colons)', async () => {
    await write({ auths: { '127.0.0.1:5000': { auth: b64('rel:pa:ss') } } });
    expect(await readDockerConfigAuth('127.0.0.1:5000', { configDir: dir })).toEqual({
      serveraddress: '127.0.0.1:5000',
      username: 'rel',
      password: 'pa:ss',
    });
  });

  it('reads username and password fields', async () => {
    await write({ auths: { 'ghcr.io': { username: 'bot', password: 'token' } } });
    expect(await readDockerConfigAuth('ghcr.io', { configDir: dir })).toMatchObject({
      username: 'bot',
      password: 'token',
    });
  });

  it('matches keys written with a scheme, and Docker Hub under its legacy key', async () => {
    await write({
      auths: {
        'http://127.0.0.1:5000': { auth: b64('a:b') },
        'https://index.docker.io/v1/': { auth: b64('hub:secret') },
      },
    });
    expect(await readDockerConfigAuth('127.0.0.1:5000', { configDir: dir })).toMatchObject({ username: 'a' });
    expect(await readDockerConfigAuth('docker.io', { configDir: dir })).toMatchObject({
      serveraddress: 'docker.io',
      username: 'hub',
    });
  });

  it('returns undefined without a file or an entry (credential helpers: auth-helpers.test.ts)', async () => {
    expect(await readDockerConfigAuth('127.0.0.1:5000', { configDir: dir })).toBeUndefined();
    await write({ auths: { 'ghcr.io': {} } });
    expect(await readDockerConfigAuth('127.0.0.1:5000', { configDir: dir })).toBeUndefined();
    expect(await readDockerConfigAuth('ghcr.io', { configDir: dir })).toBeUndefined();
  });

  it('uses $DOCKER_CONFIG by default', async () => {
    await write({ auths: { 'ghcr.io': { auth: b64('env:pw') } } });
    const saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dir;
    try {
      expect(await readDockerConfigAuth('ghcr.io')).toMatchObject({ username: 'env' });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
    }
  });

  it('refuses a broken file or entry with CONFIG, without echoing its content', async () => {
    await writeFile(join(dir, 'config.json'), '{"auths": {"x": {"auth": "s3cr3t"');
    const broken = await readDockerConfigAuth('x', { configDir: dir }).catch((e: RelError) => e);
    expect(broken).toMatchObject({ code: 'CONFIG' });
    expect((broken as RelError).message).not.toContain('s3cr3t');

    await write({ auths: { x: { auth: b64('no-colon-s3cr3t') } } });
    const bad = await readDockerConfigAuth('x', { configDir: dir }).catch((e: RelError) => e);
    expect(bad).toBeInstanceOf(RelError);
    expect((bad as RelError).code).toBe('CONFIG');
    expect((bad as RelError).message).not.toContain('s3cr3t');
  });
});
