import { RelError } from '@rel/core';

/** A value taken from the environment through `${VAR}`; kept so reporters can redact it. */
export interface Interpolation {
  value: string;
  /** The names of the variables used. */
  variables: string[];
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in a config string with values from `env`.
 * `$${...}` is a literal `${...}`. A missing variable without a default is a CONFIG error naming the key.
 */
export function interpolate(text: string, key: string, env: NodeJS.ProcessEnv): Interpolation {
  const variables: string[] = [];
  const value = text.replace(/(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, escaped, name, fallback) => {
    if (escaped) return whole.slice(1);
    variables.push(name);
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    throw new RelError('CONFIG', `${key}: environment variable ${name} is not set (referenced as \${${name}})`);
  });
  if (/\$\{(?![A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\})/.test(text.replace(REFERENCE, ''))) {
    // the text itself is not shown: it may be a secret with a stray `${` in it
    throw new RelError(
      'CONFIG',
      `${key}: malformed \${...} reference (expected \${NAME} or \${NAME:-default}; $\${ for a literal \${)`,
    );
  }
  return { value, variables };
}
