export {
  notificationFacts,
  notificationPayload,
  slackPayload,
  teamsAdaptiveCard,
  teamsMessageCard,
} from './payloads.js';
export type { NotificationResult, SendNotificationsOptions } from './send.js';
export { redactor, sendNotifications } from './send.js';
export type { Notification, NotificationSeverity, NotificationTarget } from './targets.js';
export {
  notificationTargetSecrets,
  targetHost,
  targetLabel,
  validateNotificationTarget,
} from './targets.js';
