import { RelError } from '@rel/core';
import { describe, expect, it } from 'vitest';
import { notificationTargetSecrets, targetHost, targetLabel, validateNotificationTarget } from './targets.js';

const SLACK = 'https://hooks.slack.com/services/T0SECRET1/B0SECRET2/xoxsecrettoken3';
const KEY = 'notifications.targets[0]';

function problem(raw: unknown): string {
  try {
    validateNotificationTarget(raw, KEY);
  } catch (error) {
    expect(error).toBeInstanceOf(RelError);
    expect((error as RelError).code).toBe('CONFIG');
    const message = (error as RelError).message;
    expect(message).not.toContain('\n');
    expect(message).not.toMatch(/SECRET|secret|token=|hunter2/);
    return message;
  }
  throw new Error('expected a CONFIG error');
}

describe('validateNotificationTarget', () => {
  it('accepts each kind and keeps only what was given', () => {
    expect(validateNotificationTarget({ kind: 'slack', url: SLACK }, KEY)).toEqual({ kind: 'slack', url: SLACK });
    expect(
      validateNotificationTarget(
        { kind: 'teams', name: 'ops teams', url: 'https://x.webhook.office.com/webhookb2/a', format: 'adaptivecard' },
        KEY,
      ),
    ).toEqual({
      kind: 'teams',
      name: 'ops teams',
      url: 'https://x.webhook.office.com/webhookb2/a',
      format: 'adaptivecard',
    });
    expect(
      validateNotificationTarget(
        { kind: 'webhook', url: 'https://alerts.internal/rel', headers: { Authorization: 'Bearer x', 'X-Retries': 3 } },
        KEY,
      ),
    ).toEqual({
      kind: 'webhook',
      url: 'https://alerts.internal/rel',
      headers: { Authorization: 'Bearer x', 'X-Retries': '3' },
    });
    // plain http to loopback is fine for Slack and Teams (local receivers, tests)
    expect(validateNotificationTarget({ kind: 'slack', url: 'http://127.0.0.1:9/services/a' }, KEY).kind).toBe('slack');
  });

  it('names the key and what was expected, never the URL path, query or a header value', () => {
    expect(problem('https://hooks.slack.com/x')).toBe(`${KEY}: expected a mapping with kind and url, got a string`);
    expect(problem({ kind: 'email', url: SLACK })).toBe(
      `${KEY}.kind: expected one of slack, teams, webhook, got "email"`,
    );
    expect(problem({ kind: 'slack' })).toBe(`${KEY}.url: missing (expected an http(s) URL)`);
    expect(problem({ kind: 'slack', url: 'hooks.slack.com/services/T0SECRET1' })).toBe(
      `${KEY}.url: not a valid URL (expected http(s)://host/path)`,
    );
    expect(problem({ kind: 'webhook', url: 'ftp://files.example.com/SECRET?token=hunter2' })).toBe(
      `${KEY}.url: expected an http(s) URL, got a ftp: URL`,
    );
    expect(problem({ kind: 'slack', url: 'http://hooks.slack.com/services/T0SECRET1' })).toBe(
      `${KEY}.url: must be https (the URL carries the webhook's token); http is allowed only for localhost`,
    );
    // a credential in a header over plain http: only to loopback
    expect(
      problem({ kind: 'webhook', url: 'http://alerts.internal/rel', headers: { Authorization: 'Bearer SECRET' } }),
    ).toBe(`${KEY}.url: must be https (header Authorization carries a credential); http is allowed only for localhost`);
    expect(
      validateNotificationTarget({ kind: 'webhook', url: 'http://127.0.0.1:9/rel', headers: { 'X-Api-Key': 'k' } }, KEY)
        .kind,
    ).toBe('webhook');
    expect(problem({ kind: 'slack', url: SLACK, headers: { A: 'b' } })).toBe(
      `${KEY}.headers: unknown key for a slack target (expected one of kind, url, name)`,
    );
    expect(problem({ kind: 'teams', url: SLACK, format: 'card' })).toBe(
      `${KEY}.format: expected one of messagecard, adaptivecard, got "card"`,
    );
    expect(problem({ kind: 'slack', url: SLACK, name: 'a/b' })).toMatch(/^notifications\.targets\[0\]\.name: expected/);
    expect(problem({ kind: 'webhook', url: SLACK, headers: { 'Bad Name': 'x' } })).toBe(
      `${KEY}.headers: "Bad Name" is not a valid header name`,
    );
    expect(problem({ kind: 'webhook', url: SLACK, headers: { Host: 'x' } })).toBe(
      `${KEY}.headers.Host: set by rel itself; remove it`,
    );
    expect(problem({ kind: 'webhook', url: SLACK, headers: { Authorization: 'Bearer hunter2\r\nX: y' } })).toBe(
      `${KEY}.headers.Authorization: the value contains a line break or NUL`,
    );
  });
});

describe('target naming', () => {
  it('names a target by name or kind and shows at most the host', () => {
    expect(targetLabel({ kind: 'slack', url: SLACK })).toBe('slack');
    expect(targetLabel({ kind: 'slack', url: SLACK, name: 'ops' })).toBe('ops');
    expect(targetHost({ kind: 'slack', url: SLACK })).toBe('hooks.slack.com');
    expect(notificationTargetSecrets({ kind: 'webhook', url: SLACK, headers: { Authorization: 'Bearer x' } })).toEqual([
      SLACK,
      'Bearer x',
    ]);
  });
});
