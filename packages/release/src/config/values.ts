import { interpolate } from './interpolate.js';

// The file's values before the schema reads them: every string with its `${VAR}` references substituted, kept with
// the text as written (messages show that, never a substituted secret) and its key (secrets go by their key).

/** Keys whose values are secret by their name (a config value under such a key is never printed). */
export const SECRET_KEY = /pass|token|secret|key|connection|dsn|credential|auth|private|cookie|session/i;

/** A string of the file, `${VAR}` substituted. */
export class Text {
  /** Read by a field of the schema: only a value the configuration uses becomes a secret. */
  read = false;
  /** Never printed: its key says so (SECRET_KEY), or its field does. */
  secret: boolean;
  constructor(
    /** As written in the file. */
    readonly raw: string,
    /** Substituted; '' when `error`. */
    readonly value: string,
    /** Where: `backend.env.API_TOKEN`. */
    readonly key: string,
    /** A `${VAR}` that is not set or is malformed: the whole message, key first. */
    readonly error?: string,
  ) {
    this.secret = SECRET_KEY.test(key);
  }
}

/** The parsed YAML with every string replaced by a Text; `texts` collects them (for the secrets). */
export function substitute(raw: unknown, env: NodeJS.ProcessEnv, texts: Text[], key = ''): unknown {
  if (typeof raw === 'string') {
    let text: Text;
    try {
      text = new Text(raw, interpolate(raw, key, env).value, key);
    } catch (error) {
      // reported once, by the field that reads it; an empty value keeps dependent checks quiet
      text = new Text(raw, '', key, (error as Error).message);
    }
    texts.push(text);
    return text;
  }
  if (Array.isArray(raw)) return raw.map((item, i) => substitute(item, env, texts, `${key}[${i}]`));
  if (raw !== null && typeof raw === 'object') {
    return Object.fromEntries(
      Object.entries(raw).map(([name, value]) => [name, substitute(value, env, texts, key ? `${key}.${name}` : name)]),
    );
  }
  return raw;
}

/**
 * Reports a problem of the value being read: `message` follows its key (with `path` below it), unless `whole` (the
 * message names its key itself).
 */
export type Report = (message: string, at?: { whole?: boolean; path?: (string | number)[] }) => void;

/** A scalar as a string (numbers and booleans as YAML wrote them); reports anything else. */
export function scalar(raw: unknown, report: Report, options: { secret?: boolean } = {}): string | undefined {
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  if (typeof raw === 'string') return raw; // a default
  if (!(raw instanceof Text)) {
    report(`expected a string, got ${describe(raw)}`);
    return undefined;
  }
  raw.read = true;
  if (options.secret) raw.secret = true;
  if (raw.error !== undefined) {
    report(raw.error, { whole: true });
    return '';
  }
  return raw.value;
}

/** A nested value with its strings substituted (a notification target: its validator checks the rest). */
export function plain(raw: unknown, report: Report): unknown {
  if (raw instanceof Text) return scalar(raw, report);
  if (Array.isArray(raw)) return raw.map((item) => plain(item, report));
  if (raw !== null && typeof raw === 'object') {
    return Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, plain(value, report)]));
  }
  return raw;
}

/** A value as written, for a message: `"10 minutes"`, `99999`. */
export function shown(raw: unknown): string {
  return JSON.stringify(raw instanceof Text ? raw.raw : raw);
}

/** What a value is, for a message: `a list`, `string "x"`. */
export function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  if (raw instanceof Text) return `string ${JSON.stringify(raw.raw)}`;
  if (typeof raw === 'object') return 'a mapping';
  return `${typeof raw} ${JSON.stringify(raw)}`;
}

/** The values the configuration read that must never be printed. */
export function secretTexts(texts: readonly Pick<Text, 'read' | 'secret' | 'error' | 'value'>[]): string[] {
  return texts.filter((t) => t.read && t.secret && t.error === undefined).map((t) => t.value);
}
