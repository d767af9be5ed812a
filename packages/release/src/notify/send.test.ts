import type { RelEvent } from '@rel/core';
import { type ReceiverHandler, startReceiver } from '@rel/test-utils';
import { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { sendNotifications } from './send.js';
import type { Notification, NotificationTarget } from './targets.js';

const notification: Notification = {
  severity: 'critical',
  title: 'Rolled back to blue',
  text: 'green failed its health checks 3 times in a row; blue serves traffic again.',
  project: 'shop',
  event: 'rollback',
  environment: 'blue',
  from: 'green',
  to: 'blue',
  at: '2025-11-08T10:00:00.000Z',
  fields: { Version: 'v20251108-001', 'Failed check': 'GET /health -> 503' },
};

// what a Slack webhook URL looks like: the path is the credential
const SECRET_PATH = '/services/T0SECRET1/B0SECRET2/xoxsecrettoken3';

const closers: Array<() => Promise<void>> = [];
const dispatcher = new Agent({ keepAliveTimeout: 100 });
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await dispatcher.close();
});

/** A receiver (@rel/test-utils) that records every request; answers 200 `ok` unless `handler` says otherwise. */
async function receiver(handler?: ReceiverHandler) {
  const { url: base, received: requests, close } = await startReceiver(handler);
  closers.push(close);
  return { base, requests, close };
}

function collect() {
  const events: RelEvent[] = [];
  return { events, onEvent: (event: RelEvent) => events.push(event) };
}

function warnings(events: RelEvent[]): string[] {
  return events.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => e.message);
}

