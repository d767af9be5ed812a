// Loaded with `node --import`: fails any attempt to load a Docker, database or HTTP client library, or Node's
// network modules they stand on, to prove that `rel --help` stays light. The rel command is one script
// (dist-bin/rel.cjs): its bundled modules are not loaded by name, but they load Node's through require(), and so
// do the libraries it leaves outside (pg): every such require() is caught here.
import Module from 'node:module';

const FORBIDDEN = ['dockerode', 'docker-modem', 'pg', 'undici', 'nginx-conf', 'http', 'https', 'net', 'tls'];

const load = Module._load;
Module._load = function (request, ...rest) {
  const name = request.replace(/^node:/, '');
  if (FORBIDDEN.includes(name)) throw new Error(`forbidden module ${name}`);
  return load.call(this, request, ...rest);
};
