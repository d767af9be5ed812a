import { type EventSink, ignoreEvents, RelError, runStep } from '@rel/core';
import { readDockerConfigAuth } from './auth.js';
import { engineError, isConnectionError, oneLine, shortId, unreachable } from './client.js';
import { formatImageRef, normalizeRegistry, parseImageRef, repositoryName } from './image-ref.js';
import type { DockerClient, RegistryAuth } from './types.js';

export interface PullImageOptions {
  /**
   * Credentials for the image's registry. Default: what `docker login` stored in `config.json` for that
   * registry (see `readDockerConfigAuth`), else none. `false`: pull anonymously.
   */
  auth?: RegistryAuth | false;
  /** Where `config.json` is, when `auth` is not given. Default `$DOCKER_CONFIG`, else `~/.docker`. */
  configDir?: string;
  /** Progress events (step `pull`): layers done of total, then bytes downloaded of total. */
  onEvent?: EventSink;
  /** Stops the pull with RelError ABORTED. */
  signal?: AbortSignal;
}

export interface PullImageResult {
  /** The reference as Docker names the pulled image: `127.0.0.1:5000/rel-sample/api:v1`, `nginx:latest`. */
  ref: string;
  /** The image id (`sha256:...`). */
  id: string;
}

interface PullMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

const LAYER_STATUSES = new Set([
  'Pulling fs layer',
  'Waiting',
  'Downloading',
  'Verifying Checksum',
  'Download complete',
  'Extracting',
  'Pull complete',
  'Already exists',
]);
const BYTES_EVERY_MS = 250;

/**
 * Pulls an image, reporting progress. Failures are RelErrors: an unknown repository or tag is NOT_FOUND,
 * refused or missing credentials AUTH (naming the registry and user, never the password), an engine or
 * registry that cannot be reached UNREACHABLE, anything else STEP_FAILED.
 */
export async function pullImage(
  client: DockerClient,
  ref: string,
  options: PullImageOptions = {},
): Promise<PullImageResult> {
  const image = parseImageRef(ref);
  const name = formatImageRef(image);
  const auth =
    options.auth === undefined
      ? await readDockerConfigAuth(image.registry, { configDir: options.configDir })
      : options.auth || undefined;
  if (auth && normalizeRegistry(auth.serveraddress) !== image.registry) {
    // The engine would send them to the image's registry: refuse rather than leak them elsewhere.
    throw new RelError(
      'BAD_INPUT',
      `credentials are for registry ${auth.serveraddress} but ${name} is pulled from ${image.registry}`,
    );
  }
  const { signal } = options;
  return runStep(
    options.onEvent ?? ignoreEvents,
    'pull',
    `pulling ${name}`,
    async (progress) => {
      if (signal?.aborted) throw aborted(name);
      let stream: NodeJS.ReadableStream;
      try {
        const authconfig = auth && {
          username: auth.username,
          password: auth.password,
          serveraddress: auth.serveraddress,
        };
        stream = await client.docker.createImage(authconfig, {
          fromImage: repositoryName(image),
          tag: image.tag,
          ...(signal ? { abortSignal: signal } : {}),
        });
      } catch (error) {
        if (signal?.aborted) throw aborted(name);
        if (isConnectionError(error)) throw unreachable(client, error);
        throw pullFailure(messageOf(error), { registry: image.registry, name, auth }, error);
      }
      const failure = await followPull(stream, progress, signal);
      if (signal?.aborted) throw aborted(name);
      if (failure !== undefined) throw pullFailure(failure, { registry: image.registry, name, auth });
      try {
        const info = await client.docker.getImage(name).inspect();
        return { ref: name, id: info.Id };
      } catch (error) {
        throw engineError(client, error, `inspecting the pulled image ${name}`);
      }
    },
    (result) => `pulled ${result.ref} (${shortId(result.id)})`,
  );
}

