import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RelError } from '@rel/core';
import { parseDocument } from 'yaml';
import type * as z from 'zod';
import { crossKeyProblems } from './checks.js';
import { type RelConfig, relConfigSchema } from './schema.js';
import { substitute, type Text } from './values.js';

export { defaultStateDir } from './state-dir.js';

export const DEFAULT_CONFIG_FILE = 'rel.config.yaml';

export interface LoadConfigOptions {
  /** `--config`; else `$REL_CONFIG`; else `./rel.config.yaml`. */
  file?: string;
  /** Where `${VAR}` values come from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Base for a relative `file`. Default `process.cwd()`. */
  cwd?: string;
}

export function resolveConfigPath(options: LoadConfigOptions = {}): string {
  const env = options.env ?? process.env;
  const file = options.file ?? env.REL_CONFIG ?? DEFAULT_CONFIG_FILE;
  return resolve(options.cwd ?? process.cwd(), file);
}

/** Reads, interpolates and validates a config file. Throws one CONFIG error naming the key, the value and what was expected. */
export function loadConfig(options: LoadConfigOptions = {}): RelConfig {
  const file = resolveConfigPath(options);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new RelError('CONFIG', `config file ${file} ${why} (set --config or REL_CONFIG)`, { cause: error });
  }
  return parseConfig(text, file, options.env ?? process.env);
}

/** Validates config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): RelConfig {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    throw new RelError('CONFIG', `config file ${file} is not valid YAML${where}: ${first.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS();
  // ${REL_CONFIG_DIR} lets commands and paths in the file name places beside it
  const context = { file, env: { ...env, REL_CONFIG_DIR: dirname(file) }, texts: [] as Text[] };
  const values = substitute(raw, context.env, context.texts);
  // the schema reads every key even past a problem (fields.ts): the checks across keys see what it could read
  const payload = relConfigSchema(context)._zod.run(
    { value: values, issues: [] },
    {},
  ) as z.core.ParsePayload<RelConfig>;
  const config = payload.value;
  const problems = [...payload.issues.map(problemText), ...crossKeyProblems(config, raw)];
  if (problems.length > 0) {
    // every problem at once, on one line: a fix-and-rerun loop per problem wastes an operator's night
    const text = problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join('; ')}`;
    throw new RelError('CONFIG', `${file}: ${text}`, { details: { problems } });
  }
  return config;
}

/** `database.migrations.path: "x" is not valid (...)`: the key the schema found it at, then what is wrong. */
function problemText(issue: z.core.$ZodRawIssue): string {
  const params = (issue as { params?: { whole?: boolean } }).params;
  if (params?.whole) return issue.message ?? '';
  const key = (issue.path ?? [])
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
  return `${key || '(top level)'}: ${issue.message ?? issue.code}`;
}
