import { parseDuration } from '@rel/core';
import * as z from 'zod';
import { parseShare, parseSize } from './units.js';
import { describe, type Report, scalar, shown, Text } from './values.js';

// The kinds of field rel.config.yaml is made of, for the schema (schema.ts): each reads a value of the file (its
// strings already `${VAR}`-substituted: values.ts), reports what is wrong in the words rel has always used (the key
// comes from where the field sits), and carries the JSON Schema an editor checks the same value with (it accepts a
// `${VAR}` string wherever the file may have one). Sections (mappings) and lists keep reading after a problem, so
// one load reports every problem of the file.

/** A JSON Schema fragment. */
export type JsonSchema = Record<string, unknown>;

/**
 * The JSON Schema of each field, section and list, used by json-schema.ts in place of what zod would derive (zod
 * sees a field as a transform of any value); `render` gives a nested schema's.
 */
export const jsonSchemaOf = new WeakMap<z.ZodType, (render: (schema: z.ZodType) => JsonSchema) => JsonSchema>();

/**
 * The fields and sections a file must have (JSON Schema `required`). To zod every one is optional: it runs on an
 * absent key too, and reports it in rel's words.
 */
export const requiredInFile = new WeakSet<z.ZodType>();

/** A string the loader substitutes (`${VAR}`) before checking it, in a JSON Schema pattern. */
const REFERENCE = '\\$\\{';
/** Any scalar: numbers and booleans are read as the text YAML wrote them. */
const SCALAR: JsonSchema = { type: ['string', 'number', 'boolean'] };
const orReference = (pattern: string) => ({ type: 'string', pattern: `${pattern}|${REFERENCE}` });

interface FieldOptions<T> {
  description: string;
  /** Used when the key is absent or empty (`key:`). */
  default?: T;
  /** Absent is a problem (reported by the field). */
  required?: boolean;
}

type Read<T> = (raw: unknown, report: Report) => T;

/** One value of the file: `read` gets it (undefined when absent or empty) and returns what the config holds. */
export function field<T>(read: Read<T>, json: JsonSchema, options: { description: string; required?: boolean }) {
  const schema = z
    .unknown()
    .optional()
    .transform((raw, ctx) =>
      read(raw ?? undefined, (message, at = {}) => {
        ctx.issues.push({
          code: 'custom',
          message,
          input: raw,
          path: at.path ?? [],
          params: { whole: at.whole === true },
        });
      }),
    );
  jsonSchemaOf.set(schema, () => ({ description: options.description, ...json }));
  if (options.required) requiredInFile.add(schema);
  return schema as unknown as z.ZodType<T, unknown>;
}

/** A field that may be left out: the configuration then has no such key. */
function optionalField<T>(read: Read<T | undefined>, json: JsonSchema, options: { description: string }) {
  return field(read, json, options) as unknown as z.ZodOptional<z.ZodType<T, unknown>>;
}

const defaulted = <T>(raw: unknown, fallback: T | undefined) => (raw === undefined ? fallback : raw);
const withDefault = (json: JsonSchema, value: unknown) => (value === undefined ? json : { ...json, default: value });

/** A string, optional. */
export function optionalText(options: { description: string; secret?: boolean }) {
  return optionalField(
    (raw, report) => (raw === undefined ? undefined : scalar(raw, report, options)),
    SCALAR,
    options,
  );
}

/** A string that must be set and not be empty. */
export function requiredText(options: { description: string; secret?: boolean }) {
  return field(
    (raw, report) => {
      if (raw === undefined) {
        report('missing (expected a string)');
        return '';
      }
      const value = scalar(raw, report, options) ?? '';
      if (value === '') report('must not be empty');
      return value;
    },
    SCALAR,
    { ...options, required: true },
  );
}

/** A string matching `pattern` (anchored), `expected` saying what that means. */
export function matching(pattern: RegExp, expected: string, options: FieldOptions<string>) {
  return field(
    (raw, report) => {
      const given = defaulted(raw, options.default);
      if (given === undefined) {
        report(`missing (expected ${expected})`);
        return '';
      }
      const value = scalar(given, report);
      if (value !== undefined && !pattern.test(value))
        report(`${JSON.stringify(value)} is not valid (expected ${expected})`);
      return value ?? '';
    },
    withDefault(orReference(pattern.source), options.default),
    { description: options.description, required: options.default === undefined && options.required !== false },
  );
}

/** Like `matching`, but absent is fine. */
export function optionalMatching(pattern: RegExp, expected: string, options: { description: string }) {
  return optionalField(
    (raw, report) => {
      if (raw === undefined) return undefined;
      const value = scalar(raw, report);
      if (value !== undefined && !pattern.test(value))
        report(`${JSON.stringify(value)} is not valid (expected ${expected})`);
      return value ?? '';
    },
    orReference(pattern.source),
    options,
  );
}

/** One of `values`: `expected` lists them as a message does (`auto, reload or socket`). */
export function oneOf<const V extends readonly [string, ...string[]]>(
  values: V,
  expected: string,
  options: FieldOptions<V[number]> & { default: V[number] },
) {
  return field(
    (raw, report): V[number] => {
      const value = scalar(defaulted(raw, options.default), report) ?? options.default;
      if (!values.includes(value)) report(`${JSON.stringify(value)} is not valid (expected ${expected})`);
      return value;
    },
    { anyOf: [{ enum: [...values] }, { type: 'string', pattern: REFERENCE }], default: options.default },
    options,
  );
}

