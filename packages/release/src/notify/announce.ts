import { hostname } from 'node:os';
import { type EventSink, runStep } from '@rel/core';
import type { RelConfig } from '../config/schema.js';
import { type NotificationResult, sendNotifications } from './send.js';
import type { Notification } from './targets.js';

export type Announcement = Omit<Notification, 'project' | 'at'> & { at?: string };

/**
 * Sends a notification to the config's targets as a `notify` step (none configured: nothing happens). Never
 * throws: a failed target is a result with `ok: false` and a warning, so it never blocks what it announces.
 * The host is added to the facts.
 */
export async function announce(
  config: RelConfig,
  announcement: Announcement,
  onEvent: EventSink,
): Promise<NotificationResult[]> {
  const targets = config.notifications.targets;
  if (targets.length === 0) return [];
  const severity = announcement.severity === 'critical' ? 'critical ' : '';
  return runStep(onEvent, 'notify', `send ${severity}notifications (${targets.length})`, (_, inner) =>
    sendNotifications(
      targets,
      {
        ...announcement,
        project: config.project,
        at: announcement.at ?? new Date().toISOString(),
        fields: { host: hostname(), ...announcement.fields },
      },
      {
        onEvent: inner,
        timeoutMs: config.notifications.timeoutMs,
        retries: config.notifications.retries,
        secrets: config.secrets,
      },
    ),
  ).catch(() => [] as NotificationResult[]);
}
