import { RelError } from '@rel/core';

/**
 * A URL safe to print: credentials and query string replaced by `***`, fragment dropped.
 * `https://user:pw@host/health?token=x` -> `https://***@host/health?***`. Unparsable input gives `<invalid URL>`.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return '<invalid URL>';
  }
  const auth = parsed.username || parsed.password ? '***@' : '';
  const query = parsed.search ? '?***' : '';
  return `${parsed.protocol}//${auth}${parsed.host}${parsed.pathname}${query}`;
}

/** Parses an http: or https: URL; anything else is BAD_INPUT naming the (redacted) value. */
export function parseHttpUrl(what: string, url: unknown): URL {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' || url instanceof URL ? new URL(String(url)) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    const shown = typeof url === 'string' || url instanceof URL ? JSON.stringify(redactUrl(url)) : String(url);
    throw new RelError('BAD_INPUT', `invalid ${what} ${shown}: expected an http: or https: URL`);
  }
  return parsed;
}

/** Replaces every secret part of `url` (credentials, query values) found in `text`. */
export function scrubUrlSecrets(text: string, url: URL): string {
  const secrets = [url.href, url.search, url.username, url.password, ...url.searchParams.values()]
    .filter((secret) => secret.length >= 3)
    .sort((a, b) => b.length - a.length);
  let scrubbed = text;
  for (const secret of secrets) {
    scrubbed = scrubbed.split(secret).join(secret === url.href ? redactUrl(url) : '***');
  }
  return scrubbed;
}
