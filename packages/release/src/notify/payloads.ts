import type { Notification, NotificationSeverity, NotificationTarget } from './targets.js';

const COLORS: Record<NotificationSeverity, string> = { info: '#2EB886', warning: '#DAA038', critical: '#A30200' };
const SLACK_ICONS: Record<NotificationSeverity, string> = {
  info: ':information_source:',
  warning: ':warning:',
  critical: ':rotating_light:',
};
const ADAPTIVE_COLORS: Record<NotificationSeverity, string> = {
  info: 'Good',
  warning: 'Warning',
  critical: 'Attention',
};

/** The JSON body a target expects for a notification. */
export function notificationPayload(target: NotificationTarget, notification: Notification): unknown {
  switch (target.kind) {
    case 'slack':
      return slackPayload(notification);
    case 'teams':
      return target.format === 'adaptivecard' ? teamsAdaptiveCard(notification) : teamsMessageCard(notification);
    case 'webhook':
      return notification;
  }
}

/** The facts every rendering shows, in order: project, event, environments, time, then `fields`. */
export function notificationFacts(notification: Notification): Array<[name: string, value: string]> {
  const { project, event, environment, from, to, at, fields = {} } = notification;
  const facts: Array<[string, string]> = [
    ['Project', project],
    ['Event', event],
  ];
  if (environment !== undefined) facts.push(['Environment', environment]);
  if (from !== undefined || to !== undefined) facts.push(['Traffic', `${from ?? '?'} → ${to ?? '?'}`]);
  facts.push(['At', at], ...Object.entries(fields));
  return facts;
}

/** Slack incoming webhook: `text` (also the push-notification fallback) plus one attachment coloured by severity. */
export function slackPayload(notification: Notification): unknown {
  const { severity, title, text, project, at } = notification;
  const seconds = Math.floor(Date.parse(at) / 1000);
  return {
    text: `${SLACK_ICONS[severity]} *${slackEscape(title)}*\n${slackEscape(text)}`,
    attachments: [
      {
        color: COLORS[severity],
        fallback: `${title}: ${text}`,
        fields: notificationFacts(notification).map(([name, value]) => ({
          title: name,
          value: slackEscape(value),
          short: value.length <= 40,
        })),
        footer: `rel · ${slackEscape(project)}`,
        ...(Number.isNaN(seconds) ? {} : { ts: seconds }),
      },
    ],
  };
}

/** Microsoft Teams, classic connector format (Office 365 "Incoming Webhook"): a MessageCard. */
export function teamsMessageCard(notification: Notification): unknown {
  const { severity, title, text } = notification;
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    themeColor: COLORS[severity].slice(1),
    summary: title,
    title,
    text,
    sections: [{ facts: notificationFacts(notification).map(([name, value]) => ({ name, value })) }],
  };
}

/** Microsoft Teams Workflows webhook: a message carrying one Adaptive Card (schema 1.4). */
export function teamsAdaptiveCard(notification: Notification): unknown {
  const { severity, title, text } = notification;
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body: [
            {
              type: 'TextBlock',
              text: title,
              weight: 'Bolder',
              size: 'Medium',
              color: ADAPTIVE_COLORS[severity],
              wrap: true,
            },
            { type: 'TextBlock', text, wrap: true },
            {
              type: 'FactSet',
              facts: notificationFacts(notification).map(([name, value]) => ({ title: name, value })),
            },
          ],
        },
      },
    ],
  };
}

// Slack's mrkdwn treats these three as control characters
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