/** A path under the web root: starts with `/`. */
export function urlPath(options: FieldOptions<string> & { default: string }) {
  return field(
    (raw, report) => {
      const value = scalar(defaulted(raw, options.default), report) ?? options.default;
      if (!value.startsWith('/')) report(`${JSON.stringify(value)} must start with /`);
      return value;
    },
    { ...orReference('^/'), default: options.default },
    options,
  );
}

/** A TCP port, 1-65535. */
export function port(options: FieldOptions<number>) {
  return field(
    (raw, report) => {
      const given = defaulted(raw, options.default);
      if (given === undefined) {
        report('missing (expected a port number 1-65535)');
        return 0;
      }
      const text = scalar(given, report);
      const n = Number(text);
      if (text === undefined || !/^\d+$/.test(text) || n < 1 || n > 65535) {
        report(`${shown(given)} is not a port (expected a number 1-65535)`);
        return 0;
      }
      return n;
    },
    withDefault({ anyOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, orReference('^\\d+$')] }, options.default),
    { description: options.description, required: options.default === undefined },
  );
}

/** A whole number from `min` (default 1) to `max`. */
export function count(options: FieldOptions<number> & { min?: number; max?: number }) {
  const { min = 1, max = Number.MAX_SAFE_INTEGER } = options;
  return field(
    (raw, report) => {
      const given = defaulted(raw, options.default);
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      if (given === undefined) {
        report(`missing (expected a whole number ${range})`);
        return min;
      }
      const text = scalar(given, report);
      const n = Number(text);
      if (text === undefined || !/^\d+$/.test(text) || n < min || n > max) {
        report(`${shown(given)} is not valid (expected a whole number ${range})`);
        return min;
      }
      return n;
    },
    withDefault(
      {
        anyOf: [
          { type: 'integer', minimum: min, ...(max === Number.MAX_SAFE_INTEGER ? {} : { maximum: max }) },
          orReference('^\\d+$'),
        ],
      },
      options.default,
    ),
    { description: options.description, required: options.default === undefined && options.required === true },
  );
}

const DURATION_JSON = {
  anyOf: [{ type: 'number', minimum: 0 }, orReference('^\\s*(\\d+(\\.\\d+)?|(\\d+(\\.\\d+)?(ms|s|m|h))+)\\s*$')],
};

function readDuration(raw: unknown, report: Report, allowZero: boolean): number {
  if (raw === undefined) {
    report('missing (expected a duration: 30s, 10m or seconds)');
    return 0;
  }
  const text = scalar(raw, report);
  if (text === undefined) return 0;
  try {
    return parseDuration(text, 'duration', { allowZero });
  } catch {
    report(`${JSON.stringify(text)} is not a duration (expected 30s, 10m or seconds)`);
    return 0;
  }
}

/** A duration in milliseconds, written `30s`, `10m`, `800ms` or seconds (`600`); 0 only when `allowZero`. */
export function duration(options: FieldOptions<string> & { allowZero?: boolean }) {
  return field(
    (raw, report) => readDuration(defaulted(raw, options.default), report, options.allowZero ?? false),
    withDefault(DURATION_JSON, options.default),
    { description: options.description, required: options.default === undefined && options.required !== false },
  );
}

/** A duration that may be left out: undefined then. */
export function optionalDuration(options: { description: string; allowZero?: boolean }) {
  return optionalField(
    (raw, report) => (raw === undefined ? undefined : readDuration(raw, report, options.allowZero ?? false)),
    DURATION_JSON,
    options,
  );
}

/** true or false. */
export function flag(options: FieldOptions<boolean> & { default: boolean }) {
  return field(
    (raw, report) => {
      const given = defaulted(raw, options.default);
      if (typeof given === 'boolean') return given;
      const text = given instanceof Text ? scalar(given, report) : undefined;
      if (text === 'true' || text === 'false') return text === 'true';
      report(`${shown(given)} is not valid (expected true or false)`);
      return false;
    },
    { anyOf: [{ type: 'boolean' }, orReference('^(true|false)$')], default: options.default },
    options,
  );
}

/** A memory size in bytes: `512MiB`, `800M`, `1GB`, bytes. */
export function size(options: { description: string }) {
  return positiveUnit(parseSize, 'size', options);
}

/** A share: `50%` or `0.5`. */
export function share(options: { description: string }) {
  return positiveUnit(parseShare, 'share', options);
}

/** A positive number written with its unit, read by `parse` (whose messages start with `<what>: `). */
function positiveUnit(parse: (text: string, what: string) => number, what: string, options: { description: string }) {
  return optionalField(
    (raw, report) => {
      if (raw === undefined) return undefined;
      try {
        return parse(scalar(raw, report) ?? '', what);
      } catch (error) {
        const message = (error as Error).message;
        report(message.startsWith(`${what}: `) ? message.slice(what.length + 2) : message);
        return 0;
      }
    },
    { anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { type: 'string' }] },
    options,
  );
}

/** A command: a program and its arguments as a list, never a shell string. */
export function command(options: { description: string }) {
  return field(readCommand, COMMAND_JSON, { ...options, required: true });
}

/** A command that may be left out. */
export function optionalCommand(options: { description: string }) {
  return optionalField(
    (raw, report) => (raw === undefined ? undefined : readCommand(raw, report)),
    COMMAND_JSON,
    options,
  );
}

const COMMAND_JSON = { type: 'array', minItems: 1, items: SCALAR };

function readCommand(raw: unknown, report: Report): string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    report(`expected a non-empty list of arguments (a command is never a shell string), got ${describe(raw)}`);
    return [];
  }
  return raw.map((arg, i) => scalar(arg, (message, at) => report(message, { ...at, path: [i] })) ?? '');
}
