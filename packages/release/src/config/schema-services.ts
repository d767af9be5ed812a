import type { Environment } from '@rel/core';
import { count, duration, matching, oneOf, optionalText, port, requiredText, urlPath } from './fields.js';
import { envMap } from './maps.js';
import { section } from './sections.js';

// rel.config.yaml's environments, database and containers, for the schema (schema.ts).

const SQL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MIGRATIONS_PATH = /^\/[\w./-]*$/;
const MIGRATIONS_DEFAULT_PATH = {
  'sql-folder': '/app/migrations',
  'idempotent-script': '/app/migrations.sql',
  bundle: '/app/efbundle',
} as const;

export const ports = (env: Environment) =>
  section(
    {
      apiPort: port({ description: 'Host port of the API container, published on 127.0.0.1.' }),
      clientPort: port({ description: 'Host port of the client container, published on 127.0.0.1.' }),
      dbPort: port({ description: 'Host port of the database container, published on 127.0.0.1.' }),
    },
    { description: `The ${env} environment's ports: all six of both environments distinct.`, absent: 'missing' },
  );

const health = (defaultTimeout: string) =>
  section(
    {
      path: urlPath({ description: 'HTTP path answered with 200 when healthy.', default: '/health' }),
      timeout: duration({ description: 'How long a deploy waits for it.', default: defaultTimeout }),
    },
    { description: 'The health check of the container.', absent: 'empty' },
    ({ path, timeout }) => ({ path, timeoutMs: timeout }),
  );

const serviceFields = (defaultTimeout: string) => ({
  port: port({ description: 'Port the container listens on.', default: 8080 }),
  health: health(defaultTimeout),
  env: envMap({
    description:
      'Extra environment for the container: `NAME: value`, or `NAME: { value, secret: true }` for a secret whatever its name.',
  }),
});

export const backend = section(
  {
    ...serviceFields('60s'),
    dbCheckPath: optionalText({
      description: "An API path that reads the database, checked after migrations. Default: the health check's path.",
    }),
  },
  { description: 'The API container.', absent: 'empty' },
  ({ dbCheckPath, ...service }, report) => {
    const path = dbCheckPath ?? service.health.path;
    if (!path.startsWith('/')) report(`${JSON.stringify(path)} must start with /`, { path: ['dbCheckPath'] });
    return { ...service, dbCheckPath: path };
  },
);

export const frontend = section(serviceFields('30s'), { description: 'The client container.', absent: 'empty' });

export const database = section(
  {
    name: matching(SQL_NAME, 'a lowercase SQL identifier', { description: 'The database each API uses.' }),
    user: matching(SQL_NAME, 'a lowercase SQL identifier', { description: 'Its user.' }),
    password: requiredText({ description: 'Its password (use ${VAR}).', secret: true }),
    port: port({ description: 'Port PostgreSQL listens on inside its container.', default: 5432 }),
    readyTimeout: duration({ description: 'How long to wait for PostgreSQL to accept connections.', default: '60s' }),
    migrations: section(
      {
        kind: oneOf(['sql-folder', 'idempotent-script', 'bundle'], 'sql-folder, idempotent-script or bundle', {
          description: 'How the API image ships its Entity Framework Core migrations.',
          default: 'sql-folder',
        }),
        path: optionalText({
          description:
            'Where in the API image (absolute). Default /app/migrations, /app/migrations.sql (idempotent-script) or /app/efbundle (bundle).',
        }),
      },
      { description: 'The migrations in the API image.', absent: 'empty' },
      ({ kind, path = MIGRATIONS_DEFAULT_PATH[kind] ?? '' }, report) => {
        if (!MIGRATIONS_PATH.test(path)) {
          report(`${JSON.stringify(path)} is not valid (expected an absolute path in the API image)`, {
            path: ['path'],
          });
        }
        return { kind, path };
      },
    ),
    keepBackups: count({ description: 'Backups kept per environment.', default: 10 }),
    lockWait: duration({ description: "How long a migration waits for another run's lock.", default: '60s' }),
    lockTimeout: duration({ description: 'PostgreSQL lock_timeout of migration statements.', default: '5s' }),
    statementTimeout: duration({
      description: 'PostgreSQL statement_timeout of migration statements; 0: none.',
      default: '0',
      allowZero: true,
    }),
  },
  { description: 'The PostgreSQL database of each environment.', absent: 'missing' },
  ({ readyTimeout, lockWait, lockTimeout, statementTimeout, ...rest }) => ({
    ...rest,
    readyTimeoutMs: readyTimeout,
    lockWaitMs: lockWait,
    lockTimeoutMs: lockTimeout,
    statementTimeoutMs: statementTimeout,
  }),
);
