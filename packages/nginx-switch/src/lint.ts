import { proxyingLocations } from './config-edit.js';
import {
  argsOf,
  directivesOf,
  directiveValue,
  findUpstreams,
  type ParsedConfig,
  parseConfig,
  proxyPassHost,
  walk,
} from './config-parse.js';
import { socketRoutingOfConfig } from './socket-route.js';
import type { LintWarning, SwitchMethod } from './types.js';

export interface LintReloadSafetyOptions {
  /** The upstreams rel moves; the socket rule checks these. Default: every upstream in the text. */
  upstreams?: readonly string[];
  /** The method in use. Default: `socket` when the named upstreams use the socket layout, else `reload`. */
  method?: SwitchMethod;
  /**
   * Whether the text is nginx's main config (the `worker_shutdown_timeout` rule only applies there).
   * Default: it has a top-level `events` or `http` block.
   */
  main?: boolean;
}

/**
 * Warns about configs that drop or hang requests when traffic moves; never throws (text that does not parse
 * gets no warnings: the switch reports the parse error). Each warning names the problem and its fix.
 */
export function lintReloadSafety(configText: string, options: LintReloadSafetyOptions = {}): LintWarning[] {
  let parsed: ParsedConfig;
  try {
    parsed = parseConfig(configText, 'the nginx config');
  } catch {
    return [];
  }
  const root = parsed.conf.nginx;
  const upstreams = findUpstreams(parsed.conf);
  const named = options.upstreams?.filter((name) => upstreams.has(name)) ?? [...upstreams.keys()];
  const warnings: LintWarning[] = [];

  const main = options.main ?? (directivesOf(root, 'events').length > 0 || directivesOf(root, 'http').length > 0);
  if (main && directivesOf(root, 'worker_shutdown_timeout').length === 0) {
    warnings.push({
      rule: 'worker-shutdown-timeout',
      message:
        'no worker_shutdown_timeout: after a reload, old workers wait for every open connection (long polls, websockets, downloads) to finish, so reloads can leave old workers and the old routing running indefinitely',
      fix: 'add `worker_shutdown_timeout 30s;` to the main context',
    });
  }

  for (const [name, block] of upstreams) {
    if (directivesOf(block, 'keepalive').length === 0) continue;
    for (const { location, ancestors } of proxyingLocations(root, new Set([name]))) {
      const chain = [location, ...[...ancestors].reverse()];
      const version = chain.flatMap((item) => directivesOf(item, 'proxy_http_version'))[0];
      const headers = chain.map((item) => directivesOf(item, 'proxy_set_header')).find((list) => list.length > 0) ?? [];
      const clearsConnection = headers.some((item) => {
        const [field, value] = argsOf(item);
        return field?.toLowerCase() === 'connection' && value === '';
      });
      const http11 = version !== undefined && directiveValue(version) === '1.1';
      if (http11 && clearsConnection) continue;
      const missing = [
        ...(http11 ? [] : ['proxy_http_version 1.1']),
        ...(clearsConnection ? [] : ['proxy_set_header Connection ""']),
      ];
      warnings.push({
        rule: 'upstream-keepalive-headers',
        message: `upstream ${name} has keepalive but location ${directiveValue(location)} proxying to it lacks ${missing.join(' and ')}: nginx then speaks HTTP/1.0 with "Connection: close" and opens a new connection per request`,
        fix: `add ${missing.map((directive) => `\`${directive};\``).join(' and ')} to location ${directiveValue(location)} (or its server)`,
      });
    }
  }

  walk(root, (item) => {
    if (item._name !== 'proxy_pass') return;
    const target = directiveValue(item);
    if (target.includes('$')) return;
    const host = proxyPassHost(target);
    if (host === undefined || upstreams.has(host) || isIpOrLocal(host)) return;
    warnings.push({
      rule: 'proxy-pass-hostname',
      message: `proxy_pass ${target} names the host ${host}, which nginx resolves once when it loads the config: a changed address is not followed until the next reload`,
      fix: `define an upstream block for ${host} (or use its IP), or use a variable in proxy_pass with a \`resolver\` so nginx re-resolves it`,
    });
  });

  const method = options.method ?? (named.length > 0 && socketRoutingOfConfig(configText, named) ? 'socket' : 'reload');
  if (method === 'socket') {
    for (const name of named) {
      if (directivesOf(upstreams.get(name)!, 'keepalive').length === 0) continue;
      warnings.push({
        rule: 'socket-front-keepalive',
        message: `upstream ${name} has keepalive: with the socket method its pooled connections stay with the environment they were opened to, so traffic would not move`,
        fix: `remove keepalive from upstream ${name}; keep it in the per-environment backend upstreams (rel_<env>_${name})`,
      });
    }
  }
  return warnings;
}

function isIpOrLocal(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[') || host === 'localhost';
}