/** Reads the engine's JSON progress lines; resolves with the error the stream reported, if any. */
function followPull(
  stream: NodeJS.ReadableStream,
  progress: (message: string, extra?: { current?: number; total?: number; unit?: string }) => void,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const layers = new Map<string, { done: boolean; current: number; total: number }>();
  let failure: string | undefined;
  let lastBytesEvent = 0;

  const layerEvent = () => {
    const all = [...layers.values()];
    const done = all.filter((layer) => layer.done).length;
    progress(`${done}/${all.length} layers`, { current: done, total: all.length, unit: 'layers' });
  };
  const bytesEvent = () => {
    const all = [...layers.values()];
    const current = all.reduce((sum, layer) => sum + layer.current, 0);
    const total = all.reduce((sum, layer) => sum + layer.total, 0);
    progress(`downloaded ${formatBytes(current)} of ${formatBytes(total)}`, { current, total, unit: 'bytes' });
  };
  const handle = (line: string) => {
    let message: PullMessage;
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (message.error !== undefined || message.errorDetail?.message !== undefined) {
      failure ??= message.errorDetail?.message ?? message.error;
      return;
    }
    const { status, id } = message;
    if (!status) return;
    if (!id || !LAYER_STATUSES.has(status)) {
      if (status.startsWith('Status: ')) progress(status.slice('Status: '.length));
      return;
    }
    let layer = layers.get(id);
    const isNew = layer === undefined;
    layer ??= { done: false, current: 0, total: 0 };
    layers.set(id, layer);
    if (status === 'Downloading') {
      layer.current = message.progressDetail?.current ?? layer.current;
      layer.total = message.progressDetail?.total ?? layer.total;
      const now = Date.now();
      if (now - lastBytesEvent >= BYTES_EVERY_MS) {
        lastBytesEvent = now;
        bytesEvent();
      }
    } else if (status === 'Download complete') {
      layer.current = layer.total;
    }
    const done = status === 'Pull complete' || status === 'Already exists';
    if (done && !layer.done) {
      layer.done = true;
      layerEvent();
    } else if (isNew) {
      layerEvent();
    }
  };

  return new Promise((resolve, reject) => {
    let buffer = '';
    const onAbort = () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      resolve(undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        handle(buffer.slice(0, newline).trim());
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
      }
    });
    stream.on('end', () => {
      signal?.removeEventListener('abort', onAbort);
      if (buffer.trim()) handle(buffer.trim());
      resolve(failure);
    });
    stream.on('error', (error: Error) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) resolve(undefined);
      else reject(new RelError('STEP_FAILED', `pull stream broke: ${error.message}`, { cause: error }));
    });
  });
}

/** Maps the engine's or the registry's words to a RelError; robust to how distribution phrases them. */
export function pullFailure(
  raw: string,
  context: { registry: string; name: string; auth: RegistryAuth | undefined },
  cause?: unknown,
): RelError {
  const { registry, name, auth } = context;
  const message = scrub(raw, auth);
  const text = message.toLowerCase();
  const options = { cause: cause === undefined ? new Error(message) : cause, details: { image: name, registry } };
  if (text.includes('pull access denied') && !auth) {
    return new RelError('AUTH', `registry ${registry} denied anonymous access to ${name}: ${message}`, options);
  }
  if (/manifest unknown|name unknown|not found|repository does not exist|pull access denied/.test(text)) {
    return new RelError('NOT_FOUND', `image ${name} not found in registry ${registry}`, options);
  }
  if (
    /no basic auth credentials|unauthorized|authentication required|incorrect username or password|denied/.test(text)
  ) {
    return auth
      ? new RelError('AUTH', `registry ${registry} refused the credentials for user ${auth.username}`, options)
      : new RelError(
          'AUTH',
          `registry ${registry} requires credentials to pull ${name} and none were given ` +
            `(run docker login ${registry}, or pass auth)`,
          options,
        );
  }
  if (
    /connection refused|no such host|dial tcp|i\/o timeout|network is unreachable|connection reset|tls:|http response to https client/.test(
      text,
    )
  ) {
    return new RelError('UNREACHABLE', `cannot reach registry ${registry}: ${message}`, options);
  }
  return new RelError('STEP_FAILED', `pulling ${name} failed: ${message}`, options);
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return oneLine(message.replace(/^\(HTTP code \d+\) [^-]*- /, ''));
}

/** Registries do not echo passwords, but the message is ours to keep clean whatever they say. */
function scrub(text: string, auth: RegistryAuth | undefined): string {
  const line = oneLine(text);
  return auth?.password ? line.split(auth.password).join('***') : line;
}

function aborted(name: string): RelError {
  return new RelError('ABORTED', `pull of ${name} was cancelled`);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
