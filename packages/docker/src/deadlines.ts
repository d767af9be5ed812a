import { RelError } from '@rel/core';

/**
 * How long each kind of Docker engine call may take. Every deadline counts from the moment the call is made,
 * so it bounds connecting (and the TLS handshake) as well as the engine's answer.
 */
export interface DockerDeadlines {
  /** `pingDocker` (`GET /_ping`): the whole answer. Default 5 s. */
  pingMs?: number;
  /**
   * Reads (inspect, list, one stats sample, logs without follow): the whole answer. Also the start of a call
   * that is open-ended by design (logs and stats followed, events, attach, exec, waiting for a container to
   * exit): once it has begun, only the caller ends it. Default 10 s.
   */
  readMs?: number;
  /**
   * Changes (create, start, kill, remove; networks, volumes; exec create): the whole answer. Stop and restart
   * get their grace period (`t`, default 10 s) on top. Default 30 s.
   */
  changeMs?: number;
  /**
   * Transfers (pull, push, build, image load and save, archives): the longest silence allowed before the
   * first progress message and between two of them. No bound on the total: a big pull takes its time as long
   * as it moves. Default 2 min.
   */
  progressMs?: number;
}

export const DEFAULT_DEADLINES: Readonly<Required<DockerDeadlines>> = Object.freeze({
  pingMs: 5_000,
  readMs: 10_000,
  changeMs: 30_000,
  progressMs: 120_000,
});

/** A Node timer waits at most this long; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The defaults with `deadlines` over them; BAD_INPUT for a value that is not a number of milliseconds. */
export function resolveDeadlines(deadlines: DockerDeadlines = {}): Readonly<Required<DockerDeadlines>> {
  const resolved = { ...DEFAULT_DEADLINES };
  for (const [name, value] of Object.entries(deadlines) as [keyof DockerDeadlines, number | undefined][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_DEADLINES)) throw new RelError('BAD_INPUT', `unknown Docker deadline ${name}`);
    if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
      throw new RelError('BAD_INPUT', `invalid Docker deadline ${name}: ${value} (milliseconds, 1 to ${MAX_TIMER_MS})`);
    }
    resolved[name] = value;
  }
  return resolved;
}

/** What a call may take, as `boundsOf` decides it from the request dockerode makes. */
export interface CallBounds {
  /** `GET /_ping`, `POST /containers/0123456789ab/start`: the request, without its query (which may carry values). */
  what: string;
  /** Until the answer is complete; for a stream or a hijacked connection, until it has begun. */
  answerMs: number;
  /** For a stream once it has begun: the longest silence allowed (transfers). Undefined: open-ended. */
  idleMs?: number;
  /** The call is open-ended once begun, though dockerode does not stream its answer (waiting for an exit). */
  openAnswer: boolean;
  /** The call changes something on the engine: cut short, it may still take effect. */
  changes: boolean;
}

/** The fields of docker-modem's `dial` options this package reads. */
export interface DialRequest {
  path: string;
  method?: string | undefined;
  /** The query (and for a POST the body), or `{ _query, _body }`. */
  options?: Record<string, unknown> | undefined;
  isStream?: boolean | undefined;
  hijack?: boolean | undefined;
  file?: unknown;
}

const TRANSFERS: [method: string, path: RegExp][] = [
  ['POST', /^\/images\/create$/], // pull, import
  ['POST', /^\/images\/.+\/push$/],
  ['POST', /^\/build$/],
  ['POST', /^\/images\/load$/],
  ['GET', /^\/images\/(.+\/)?get$/],
  ['*', /^\/containers\/[^/]+\/(archive|export)$/],
];

export function boundsOf(request: DialRequest, deadlines: Readonly<Required<DockerDeadlines>>): CallBounds {
  const method = (request.method ?? 'GET').toUpperCase();
  const path = request.path.split('?')[0]!.replace(/^\/v\d+\.\d+(?=\/)/, '');
  const query = (request.options?._query ?? request.options ?? {}) as Record<string, unknown>;
  const body = (request.options?._body ?? request.options ?? {}) as Record<string, unknown>;
  const what = `${method} ${path.replace(/\b([0-9a-f]{12})[0-9a-f]{52}\b/g, '$1')}`;
  const changes = method !== 'GET' && method !== 'HEAD';
  const bounds = (answerMs: number, more: Partial<CallBounds> = {}): CallBounds => ({
    what,
    answerMs,
    openAnswer: false,
    changes,
    ...more,
  });

  if (path === '/_ping') return bounds(deadlines.pingMs);
  if (request.file !== undefined || TRANSFERS.some(([m, p]) => (m === '*' || m === method) && p.test(path))) {
    return bounds(deadlines.progressMs, { idleMs: deadlines.progressMs });
  }
  const open =
    request.hijack === true ||
    (method === 'GET' && /^\/containers\/[^/]+\/logs$/.test(path) && Boolean(query.follow)) ||
    (method === 'GET' && /^\/containers\/[^/]+\/stats$/.test(path) && query.stream !== false) ||
    (method === 'GET' && path === '/events') ||
    (method === 'POST' && /^\/exec\/[^/]+\/start$/.test(path) && !body.Detach);
  if (open) return bounds(deadlines.readMs);
  if (method === 'POST' && /^\/containers\/[^/]+\/attach$/.test(path))
    return bounds(deadlines.readMs, { changes: false });
  if (method === 'POST' && /^\/containers\/[^/]+\/wait$/.test(path)) {
    return bounds(deadlines.readMs, { openAnswer: true, changes: false });
  }
  if (!changes) return bounds(deadlines.readMs);
  const grace = /^\/containers\/[^/]+\/(stop|restart)$/.test(path) ? graceSeconds(query.t) * 1000 : 0;
  return bounds(Math.min(deadlines.changeMs + grace, MAX_TIMER_MS));
}

/** The `t` of a stop or restart; the engine's default (the container's own stop timeout) is 10 s unless set. */
function graceSeconds(t: unknown): number {
  const seconds = Number(t);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : 10;
}
