// Loaded with `node --import`: fails any attempt to load a Docker, database or HTTP client library,
// to prove that `rel --help` and `rel --version` stay light.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
const FORBIDDEN = ['dockerode', 'docker-modem', 'pg', 'undici', 'nginx-conf'];
export async function resolve(specifier, context, next) {
  if (FORBIDDEN.includes(specifier)) throw new Error('forbidden module ' + specifier);
  return next(specifier, context);
}`),
);
