import * as z from 'zod';
import { jsonSchemaOf, requiredInFile } from './fields.js';
import { describe, type Report } from './values.js';

// Mappings and lists of rel.config.yaml, for the schema (schema.ts). A section checks its keys (an unknown key is a
// problem naming the keys it may have) and reads every field even when some are wrong, or when the section itself
// is missing or not a mapping: one load reports every problem. `finish` turns what the file says into what the
// configuration holds (keys renamed, defaults that depend on other keys).

/** A problem as the schema reports it: its key comes from `path`, unless `whole` (the message names it). */
type Issue = z.core.$ZodRawIssue;

interface SectionOptions {
  description: string;
  /**
   * When the key is absent: `missing` is a problem (and its fields are read from an empty mapping, so each
   * required one is reported too), `empty` reads an empty mapping (the defaults), `omit` leaves the section out.
   */
  absent: 'missing' | 'empty' | 'omit';
  /** `monitor:` with nothing after it counts as absent (else: a problem, "missing"). */
  emptyIsAbsent?: boolean;
  /** Not a mapping: the section is left out of the result (a list item) rather than read as empty. */
  skipInvalid?: boolean;
  /** More of its JSON Schema: what `finish` checks (`maxProperties`, say). */
  json?: Record<string, unknown>;
}

/** Runs `schema` on `value`, keeping what it read even when there were problems. */
function read(schema: z.ZodType, value: unknown): { value: unknown; issues: Issue[] } {
  const payload = schema._zod.run({ value, issues: [] }, {}) as z.core.ParsePayload;
  return { value: payload.value, issues: payload.issues };
}

function custom(message: string, path: (string | number)[], input: unknown, whole = false): Issue {
  return { code: 'custom', message, path, input, params: { whole } };
}

type Shape = Record<string, z.ZodType>;

/** A section or list of the schema: reads any value, outputs `Out`. */
export interface ConfigSchema<Out> extends z.ZodType<Out, unknown> {}
type Parsed<S extends Shape> = z.output<z.ZodObject<S, z.core.$strict>>;

function build<S extends Shape, Out>(
  shape: S,
  options: SectionOptions,
  finish: (value: Parsed<S>, report: Report) => Out,
) {
  const inner = z.strictObject(shape);
  const known = Object.keys(shape).join(', ');
  const schema = z
    .unknown()
    .optional()
    .transform((raw, ctx): Out | undefined => {
      const absent = raw === undefined || (raw === null && options.emptyIsAbsent === true);
      if (absent && options.absent === 'omit') return undefined;
      let value = raw;
      if (absent && options.absent === 'empty') value = {};
      else if (raw === undefined || raw === null) {
        ctx.issues.push(custom('missing (expected a mapping)', [], raw));
        if (options.skipInvalid) return undefined;
        value = {};
      } else if (typeof raw !== 'object' || Array.isArray(raw)) {
        ctx.issues.push(custom(`expected a mapping, got ${describe(raw)}`, [], raw));
        if (options.skipInvalid) return undefined;
        value = {};
      }
      const result = read(inner, value);
      // its own unknown keys first, one problem each
      for (const issue of result.issues) {
        if (issue.code !== 'unrecognized_keys') continue;
        for (const key of issue.keys) ctx.issues.push(custom(`unknown key (expected one of ${known})`, [key], value));
      }
      ctx.issues.push(...result.issues.filter((issue) => issue.code !== 'unrecognized_keys'));
      return finish(result.value as Parsed<S>, (message, at = {}) => {
        ctx.issues.push(custom(message, at.path ?? [], value, at.whole));
      });
    });
  const required = Object.keys(shape).filter((key) => requiredInFile.has(shape[key]!));
  jsonSchemaOf.set(schema, (render) => {
    const { required: _byZod, ...json } = render(inner);
    return {
      description: options.description,
      ...json,
      ...(options.emptyIsAbsent ? { type: ['object', 'null'] } : {}),
      ...(required.length > 0 ? { required } : {}),
      ...options.json,
    };
  });
  if (options.absent === 'missing' && !options.skipInvalid) requiredInFile.add(schema);
  return schema;
}

type Finish<S extends Shape, Out> = (value: Parsed<S>, report: Report) => Out;
const same = <S extends Shape>(value: Parsed<S>) => value;

/** A mapping that must be there (`absent: 'missing'`) or is read as empty when absent. */
export function section<S extends Shape>(
  shape: S,
  options: SectionOptions & { absent: 'missing' | 'empty'; skipInvalid?: false },
): ConfigSchema<Parsed<S>>;
export function section<S extends Shape, Out>(
  shape: S,
  options: SectionOptions & { absent: 'missing' | 'empty'; skipInvalid?: false },
  finish: Finish<S, Out>,
): ConfigSchema<Out>;
export function section<S extends Shape, Out>(shape: S, options: SectionOptions, finish?: Finish<S, Out>): unknown {
  return build<S, unknown>(shape, options, finish ?? same);
}

/** A mapping that may be left out (undefined then), or a list item left out when it is not a mapping. */
export function optionalSection<S extends Shape>(
  shape: S,
  options: SectionOptions,
): z.ZodOptional<ConfigSchema<Parsed<S>>>;
export function optionalSection<S extends Shape, Out>(
  shape: S,
  options: SectionOptions,
  finish: Finish<S, Out>,
): z.ZodOptional<ConfigSchema<Out>>;
export function optionalSection<S extends Shape, Out>(
  shape: S,
  options: SectionOptions,
  finish?: Finish<S, Out>,
): unknown {
  return build<S, unknown>(shape, options, finish ?? same);
}

/**
 * A list of `item`; `expected` says what it holds (`a list of { name, command, timeout }`); `unique` names a key
 * no two items may share a value of.
 */
export function list<T>(
  item: z.ZodType<T | undefined, unknown>,
  options: { description: string; expected: string; unique?: keyof T & string },
) {
  const schema = z
    .unknown()
    .optional()
    .transform((raw, ctx): T[] => {
      if (raw === undefined || raw === null) return [];
      if (!Array.isArray(raw)) {
        ctx.issues.push(custom(`expected ${options.expected}, got ${describe(raw)}`, [], raw));
        return [];
      }
      const items: T[] = [];
      const seen = new Set<unknown>();
      raw.forEach((value, i) => {
        const result = read(item, value);
        for (const issue of result.issues) ctx.issues.push({ ...issue, path: [i, ...(issue.path ?? [])] });
        if (result.value === undefined) return;
        items.push(result.value as T);
        if (options.unique === undefined) return;
        const id = (result.value as T)[options.unique];
        if (seen.has(id)) ctx.issues.push(custom(`${JSON.stringify(id)} is used twice`, [i, options.unique], value));
        seen.add(id);
      });
      return items;
    });
  jsonSchemaOf.set(schema, (render) => ({ description: options.description, type: 'array', items: render(item) }));
  return schema as unknown as ConfigSchema<T[]>;
}
