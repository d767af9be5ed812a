import { RelError } from '@rel/core';
import { adoConnectionString, pgpassFile } from './connection.js';

/** Where the bundle's password file goes in its container, by default: a new top-level directory, never a mount. */
export const BUNDLE_PASSFILE = '/rel-migrate/pgpass';

export interface BundleInvocationOptions {
  /** The database host as the bundle reaches it (from its container: the database container's name). */
  host: string;
  port: number;
  database: string;
  username: string;
  /** `''`: none (the server trusts the bundle), and no password file. */
  password: string;
  /** Pass `--verbose`. Default false. */
  verbose?: boolean;
  /** Absolute path of the password file in the bundle's container. Default `BUNDLE_PASSFILE`. */
  passfile?: string;
}

/** How to run an EF Core migration bundle without its password on any command line or in its configuration. */
export interface BundleInvocation {
  /**
   * The bundle's arguments: `--connection "Host=...;Port=...;Database=...;Username=..."` (Npgsql's syntax,
   * values quoted as ADO.NET requires) and `--verbose`. Without the password: they are public (`ps`,
   * `docker inspect`).
   */
  args: string[];
  /**
   * The bundle's environment: `PGPASSFILE`, the password file's path, where Npgsql looks for the password a
   * connection string does not hold (as libpq and node-postgres do). No secret.
   */
  env: Record<string, string>;
  /**
   * The password file: it holds the secret. Write it into the bundle's container after creating it and
   * before starting it (`runOneOffContainer`'s `files` in @rel/docker), readable by the container's user only.
   */
  files: { path: string; content: string; mode: number }[];
  /** What must never be shown of the bundle's output or errors. */
  secrets: string[];
}

/**
 * The command line, environment and password file of an EF Core bundle (`efbundle`) run against a database.
 * The bundle takes its connection only through `--connection`, and a process's arguments are public on the
 * host (`ps`) and in the container's configuration (`docker inspect`), as are its environment variables:
 * the password goes in neither. The connection string leaves it out, and Npgsql reads it from the file that
 * `PGPASSFILE` names (Npgsql's documented fallback: the `Passfile` keyword, then `PGPASSFILE`, then ~/.pgpass).
 */
export function bundleInvocation(options: BundleInvocationOptions): BundleInvocation {
  const { password, passfile = BUNDLE_PASSFILE } = options;
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new RelError('CONFIG', `invalid database port ${options.port} for the migration bundle`);
  }
  if (!passfile.startsWith('/')) {
    throw new RelError('BAD_INPUT', `the bundle's password file must be an absolute path, not ${passfile}`);
  }
  const connection = adoConnectionString([
    ['Host', options.host],
    ['Port', String(options.port)],
    ['Database', options.database],
    ['Username', options.username],
  ]);
  const args = ['--connection', connection, ...(options.verbose ? ['--verbose'] : [])];
  if (password === '') return { args, env: {}, files: [], secrets: [] };
  return {
    args,
    env: { PGPASSFILE: passfile },
    files: [{ path: passfile, content: pgpassFile(password), mode: 0o600 }],
    secrets: [password],
  };
}
