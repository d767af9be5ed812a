// vitest globalSetup of the integration project: the integration tests run against the real sandbox
// (`npm run sandbox`, scripts/sandbox). Fail at once, with one clear message, when a part of it is down.
import { execFile } from 'node:child_process';
import { SANDBOX_REGISTRY_URL as REGISTRY_URL, SANDBOX_NGINX_URL } from '@rel/test-utils';

const NGINX_URL = `${SANDBOX_NGINX_URL}/`;
const TIMEOUT_MS = 15_000;

/** undefined when the Docker engine answers, otherwise what is wrong. */
function checkDocker(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      ['info', '--format', '{{.ServerVersion}}'],
      { timeout: TIMEOUT_MS, windowsHide: true },
      (error, stdout, stderr) => {
        if (!error && stdout.trim() !== '') {
          resolve(undefined);
          return;
        }
        const reason = (stderr || error?.message || 'no answer').trim().split('\n').pop();
        resolve(`the Docker engine (docker info: ${reason})`);
      },
    );
  });
}

async function httpStatus(url: string): Promise<number | string> {
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.arrayBuffer().catch(() => undefined);
    return response.status;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } })?.cause?.code;
    return cause ?? (error instanceof Error ? error.message : String(error));
  }
}

async function checkRegistry(): Promise<string | undefined> {
  const status = await httpStatus(REGISTRY_URL);
  if (status === 401) return undefined;
  if (typeof status === 'number') {
    return `the registry (${REGISTRY_URL} answers ${status}, expected 401: authentication required)`;
  }
  return `the registry (${REGISTRY_URL}: ${status})`;
}

async function checkNginx(): Promise<string | undefined> {
  const status = await httpStatus(NGINX_URL);
  // Any HTTP answer will do: 502 only means that no environment runs behind it yet.
  return typeof status === 'number' ? undefined : `nginx (${NGINX_URL}: ${status})`;
}

export default async function sandboxSetup(): Promise<void> {
  const missing = (await Promise.all([checkDocker(), checkRegistry(), checkNginx()])).filter(
    (problem): problem is string => problem !== undefined,
  );
  if (missing.length > 0) {
    throw new Error(`sandbox is not running: run \`npm run sandbox\` (not answering: ${missing.join('; ')})`);
  }
}
