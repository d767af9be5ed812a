// biome-ignore-all lint/suspicious/noUndeclaredEnvVars: a helper of scripts/sandbox, not of a turbo task
// HTTP helper of scripts/sandbox (Node's fetch; curl and jq are not installed everywhere).
//
//   node registry.mjs http-status URL            prints the HTTP status of GET URL (000: no answer)
//   node registry.mjs label REPO TAG KEY         prints label KEY of REPO:TAG in the registry ('' when the tag
//                                                or the label is absent); exit 2 on any other answer
//   node registry.mjs tags REPO                  prints the tags of REPO, one a line
//
// The registry is REL_SANDBOX_REGISTRY (127.0.0.1:5000); credentials come from REL_SANDBOX_REGISTRY_USER and
// the file REL_SANDBOX_REGISTRY_PASSWORD_FILE, never from arguments, and are never printed.
import { readFileSync } from 'node:fs';

const registry = process.env.REL_SANDBOX_REGISTRY || '127.0.0.1:5000';
const TIMEOUT_MS = 10_000;

function authHeader() {
  const user = process.env.REL_SANDBOX_REGISTRY_USER || 'rel';
  const file = process.env.REL_SANDBOX_REGISTRY_PASSWORD_FILE;
  if (!file) throw new Error('REL_SANDBOX_REGISTRY_PASSWORD_FILE is not set');
  const password = readFileSync(file, 'utf8').trim();
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function get(path, accept) {
  const headers = { Authorization: authHeader() };
  if (accept) headers.Accept = accept;
  return fetch(`http://${registry}${path}`, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

async function label(repo, tag, key) {
  const manifestResponse = await get(`/v2/${repo}/manifests/${encodeURIComponent(tag)}`, MANIFEST_TYPES);
  if (manifestResponse.status === 404) return '';
  if (!manifestResponse.ok) throw new Error(`manifest of ${repo}:${tag}: HTTP ${manifestResponse.status}`);
  const manifest = await manifestResponse.json();
  const digest = manifest?.config?.digest;
  if (typeof digest !== 'string') throw new Error(`manifest of ${repo}:${tag} has no config digest`);
  const configResponse = await get(`/v2/${repo}/blobs/${digest}`);
  if (configResponse.status === 404) return '';
  if (!configResponse.ok) throw new Error(`config of ${repo}:${tag}: HTTP ${configResponse.status}`);
  const config = await configResponse.json();
  return config?.config?.Labels?.[key] ?? '';
}

async function tags(repo) {
  const response = await get(`/v2/${repo}/tags/list`);
  if (response.status === 404) return [];
  if (!response.ok) throw new Error(`tags of ${repo}: HTTP ${response.status}`);
  const body = await response.json();
  return Array.isArray(body?.tags) ? body.tags.sort() : [];
}

async function httpStatus(url) {
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.arrayBuffer().catch(() => undefined);
    return String(response.status);
  } catch {
    return '000';
  }
}

async function main(argv) {
  const [command, ...args] = argv;
  switch (command) {
    case 'http-status':
      if (args.length !== 1) break;
      return httpStatus(args[0]);
    case 'label':
      if (args.length !== 3) break;
      return label(args[0], args[1], args[2]);
    case 'tags':
      if (args.length !== 1) break;
      return (await tags(args[0])).join('\n');
    default:
      break;
  }
  throw new Error('usage: registry.mjs http-status URL | label REPO TAG KEY | tags REPO');
}

main(process.argv.slice(2)).then(
  (output) => {
    if (output) process.stdout.write(`${output}\n`);
  },
  (err) => {
    const cause = err?.cause?.code ? ` (${err.cause.code})` : '';
    process.stderr.write(`registry.mjs: ${err?.message || err}${cause}\n`);
    process.exit(2);
  },
);
