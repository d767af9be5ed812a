import { ENVIRONMENTS, type Environment, RelError } from '@rel/core';
import {
  argsOf,
  assertRewritable,
  type ConfItem,
  childrenOf,
  directivesOf,
  directiveValue,
  type ParsedConfig,
  parseConfig,
  proxyPassHost,
  requireUpstreams,
  walk,
} from './config-parse.js';
import type { EnvironmentAddresses } from './types.js';

/** Default name of the response header that names the environment that answered. */
export const DEFAULT_ENVIRONMENT_HEADER = 'X-Rel-Environment';

export interface RouteConfigOptions {
  /** Upstream blocks to point at `target`. */
  upstreams: readonly string[];
  /** Each environment's `server` values per upstream. */
  addresses: EnvironmentAddresses;
  target: Environment;
  /** Response header naming the environment. Default `X-Rel-Environment`. */
  header?: string;
  /** Names the config in error messages. Default `the nginx config`. */
  source?: string;
}

export interface RoutedConfig {
  /** The routed config; the input unchanged (byte for byte) when nothing had to change. */
  text: string;
  changed: boolean;
  /** What changed, one line each. */
  changes: string[];
  /** Comments nginx-conf drops when it renders the text (those after a block's last directive). */
  droppedComments: number;
}

/**
 * Routes nginx config text to `target` (reload method): the `server` lines of the named upstream blocks
 * become the target's addresses (other directives such as `keepalive` and `zone` stay), and responses get
 * `add_header <header> <target> always;`. Where the header goes: every existing `add_header <header> ...`
 * is updated in place (the config designates the place); each location that proxies to a named upstream
 * and would not send the header gets one at the level it takes its `add_header` set from (nginx inherits
 * `add_header` only from the nearest level that has any), or in its `server` block when no level has one.
 * Pure: text in, text out; rendering is nginx-conf's.
 */
export function routeConfig(text: string, options: RouteConfigOptions): RoutedConfig {
  const source = options.source ?? 'the nginx config';
  const header = options.header ?? DEFAULT_ENVIRONMENT_HEADER;
  validateHeaderName(header);
  const parsed = parseConfig(text, source);
  const upstreams = requireUpstreams(parsed.conf, options.upstreams, source);
  const { droppedComments } = assertRewritable(parsed, text, source);
  const changes: string[] = [];

  for (const [name, block] of upstreams) {
    const wanted = serverValues(options.addresses, options.target, name);
    const current = directivesOf(block, 'server');
    if (current.length === wanted.length && current.every((item, i) => directiveValue(item) === wanted[i])) continue;
    const comments = current.flatMap((item) => item._comments);
    for (let i = current.length - 1; i >= 0; i -= 1) block._remove('server', i);
    for (const [i, value] of wanted.entries()) block._add('server', value, null, i === 0 ? comments : []);
    changes.push(`upstream ${name}: server ${wanted.join(', ')}`);
  }

  changes.push(...labelResponses(parsed, [...upstreams.keys()], header, options.target, source));
  if (changes.length === 0) return { text, changed: false, changes, droppedComments: 0 };
  return { text: parsed.conf.toString(), changed: true, changes, droppedComments };
}

function labelResponses(
  parsed: ParsedConfig,
  upstreams: string[],
  header: string,
  target: Environment,
  source: string,
): string[] {
  const changes: string[] = [];
  const wanted = `${header} ${target} always`;
  const isOurs = (item: ConfItem) =>
    item._name === 'add_header' && argsOf(item)[0]?.toLowerCase() === header.toLowerCase();
  let existing = 0;
  walk(parsed.conf.nginx, (item) => {
    if (!isOurs(item)) return;
    existing += 1;
    if (directiveValue(item) !== wanted) {
      item._value = wanted;
      changes.push(`add_header ${wanted}`);
    }
  });

  const locations = proxyingLocations(parsed.conf.nginx, new Set(upstreams));
  if (locations.length === 0 && existing === 0) {
    throw new RelError(
      'CONFIG',
      `no location in ${source} proxies to ${upstreams.join(', ')} and no "add_header ${header}" is set: responses cannot be labelled`,
    );
  }
  for (const { location, ancestors } of locations) {
    const chain = [location, ...[...ancestors].reverse()].filter((item) =>
      ['location', 'server', 'http'].includes(item._name),
    );
    const nearest = chain.find((item) => directivesOf(item, 'add_header').length > 0);
    if (nearest && directivesOf(nearest, 'add_header').some(isOurs)) continue;
    const block = nearest ?? chain.find((item) => item._name === 'server') ?? location;
    block._add('add_header', wanted);
    changes.push(`${block._name}${directiveValue(block) ? ` ${directiveValue(block)}` : ''}: add_header ${wanted}`);
  }
  return changes;
}

