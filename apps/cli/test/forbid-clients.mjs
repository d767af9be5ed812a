// Loaded with `node --import`: fails any attempt to load a Docker, database or HTTP client library, by
// name or bundled into a chunk (dockerode is bundled into the CLI), to prove that `rel --help` stays light.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
const FORBIDDEN = ['dockerode', 'docker-modem', 'pg', 'undici', 'nginx-conf'];
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
