import { RelError } from '@rel/core';

/**
 * Where notifications go, from `notifications.targets` in rel.config.yaml. Every `url` is a secret (Slack and
 * Teams webhook URLs embed their token), and so is every header value: output names a target by `name`, else
 * `kind`, and at most the URL's host.
 */
export type NotificationTarget =
  | { kind: 'slack'; url: string; name?: string }
  | {
      kind: 'teams';
      url: string;
      name?: string;
      /**
       * `messagecard` (default): the classic Office 365 connector card, for "Incoming Webhook" connector URLs.
       * `adaptivecard`: an Adaptive Card message, for the Teams Workflows "post to a channel when a webhook
       * request is received" URLs that replace the retired connectors.
       */
      format?: 'messagecard' | 'adaptivecard';
    }
  | { kind: 'webhook'; url: string; headers?: Record<string, string>; name?: string };

export type NotificationSeverity = 'info' | 'warning' | 'critical';

/** What happened, in a form every target renders. */
export interface Notification {
  severity: NotificationSeverity;
  /** One line: `Rolled back to blue`. */
  title: string;
  /** A sentence or two: what happened and what state production is in. */
  text: string;
  project: string;
  /** `rollback`, `switch`, `release`, ... */
  event: string;
  environment?: string;
  /** The environment traffic moved from, and to. */
  from?: string;
  to?: string;
  /** When it happened, ISO 8601. */
  at: string;
  /** More facts shown as name/value pairs: versions, durations, the failed check. Never secrets. */
  fields?: Record<string, string>;
}

const KINDS = ['slack', 'teams', 'webhook'] as const;
const TEAMS_FORMATS = ['messagecard', 'adaptivecard'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$/;
// RFC 9110 token characters
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// set by the HTTP client from the request itself
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
]);
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Validates one entry of `notifications.targets`, with `${VAR}` values already substituted; `key` names it in
 * errors (`notifications.targets[0]`). Throws RelError('CONFIG', `<key>...: <problem>`): one line that never
 * contains the URL's path, query or credentials, nor a header value.
 */
export function validateNotificationTarget(raw: unknown, key: string): NotificationTarget {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    // not described by value: a bare string here is likely the webhook URL itself
    throw configError(
      `${key}: expected a mapping with kind and url, got ${typeof raw === 'string' ? 'a string' : describe(raw)}`,
    );
  }
  const entry = raw as Record<string, unknown>;
  if (!isOneOf(entry.kind, KINDS)) {
    throw configError(`${key}.kind: expected one of ${KINDS.join(', ')}, got ${describe(entry.kind)}`);
  }
  const kind = entry.kind;
  const known = [
    'kind',
    'url',
    'name',
    ...(kind === 'webhook' ? ['headers'] : []),
    ...(kind === 'teams' ? ['format'] : []),
  ];
  for (const name of Object.keys(entry)) {
    if (!known.includes(name))
      throw configError(`${key}.${name}: unknown key for a ${kind} target (expected one of ${known.join(', ')})`);
  }
  const url = validateUrl(entry.url, `${key}.url`, kind !== 'webhook');
  let name: string | undefined;
  if (entry.name !== undefined) {
    if (typeof entry.name !== 'string' || !NAME.test(entry.name)) {
      throw configError(
        `${key}.name: expected up to 64 letters, digits, spaces and . _ : -, got ${describe(entry.name)}`,
      );
    }
    name = entry.name;
  }
  const named = name === undefined ? {} : { name };
  if (kind === 'slack') return { kind, url, ...named };
  if (kind === 'teams') {
    if (entry.format === undefined) return { kind, url, ...named };
    if (!isOneOf(entry.format, TEAMS_FORMATS)) {
      throw configError(`${key}.format: expected one of ${TEAMS_FORMATS.join(', ')}, got ${describe(entry.format)}`);
    }
    return { kind, url, ...named, format: entry.format };
  }
  if (entry.headers === undefined) return { kind, url, ...named };
  const headers = validateHeaders(entry.headers, `${key}.headers`);
  const secretHeader = Object.keys(headers).find((h) =>
    /^(authorization|proxy-authorization|cookie)$|token|key|secret/i.test(h),
  );
  if (secretHeader && new URL(url).protocol === 'http:' && !LOOPBACK.has(new URL(url).hostname)) {
    throw configError(
      `${key}.url: must be https (header ${secretHeader} carries a credential); http is allowed only for localhost`,
    );
  }
  return { kind, url, ...named, headers };
}

/** The values of a target that must never be printed: its URL and header values. */
export function notificationTargetSecrets(target: NotificationTarget): string[] {
  return [target.url, ...(target.kind === 'webhook' ? Object.values(target.headers ?? {}) : [])];
}

/** How output names a target: its `name`, else its `kind`. */
export function targetLabel(target: NotificationTarget): string {
  return target.name ?? target.kind;
}

/** The host (and port) of a target's URL: the most of it that may be shown. */
export function targetHost(target: NotificationTarget): string {
  try {
    return new URL(target.url).host;
  } catch {
    return '?';
  }
}

function validateUrl(raw: unknown, key: string, carriesToken: boolean): string {
  if (raw === undefined || raw === null || raw === '') throw configError(`${key}: missing (expected an http(s) URL)`);
  if (typeof raw !== 'string') throw configError(`${key}: expected an http(s) URL, got ${describe(raw)}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw configError(`${key}: not a valid URL (expected http(s)://host/path)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError(`${key}: expected an http(s) URL, got a ${url.protocol.slice(0, 20)} URL`);
  }
  if (carriesToken && url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw configError(
      `${key}: must be https (the URL carries the webhook's token); http is allowed only for localhost`,
    );
  }
  return raw;
}

function validateHeaders(raw: unknown, key: string): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw configError(`${key}: expected a mapping of header names to values`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!HEADER_NAME.test(name)) throw configError(`${key}: ${describe(name)} is not a valid header name`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw configError(`${key}.${name}: set by rel itself; remove it`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw configError(`${key}.${name}: expected a string value`);
    }
    const text = String(value);
    // values are secrets: say what is wrong without showing them
    if (/[\r\n\0]/.test(text)) throw configError(`${key}.${name}: the value contains a line break or NUL`);
    headers[name] = text;
  }
  return headers;
}

function isOneOf<T extends string>(value: unknown, options: readonly T[]): value is T {
  return typeof value === 'string' && (options as readonly string[]).includes(value);
}

function configError(message: string): RelError {
  return new RelError('CONFIG', message);
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}..."` : text;
}
