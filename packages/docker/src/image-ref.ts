import { RelError } from '@rel/core';
import type { ImageRef } from './types.js';

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// One path component of a repository, as Docker's reference grammar defines it.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$/;
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * Checks an image tag against Docker's grammar (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) and returns it.
 * Anything else (empty, spaces, `;`, `$(`...) is RelError BAD_INPUT naming the value and `what` it is
 * (default `image tag`; say `version` when an operator typed it as one).
 */
export function validateTag(tag: string, what = 'image tag'): string {
  if (typeof tag === 'string' && TAG.test(tag)) return tag;
  throw new RelError(
    'BAD_INPUT',
    `invalid ${what} ${show(tag)}: expected up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`,
  );
}

/**
 * Splits `127.0.0.1:5000/rel-sample/api:v1` into registry, repository and tag. A reference without a
 * registry is on Docker Hub (`docker.io`, with `library/` for official images); without a tag, `latest`.
 * Digest references (`@sha256:...`) are not supported. Invalid references are RelError BAD_INPUT.
 */
export function parseImageRef(ref: string): ImageRef {
  const bad = (why: string) => new RelError('BAD_INPUT', `invalid image reference ${show(ref)}: ${why}`);
  if (typeof ref !== 'string' || ref === '') throw bad('empty');
  if (ref.includes('@')) throw bad('digest references are not supported; use a tag');
  let rest = ref;
  let tag = 'latest';
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag ${show(tag)} is not valid (letters, digits, '_', '.', '-'; up to 128)`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!DOMAIN.test(first)) throw bad(`registry ${show(first)} is not a host name with an optional port`);
    registry = DOCKER_HUB_ALIASES.has(first) ? 'docker.io' : first;
    parts.shift();
  }
  if (parts.length === 0 || !parts.every((part) => PATH_COMPONENT.test(part))) {
    throw bad('the repository must be lowercase letters, digits and separators (. _ __ -) between slashes');
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  return { registry, repository: parts.join('/'), tag };
}

/** The registry an image is pulled from: `127.0.0.1:5000/a/b:v1` -> `127.0.0.1:5000`, `nginx` -> `docker.io`. */
export function registryOfImage(ref: string): string {
  return parseImageRef(ref).registry;
}

/** `registry/repository:tag`, the way Docker names a pulled image (Docker Hub images without the registry). */
export function formatImageRef(ref: ImageRef): string {
  return `${repositoryName(ref)}:${ref.tag}`;
}

/** The repository as the engine names it: `127.0.0.1:5000/rel-sample/api`, `nginx`. */
export function repositoryName(ref: ImageRef): string {
  if (ref.registry !== 'docker.io') return `${ref.registry}/${ref.repository}`;
  return ref.repository.replace(/^library\//, '');
}

/** Registry names compared the way Docker does: Docker Hub's aliases, schemes and paths ignored. */
export function normalizeRegistry(registry: string): string {
  const host = registry
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