describe('sendNotifications', () => {
  it('posts Slack, Teams (MessageCard and Adaptive Card) and webhook payloads to each target at once', async () => {
    const { base, requests } = await receiver();
    const targets: NotificationTarget[] = [
      { kind: 'slack', url: `${base}/slack${SECRET_PATH}` },
      { kind: 'teams', name: 'ops-teams', url: `${base}/teams/webhookb2/abc@def/IncomingWebhook/0123456789` },
      { kind: 'teams', name: 'ops-workflow', url: `${base}/workflow?sig=s3cr3tsig`, format: 'adaptivecard' },
      { kind: 'webhook', name: 'pager', url: `${base}/hook`, headers: { Authorization: 'Bearer hook-token-42' } },
    ];
    const { events, onEvent } = collect();
    const results = await sendNotifications(targets, notification, { onEvent, dispatcher });

    expect(results).toEqual([
      { target: 'slack', ok: true, status: 200, attempts: 1, durationMs: expect.any(Number) },
      { target: 'ops-teams', ok: true, status: 200, attempts: 1, durationMs: expect.any(Number) },
      { target: 'ops-workflow', ok: true, status: 200, attempts: 1, durationMs: expect.any(Number) },
      { target: 'pager', ok: true, status: 200, attempts: 1, durationMs: expect.any(Number) },
    ]);
    const byPath = (prefix: string) => requests.find((r) => r.path.startsWith(prefix))!;
    for (const r of requests) expect(r.headers['content-type']).toBe('application/json');

    const slack = byPath('/slack').body as { text: string; attachments: Array<Record<string, unknown>> };
    expect(byPath('/slack').path).toBe(`/slack${SECRET_PATH}`);
    expect(slack.text).toBe(`:rotating_light: *Rolled back to blue*\n${notification.text}`);
    expect(slack.attachments[0]).toMatchObject({ color: '#A30200', footer: 'rel · shop', ts: 1762596000 });
    expect(slack.attachments[0]!.fields).toContainEqual({ title: 'Traffic', value: 'green → blue', short: true });
    expect(slack.attachments[0]!.fields).toContainEqual({
      title: 'Failed check',
      value: 'GET /health -&gt; 503',
      short: true,
    });

    expect(byPath('/teams').body).toEqual({
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      themeColor: 'A30200',
      summary: 'Rolled back to blue',
      title: 'Rolled back to blue',
      text: notification.text,
      sections: [
        {
          facts: [
            { name: 'Project', value: 'shop' },
            { name: 'Event', value: 'rollback' },
            { name: 'Environment', value: 'blue' },
            { name: 'Traffic', value: 'green → blue' },
            { name: 'At', value: '2025-11-08T10:00:00.000Z' },
            { name: 'Version', value: 'v20251108-001' },
            { name: 'Failed check', value: 'GET /health -> 503' },
          ],
        },
      ],
    });

    const workflow = byPath('/workflow').body as {
      type: string;
      attachments: Array<{ contentType: string; content: { type: string; body: Array<Record<string, unknown>> } }>;
    };
    expect(workflow.type).toBe('message');
    expect(workflow.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(workflow.attachments[0]!.content.type).toBe('AdaptiveCard');
    expect(workflow.attachments[0]!.content.body[0]).toMatchObject({ text: 'Rolled back to blue', color: 'Attention' });

    expect(byPath('/hook').body).toEqual(notification);
    expect(byPath('/hook').headers.authorization).toBe('Bearer hook-token-42');

    const infos = events.filter((e) => e.type === 'log' && e.level === 'info').map((e) => e.message);
    expect(infos).toHaveLength(4);
    expect(infos.join('\n')).toContain('notified ops-teams (127.0.0.1:');
    expect(JSON.stringify(events)).not.toMatch(/SECRET|webhookb2|s3cr3t|hook-token/);
  });

  it('retries 5xx with backoff and succeeds on the third attempt', async () => {
    const { base, requests } = await receiver((_req, res, i) => {
      res.statusCode = i < 2 ? 500 : 200;
      res.end(i < 2 ? 'busy' : 'ok');
    });
    const { events, onEvent } = collect();
    const [result] = await sendNotifications([{ kind: 'slack', url: `${base}${SECRET_PATH}` }], notification, {
      onEvent,
      dispatcher,
    });
    expect(result).toMatchObject({ target: 'slack', ok: true, status: 200, attempts: 3 });
    expect(requests).toHaveLength(3);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(190);
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(590);
    const debug = events.filter((e) => e.type === 'log' && e.level === 'debug').map((e) => e.message);
    expect(debug).toEqual([
      expect.stringContaining('HTTP 500: busy; retrying in 200ms'),
      expect.stringContaining('HTTP 500: busy; retrying in 600ms'),
    ]);
    expect(warnings(events)).toEqual([]);
  });

  it('reports a receiver that is down, quickly, without throwing and without the URL', async () => {
    const { base, close } = await receiver();
    await close();
    const url = `${base}${SECRET_PATH}?token=querysecret99`;
    const { events, onEvent } = collect();
    const started = Date.now();
    const results = await sendNotifications([{ kind: 'slack', name: 'ops-slack', url }], notification, {
      onEvent,
      timeoutMs: 1000,
      secrets: ['hunter2-password'],
    });
    const elapsed = Date.now() - started;
    expect(results).toEqual([
      {
        target: 'ops-slack',
        ok: false,
        attempts: 3,
        error: expect.stringContaining('ECONNREFUSED'),
        durationMs: expect.any(Number),
      },
    ]);
    // bounded by timeout × attempts plus backoff; refused connections fail at once, so it is the backoff
    expect(elapsed).toBeLessThan(3 * 1000 + 1000);
    expect(elapsed).toBeGreaterThanOrEqual(790);
    expect(warnings(events)).toEqual([
      expect.stringMatching(/^notification to ops-slack \(127\.0\.0\.1:\d+\) failed after 3 attempts: /),
    ]);
    const output = JSON.stringify({ results, events });
    for (const secret of ['SECRET', 'xoxsecrettoken3', 'querysecret99', 'services/'])
      expect(output).not.toContain(secret);
  });

  it('gives up on a receiver slower than the timeout', async () => {
    const { base, requests } = await receiver((_req, res) => setTimeout(() => res.end('late'), 1500));
    const started = Date.now();
    const { events, onEvent } = collect();
    const [result] = await sendNotifications([{ kind: 'webhook', url: `${base}/slow` }], notification, {
      onEvent,
      dispatcher,
      timeoutMs: 300,
      retries: 1,
    });
    expect(result).toMatchObject({ target: 'webhook', ok: false, attempts: 2, error: 'no response within 300ms' });
    expect(result!.status).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1400);
    expect(requests).toHaveLength(2);
    expect(warnings(events)).toHaveLength(1);
  });

  it('honours Retry-After, up to 2 s', async () => {
    const { base, requests } = await receiver((_req, res, i) => {
      if (i === 0) res.writeHead(429, { 'retry-after': '1' }).end();
      else if (i === 1) res.writeHead(503, { 'retry-after': '60' }).end();
      else res.end('ok');
    });
    const [result] = await sendNotifications([{ kind: 'teams', url: `${base}/teams` }], notification, { dispatcher });
    expect(result).toMatchObject({ ok: true, attempts: 3 });
    const firstGap = requests[1]!.at - requests[0]!.at;
    const secondGap = requests[2]!.at - requests[1]!.at;
    expect(firstGap).toBeGreaterThanOrEqual(990);
    expect(firstGap).toBeLessThan(1500);
    expect(secondGap).toBeGreaterThanOrEqual(1990);
    expect(secondGap).toBeLessThan(2500);
  }, 10_000);

  it('does not retry a 4xx, and removes the URL from what the receiver said', async () => {
    const { base, requests } = await receiver((req, res) => {
      res.statusCode = 404;
      res.end(`no_service: unknown webhook ${req.url}\n(check ${base}${req.url})`);
    });
    const { events, onEvent } = collect();
    const [result] = await sendNotifications([{ kind: 'slack', url: `${base}${SECRET_PATH}` }], notification, {
      onEvent,
      dispatcher,
    });
    expect(requests).toHaveLength(1);
    expect(result).toMatchObject({
      ok: false,
      status: 404,
      attempts: 1,
      error: 'HTTP 404: no_service: unknown webhook [redacted] (check [redacted])',
    });
    expect(JSON.stringify(events)).not.toContain('SECRET');
  });

  it('never throws, even from a throwing event sink, and sends nothing for no targets', async () => {
    const { base } = await receiver((_req, res) => res.writeHead(500).end());
    const onEvent = () => {
      throw new Error('sink broke');
    };
    const results = await sendNotifications([{ kind: 'webhook', url: `${base}/x` }], notification, {
      onEvent,
      dispatcher,
      retries: 0,
    });
    expect(results[0]).toMatchObject({ ok: false, status: 500, attempts: 1 });
    expect(await sendNotifications([], notification)).toEqual([]);
  });
});