/** Locations (at any depth) whose `proxy_pass`, directly or in an `if`/`limit_except`, names an upstream. */
export function proxyingLocations(
  root: ConfItem,
  upstreams: ReadonlySet<string>,
): { location: ConfItem; ancestors: readonly ConfItem[]; upstream: string }[] {
  const found: { location: ConfItem; ancestors: readonly ConfItem[]; upstream: string }[] = [];
  walk(root, (item, ancestors) => {
    if (item._name !== 'location') return;
    const inner = [item, ...childrenOf(item).filter((child) => child._name === 'if' || child._name === 'limit_except')];
    for (const block of inner) {
      for (const pass of directivesOf(block, 'proxy_pass')) {
        const host = proxyPassHost(directiveValue(pass));
        if (host && upstreams.has(host)) {
          found.push({ location: item, ancestors, upstream: host });
          return;
        }
      }
    }
  });
  return found;
}

export interface ConfigLiveOptions {
  upstreams: readonly string[];
  addresses: EnvironmentAddresses;
  /** Names the config in error messages. Default `the nginx config`. */
  source?: string;
}

/**
 * Which environment the config routes to (reload method): the one whose addresses every named upstream's
 * `server` lines name (compared by address, parameters aside). `undefined` when they name neither or a mix;
 * `detail` says what each upstream names.
 */
export function liveEnvironmentOfConfig(
  text: string,
  options: ConfigLiveOptions,
): { live: Environment | undefined; detail: string } {
  const source = options.source ?? 'the nginx config';
  const { conf } = parseConfig(text, source);
  const upstreams = requireUpstreams(conf, options.upstreams, source);
  const perUpstream: { name: string; names: string[]; env: Environment | undefined }[] = [];
  for (const [name, block] of upstreams) {
    const names = directivesOf(block, 'server').map((item) => argsOf(item)[0] ?? '');
    const env = ENVIRONMENTS.find((candidate) => {
      const expected = options.addresses[candidate]?.[name];
      if (expected === undefined) return false;
      return sameSet(names, serverValues(options.addresses, candidate, name).map(addressOf));
    });
    perUpstream.push({ name, names, env });
  }
  const envs = new Set(perUpstream.map((entry) => entry.env));
  const live = envs.size === 1 ? [...envs][0] : undefined;
  const detail = perUpstream
    .map((entry) => `${entry.name} -> ${entry.names.join(', ') || 'no server'} (${entry.env ?? 'neither environment'})`)
    .join('; ');
  return { live, detail };
}

const SERVER_VALUE = /^[^\s;{}#"'\\]+(\s+[a-z_]+(=[^\s;{}#"'\\]+)?)*$/;

/** The target's `server` values for one upstream, validated; RelError CONFIG/BAD_INPUT when missing or unsafe. */
export function serverValues(addresses: EnvironmentAddresses, env: Environment, upstream: string): string[] {
  const raw = addresses[env]?.[upstream];
  if (raw === undefined) throw new RelError('CONFIG', `no address for upstream "${upstream}" in environment ${env}`);
  const values = (typeof raw === 'string' ? [raw] : [...raw]).map((value) => value.trim());
  if (values.length === 0) throw new RelError('CONFIG', `no address for upstream "${upstream}" in environment ${env}`);
  for (const value of values) {
    if (!SERVER_VALUE.test(value)) {
      throw new RelError(
        'BAD_INPUT',
        `invalid address ${JSON.stringify(value)} for upstream "${upstream}" in ${env}: expected host:port or unix:/path, then optional parameters`,
      );
    }
  }
  return values;
}

function addressOf(value: string): string {
  return value.split(/\s+/)[0]!;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((item) => right.has(item));
}

/** RelError BAD_INPUT unless `header` is a plain HTTP header name. */
export function validateHeaderName(header: string): void {
  if (!/^[A-Za-z0-9-]+$/.test(header)) {
    throw new RelError('BAD_INPUT', `invalid header name ${JSON.stringify(header)}: letters, digits and "-" only`);
  }
}
