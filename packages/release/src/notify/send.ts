import { type EventSink, errorMessage, formatDuration, ignoreEvents, log, sleep } from '@rel/core';
import { type Dispatcher, request } from 'undici';
import { notificationPayload } from './payloads.js';
import {
  type Notification,
  type NotificationTarget,
  notificationTargetSecrets,
  targetHost,
  targetLabel,
} from './targets.js';

export interface SendNotificationsOptions {
  /** Receives an `info` per delivery, a `debug` per retry and a `warn` per failed target. Default: ignored. */
  onEvent?: EventSink;
  /** Deadline of one attempt, connection to response body. Default 5000 ms. */
  timeoutMs?: number;
  /** Further attempts after a network error, a timeout, 429 or 5xx. Default 2. */
  retries?: number;
  /** The undici dispatcher to send through. Default: undici's global dispatcher. */
  dispatcher?: Dispatcher;
  /** More values to keep out of results and events (the config's secrets). Each target's URL and header values always are. */
  secrets?: string[];
}

export interface NotificationResult {
  /** The target's `name`, else its `kind`. */
  target: string;
  ok: boolean;
  /** HTTP status of the last response, if there was one. */
  status?: number;
  attempts: number;
  /** Why it failed, one line, secrets removed. */
  error?: string;
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_RETRIES = 2;
const BACKOFF_MS = [200, 600, 1800];
const MAX_RETRY_AFTER_MS = 2000;
const REDACTED = '[redacted]';

/**
 * Posts a notification to every target at once. Never throws: a failed target is a result with `ok: false`
 * and a `warn` event, so a notification can never block (or fail) a rollback. Worst case per target:
 * `(retries + 1) × timeoutMs` plus about a second of backoff.
 */
export async function sendNotifications(
  targets: readonly NotificationTarget[],
  notification: Notification,
  options: SendNotificationsOptions = {},
): Promise<NotificationResult[]> {
  const sink = options.onEvent ?? ignoreEvents;
  // a throwing sink must not turn a delivery into an exception
  const onEvent: EventSink = (event) => {
    try {
      sink(event);
    } catch {}
  };
  return Promise.all(targets.map((target) => sendToTarget(target, notification, { ...options, onEvent })));
}

async function sendToTarget(
  target: NotificationTarget,
  notification: Notification,
  options: SendNotificationsOptions & { onEvent: EventSink },
): Promise<NotificationResult> {
  const { onEvent, timeoutMs = DEFAULT_TIMEOUT_MS, retries = DEFAULT_RETRIES, dispatcher } = options;
  const label = targetLabel(target);
  const where = `${label} (${targetHost(target)})`;
  const redact = redactor(target, options.secrets ?? []);
  const started = Date.now();
  let attempts = 0;
  let failure: AttemptFailure;
  try {
    const body = JSON.stringify(notificationPayload(target, notification));
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'rel',
      ...(target.kind === 'webhook' ? target.headers : {}),
    };
    for (;;) {
      attempts++;
      const outcome = await attempt(target.url, body, headers, timeoutMs, dispatcher);
      if (outcome.ok) {
        const durationMs = Date.now() - started;
        const after = attempts > 1 ? ` after ${attempts} attempts` : '';
        log(onEvent, 'info', `notified ${where} in ${formatDuration(durationMs)}${after}`);
        return { target: label, ok: true, status: outcome.status, attempts, durationMs };
      }
      failure = outcome;
      if (!outcome.retryable || attempts > retries) break;
      const delay =
        outcome.retryAfterMs === undefined
          ? BACKOFF_MS[Math.min(attempts, BACKOFF_MS.length) - 1]!
          : Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS);
      log(onEvent, 'debug', `notification to ${where}: ${redact(outcome.error)}; retrying in ${formatDuration(delay)}`);
      await sleep(delay);
    }
  } catch (error) {
    failure = { ok: false, retryable: false, error: errorMessage(error) };
  }
  const error = redact(failure.error);
  const durationMs = Date.now() - started;
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  log(onEvent, 'warn', `notification to ${where} failed after ${tries}: ${error}`);
  return {
    target: label,
    ok: false,
    ...(failure.status === undefined ? {} : { status: failure.status }),
    attempts,
    error,
    durationMs,
  };
}

type AttemptFailure = { ok: false; retryable: boolean; error: string; status?: number; retryAfterMs?: number };

async function attempt(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  dispatcher: Dispatcher | undefined,
): Promise<{ ok: true; status: number } | AttemptFailure> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await request(url, {
      method: 'POST',
      headers,
      body,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    const status = response.statusCode;
    if (status >= 200 && status < 300) {
      await response.body.dump();
      return { ok: true, status };
    }
    const text = await response.body.text().catch(() => '');
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    return {
      ok: false,
      status,
      retryable: status === 429 || status >= 500,
      error: `HTTP ${status}${snippet ? `: ${snippet}` : ''}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  } catch (error) {
    if (signal.aborted) return { ok: false, retryable: true, error: `no response within ${formatDuration(timeoutMs)}` };
    const code = (error as { code?: unknown }).code;
    const message = errorMessage(error).replace(/\s+/g, ' ');
    const text = typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
    // a request undici refuses to build fails the same way every time
    const retryable = !(typeof code === 'string' && code.startsWith('UND_ERR_INVALID'));
    return { ok: false, retryable, error: text };
  }
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now. */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Replaces every secret part of a target (its URL in any spelling, path segments, query values, credentials,
 * header values) and the given secrets in a message from undici or the receiver.
 */
export function redactor(target: NotificationTarget, secrets: readonly string[]): (text: string) => string {
  const words = new Set<string>();
  const add = (value: string | undefined) => {
    if (value !== undefined && value.length >= 4) words.add(value);
  };
  for (const secret of [...secrets, ...notificationTargetSecrets(target)]) add(secret);
  try {
    const url = new URL(target.url);
    add(url.href);
    add(url.pathname + url.search);
    add(url.pathname);
    add(url.search.slice(1));
    for (const part of [url.username, url.password, ...url.pathname.split('/'), ...url.searchParams.values()]) {
      add(part);
      add(safeDecode(part));
    }
  } catch {}
  // longest first, so a URL is replaced whole before its parts
  const ordered = [...words].sort((a, b) => b.length - a.length);
  return (text) => {
    let result = text;
    for (const word of ordered) result = result.split(word).join(REDACTED);
    return result;
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
