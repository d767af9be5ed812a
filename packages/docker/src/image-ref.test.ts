import { RelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import { formatImageRef, normalizeRegistry, parseImageRef, registryOfImage, validateTag } from './image-ref.js';

describe('parseImageRef', () => {
  it.each([
    ['127.0.0.1:5000/rel-sample/api:v1', { registry: '127.0.0.1:5000', repository: 'rel-sample/api', tag: 'v1' }],
    ['127.0.0.1:5000/rel-sample/api', { registry: '127.0.0.1:5000', repository: 'rel-sample/api', tag: 'latest' }],
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['nginx:1.25-alpine', { registry: 'docker.io', repository: 'library/nginx', tag: '1.25-alpine' }],
    ['bitnami/postgresql:15', { registry: 'docker.io', repository: 'bitnami/postgresql', tag: '15' }],
    ['docker.io/library/nginx:1', { registry: 'docker.io', repository: 'library/nginx', tag: '1' }],
    ['index.docker.io/x/y:z', { registry: 'docker.io', repository: 'x/y', tag: 'z' }],
    ['ghcr.io/x/y', { registry: 'ghcr.io', repository: 'x/y', tag: 'latest' }],
    ['localhost/app:v20251108-001', { registry: 'localhost', repository: 'app', tag: 'v20251108-001' }],
    ['localhost:5000/a/b/c:V_1.2', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'V_1.2' }],
  ])('%s', (ref, expected) => {
    expect(parseImageRef(ref)).toEqual(expected);
  });

  it.each([
    '',
    'nginx:',
    'nginx:bad tag',
    'Nginx',
    'nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000',
    'a/b:v1;rm -rf /',
    'a/b:$(id)',
    '127.0.0.1:5000//a',
    ' nginx',
  ])('refuses %j with BAD_INPUT naming it', (ref) => {
    const error = (() => {
      try {
        parseImageRef(ref);
      } catch (e) {
        return e as RelError;
      }
    })();
    expect(error).toBeInstanceOf(RelError);
    expect(error?.code).toBe('BAD_INPUT');
    expect(error?.message).toContain(JSON.stringify(ref));
  });

  it('formats back the way Docker names images', () => {
    expect(formatImageRef(parseImageRef('127.0.0.1:5000/a/b'))).toBe('127.0.0.1:5000/a/b:latest');
    expect(formatImageRef(parseImageRef('nginx'))).toBe('nginx:latest');
    expect(formatImageRef(parseImageRef('bitnami/pg:1'))).toBe('bitnami/pg:1');
  });
});

describe('validateTag', () => {
  it('names what the value is', () => {
    expect(() => validateTag('v1;x', 'version')).toThrow('invalid version "v1;x": expected');
  });

  it.each(['v1', 'latest', 'v20251108-001', '1.2.3', '_x', 'A'.repeat(128)])('accepts %s', (tag) => {
    expect(validateTag(tag)).toBe(tag);
  });

  it.each([
    '',
    ' ',
    'v1 ',
    'v1;rm -rf /',
    '$(reboot)',
    '`id`',
    'v1|cat',
    'v1&&x',
    'a>b',
    "it's",
    'v1\n',
    '-v1',
    '.v1',
    'v/1',
    'v:1',
    'A'.repeat(129),
  ])('refuses %j with BAD_INPUT naming the value', (tag) => {
    expect(() => validateTag(tag)).toThrow(RelError);
    try {
      validateTag(tag);
    } catch (error) {
      expect((error as RelError).code).toBe('BAD_INPUT');
      expect((error as RelError).message).toContain(JSON.stringify(tag));
      expect((error as RelError).message).not.toContain('\n');
    }
  });
});

describe('registryOfImage', () => {
  it.each([
    ['127.0.0.1:5000/a/b:v1', '127.0.0.1:5000'],
    ['nginx', 'docker.io'],
    ['ghcr.io/x/y', 'ghcr.io'],
    ['registry.example.com:443/team/app:1', 'registry.example.com:443'],
    ['team/app', 'docker.io'],
  ])('%s -> %s', (ref, registry) => {
    expect(registryOfImage(ref)).toBe(registry);
  });

  it('normalizes config.json keys', () => {
    expect(normalizeRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeRegistry('http://127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(normalizeRegistry('GHCR.io')).toBe('ghcr.io');
  });
});
