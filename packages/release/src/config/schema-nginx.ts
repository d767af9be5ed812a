import {
  command,
  count,
  duration,
  matching,
  oneOf,
  optionalCommand,
  optionalDuration,
  optionalMatching,
  optionalText,
  requiredText,
  urlPath,
} from './fields.js';
import { publicUrl } from './maps.js';
import { optionalSection, section } from './sections.js';

// rel.config.yaml's nginx section, for the schema (schema.ts).

/** A Docker container name, as the engine accepts it. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const UPSTREAM = /^[A-Za-z0-9_.-]+$/;

const reload = section(
  {
    command: optionalCommand({ description: 'A command that reloads nginx (an argument list).' }),
    pidFile: optionalText({ description: "nginx's pid file: rel sends its master SIGHUP." }),
    container: optionalText({ description: 'The nginx container: rel sends it HUP through Docker.' }),
  },
  {
    description: 'How nginx is told about a changed config: exactly one of command, pidFile, container.',
    absent: 'missing',
    json: { minProperties: 1, maxProperties: 1 },
  },
  (
    given,
    report,
  ):
    | { kind: 'command'; command: string[] }
    | { kind: 'signal'; pidFile: string }
    | { kind: 'docker'; container: string } => {
    const kinds = (['command', 'pidFile', 'container'] as const).filter((k) => given[k] !== undefined);
    if (kinds.length !== 1) {
      report(`expected exactly one of command, pidFile, container (got ${kinds.length})`);
      return { kind: 'command', command: [] };
    }
    if (given.command !== undefined) return { kind: 'command', command: given.command };
    if (given.pidFile !== undefined) {
      if (given.pidFile === '') report('must not be empty', { path: ['pidFile'] });
      return { kind: 'signal', pidFile: given.pidFile };
    }
    const container = given.container ?? '';
    if (container === '') report('must not be empty', { path: ['container'] });
    else if (!CONTAINER_NAME.test(container)) {
      report(`${JSON.stringify(container)} is not a container name (expected letters, digits, _ . -)`, {
        path: ['container'],
      });
    }
    return { kind: 'docker', container };
  },
);

/** The section; `anchored` makes a path of the file absolute. */
export const nginx = (anchored: (path: string) => string) =>
  optionalSection(
    {
      config: requiredText({ description: 'The nginx config file holding the upstreams.' }),
      upstreams: section(
        {
          api: matching(UPSTREAM, 'an nginx upstream name', { description: "The API's upstream." }),
          client: optionalMatching(UPSTREAM, 'an nginx upstream name', { description: "The client's upstream." }),
        },
        { description: 'The upstream names to move.', absent: 'missing' },
      ),
      method: oneOf(['auto', 'reload', 'socket'], 'auto, reload or socket', {
        description:
          '`socket` flips rel-managed symlinks (no reload, no dropped request); `reload` rewrites the upstreams and reloads; `auto` picks socket when the config is laid out for it.',
        default: 'auto',
      }),
      socketDir: optionalText({ description: "The socket method's directory. Default rel-routes beside the file." }),
      test: command({ description: 'Tests a config, an argument list: nginx -t -p <prefix> -c <file>.' }),
      reload,
      publicUrl: publicUrl({ description: 'The public URL through nginx, http(s), without credentials.' }),
      verify: section(
        {
          path: urlPath({
            description: "Path under the public URL answered by the API's health check.",
            default: '/api/health',
          }),
          consecutive: count({ description: 'Consecutive good responses needed from the target.', default: 5 }),
          timeout: duration({ description: 'Deadline for them.', default: '10s' }),
          settle: optionalDuration({
            description: 'How long the good responses must keep coming. Default 500ms (reload method), 0 (socket).',
            allowZero: true,
          }),
        },
        { description: 'How a switch is verified through the public URL.', absent: 'empty' },
        ({ timeout, settle, ...rest }) => ({
          ...rest,
          timeoutMs: timeout,
          ...(settle === undefined ? {} : { settleMs: settle }),
        }),
      ),
      header: matching(/^[A-Za-z0-9-]+$/, 'an HTTP header name', {
        description: 'The response header naming the environment that answered.',
        default: 'X-Rel-Environment',
      }),
      keepBackups: count({ description: 'nginx config backups kept.', default: 10 }),
    },
    {
      description: 'The nginx in front; `switch`, `rollback`, `monitor` and `release` need it.',
      absent: 'omit',
    },
    ({ config, upstreams, socketDir = 'rel-routes', test, reload, ...rest }) => ({
      configFile: anchored(config),
      upstreams,
      ...rest,
      socketDir: anchored(socketDir),
      testCommand: test,
      reload: reload.kind === 'signal' ? { ...reload, pidFile: anchored(reload.pidFile) } : reload,
    }),
  );
