// Loaded with `node --import`: fails any attempt to load a Docker, database or HTTP client library, or Node's
// network modules they stand on, to prove that `rel --help` stays light. The rel command is one script
// (dist-bin/rel.cjs) whose bundled modules load Node's through require(): those are caught here. Modules loaded
// as ES modules are caught by the loader hook below, by name or by their code.
import Module, { register } from 'node:module';

const FORBIDDEN = ['dockerode', 'docker-modem', 'pg', 'undici', 'nginx-conf'];
const FORBIDDEN_BUILTINS = ['http', 'https', 'net', 'tls'];

const load = Module._load;
Module._load = function (request, ...rest) {
  const name = request.replace(/^node:/, '');
  if (FORBIDDEN.includes(name) || FORBIDDEN_BUILTINS.includes(name)) throw new Error(`forbidden module ${name}`);
  return load.call(this, request, ...rest);
};

register(
  'data:text/javascript,' +
    encodeURIComponent(`
const FORBIDDEN = ${JSON.stringify(FORBIDDEN)};
export async function resolve(specifier, context, next) {
  if (FORBIDDEN.includes(specifier)) throw new Error('forbidden module ' + specifier);
  return next(specifier, context);
}
export async function load(url, context, next) {
  const result = await next(url, context);
  const source = result.source === undefined || result.source === null ? '' : String(result.source);
  if (source.includes('Docker.prototype.createContainer')) throw new Error('forbidden module dockerode (bundled in ' + url + ')');
  return result;
}`),
);
