import { type NotificationTarget, validateNotificationTarget } from '../notify/targets.js';
import { field, type JsonSchema } from './fields.js';
import { describe, plain, scalar, Text } from './values.js';

// The fields of rel.config.yaml whose keys are the user's (environment variables, labels) or whose values are
// checked whole by their own validator (notification targets, the public URL), for the schema (schema.ts).

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const SCALAR: JsonSchema = { type: ['string', 'number', 'boolean'] };

function mapping(raw: unknown): Record<string, unknown> | string {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `expected a mapping, got ${describe(raw)}`;
  return raw as Record<string, unknown>;
}

/**
 * `backend.env`/`frontend.env`: `NAME: value` (secret when its name says so: SECRET_KEY), or
 * `NAME: { value, secret: true }` for a secret whatever its name (a connection string, say).
 */
export function envMap(options: { description: string }) {
  return field(
    (raw, report) => {
      const entries = mapping(raw);
      const env: Record<string, string> = {};
      if (typeof entries === 'string') {
        report(entries);
        return env;
      }
      for (const [name, value] of Object.entries(entries)) {
        if (!ENV_NAME.test(name)) report(`${JSON.stringify(name)} is not a valid variable name`);
        const at = (message: string, where: { whole?: boolean; path?: (string | number)[] } = {}) =>
          report(message, { ...where, path: [name, ...(where.path ?? [])] });
        let text: string | undefined;
        if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Text) {
          text = scalar(value, at);
        } else {
          const entry = value as Record<string, unknown>;
          for (const key of Object.keys(entry)) {
            if (key !== 'value' && key !== 'secret') {
              at('unknown key (expected one of value, secret)', { path: [key] });
            }
          }
          if (entry.secret !== undefined && typeof entry.secret !== 'boolean') {
            at(`expected true or false, got ${describe(entry.secret)}`, { path: ['secret'] });
          }
          text = scalar(entry.value, (message, where = {}) => at(message, { ...where, path: ['value'] }), {
            secret: entry.secret === true,
          });
        }
        if (text !== undefined) env[name] = text;
      }
      return env;
    },
    {
      type: 'object',
      propertyNames: { pattern: ENV_NAME.source },
      additionalProperties: {
        anyOf: [
          SCALAR,
          {
            type: 'object',
            properties: {
              value: { ...SCALAR, description: 'The value.' },
              secret: { type: 'boolean', description: 'Never printed, whatever its name.' },
            },
            required: ['value'],
            additionalProperties: false,
          },
        ],
      },
      default: {},
    },
    options,
  );
}

/** `labels`: extra labels on every container, network and volume; not `rel.project`/`rel.environment`. */
export function labels(options: { description: string }) {
  return field(
    (raw, report) => {
      const entries = mapping(raw);
      const result: Record<string, string> = {};
      if (typeof entries === 'string') {
        report(entries);
        return result;
      }
      for (const [name, value] of Object.entries(entries)) {
        if (!LABEL_NAME.test(name) || name.startsWith('rel.project') || name.startsWith('rel.environment')) {
          report('not a valid label name (lowercase letters, digits, . _ -; not rel.project/rel.environment)', {
            path: [name],
          });
        }
        const text = scalar(value, (message, where = {}) => report(message, { ...where, path: [name] }));
        if (text !== undefined) result[name] = text;
      }
      return result;
    },
    {
      type: 'object',
      propertyNames: { pattern: LABEL_NAME.source, not: { pattern: '^rel\\.(project|environment)' } },
      additionalProperties: SCALAR,
      default: {},
    },
    options,
  );
}

/** `notifications.targets`: each checked whole by validateNotificationTarget (its messages name the key). */
export function notificationTargets(options: { description: string }) {
  return field(
    (raw, report): NotificationTarget[] => {
      if (raw === undefined) return [];
      if (!Array.isArray(raw)) {
        report(`expected a list, got ${describe(raw)}`);
        return [];
      }
      const targets: NotificationTarget[] = [];
      raw.forEach((target, i) => {
        const key = `notifications.targets[${i}]`;
        try {
          targets.push(validateNotificationTarget(plain(target, report), key));
        } catch (error) {
          report((error as Error).message, { whole: true });
        }
      });
      return targets;
    },
    {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        required: ['kind', 'url'],
        properties: {
          kind: { enum: ['slack', 'teams', 'webhook'], description: 'Where it goes.' },
          url: { type: 'string', description: 'The webhook URL (a secret): https, http only for localhost.' },
          name: { type: 'string', description: 'Names it in output (else its kind).' },
          headers: {
            type: 'object',
            additionalProperties: SCALAR,
            description: 'A webhook: headers sent with each request (values are secrets).',
          },
          format: {
            enum: ['messagecard', 'adaptivecard'],
            description: 'Teams: messagecard (connector URLs, default) or adaptivecard (Workflows URLs).',
          },
        },
        additionalProperties: false,
      },
    },
    options,
  );
}

const HTTP_URL = /^https?:\/\/[^\s/@]+(\/\S*)?$/;
const CREDENTIALS = /^[a-z]+:\/\/[^/]*@/i;

/** `nginx.publicUrl`: an http(s) URL without credentials (never shown: the part before @ is a password). */
export function publicUrl(options: { description: string }) {
  return field(
    (raw, report) => {
      if (raw === undefined) {
        report('missing (expected an http(s) URL)');
        return '';
      }
      if (raw instanceof Text && (CREDENTIALS.test(raw.raw) || CREDENTIALS.test(raw.value))) {
        raw.read = true;
        report('carries user:password@ (the probes send no credentials; drop them)');
        return 'http://invalid';
      }
      const value = scalar(raw, report);
      if (value !== undefined && !HTTP_URL.test(value)) {
        report(`${JSON.stringify(value)} is not valid (expected an http(s) URL)`);
      }
      return (value ?? '').replace(/\/+$/, '');
    },
    { type: 'string', pattern: `${HTTP_URL.source}|\\$\\{`, not: { pattern: CREDENTIALS.source } },
    { ...options, required: true },
  );
}
