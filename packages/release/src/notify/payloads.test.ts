import { describe, expect, it } from 'vitest';
import { notificationFacts, notificationPayload, slackPayload } from './payloads.js';
import type { Notification } from './targets.js';

const base: Notification = {
  severity: 'info',
  title: 'Switched to green',
  text: 'green serves traffic.',
  project: 'shop',
  event: 'switch',
  at: '2025-11-08T10:00:00.000Z',
};

describe('notification payloads', () => {
  it('lists only the facts that are known, fields last', () => {
    expect(notificationFacts(base)).toEqual([
      ['Project', 'shop'],
      ['Event', 'switch'],
      ['At', '2025-11-08T10:00:00.000Z'],
    ]);
    expect(notificationFacts({ ...base, to: 'green', fields: { Version: 'v2' } })).toEqual([
      ['Project', 'shop'],
      ['Event', 'switch'],
      ['Traffic', '? → green'],
      ['At', '2025-11-08T10:00:00.000Z'],
      ['Version', 'v2'],
    ]);
  });

  it("escapes Slack's control characters and colours by severity", () => {
    const payload = slackPayload({ ...base, severity: 'warning', title: 'a <b> & c', text: '<!channel>' }) as {
      text: string;
      attachments: Array<{ color: string; fallback: string }>;
    };
    expect(payload.text).toBe(':warning: *a &lt;b&gt; &amp; c*\n&lt;!channel&gt;');
    expect(payload.attachments[0]).toMatchObject({ color: '#DAA038', fallback: 'a <b> & c: <!channel>' });
  });

  it('sends the notification itself to a generic webhook, and a MessageCard to Teams by default', () => {
    expect(notificationPayload({ kind: 'webhook', url: 'http://127.0.0.1/' }, base)).toBe(base);
    expect(notificationPayload({ kind: 'teams', url: 'http://127.0.0.1/' }, base)).toMatchObject({
      '@type': 'MessageCard',
      themeColor: '2EB886',
    });
  });
});
