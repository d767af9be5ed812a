// Every request dockerode makes goes through docker-modem's `dial(options, callback)`. `guardTransport` wraps
// that one function, so that every call of every caller is bounded and can be interrupted, without callers
// passing anything: deadlines per kind of call (deadlines.ts), an interrupting AbortSignal, and a refusal to
// send registry credentials where they would travel in clear text.
import type { IncomingMessage } from 'node:http';
import { formatDuration, RelError } from '@rel/core';
import type Dockerode from 'dockerode';
import { boundsOf, type CallBounds, type DockerDeadlines } from './deadlines.js';

type Modem = Dockerode['modem'];
type DialOptions = Parameters<Modem['dial']>[0];
type DialCallback = (error: unknown, result?: unknown) => void;
type Dial = (options: DialOptions, callback: DialCallback) => void;
/** A stream a call hands over: a response being streamed, or a hijacked connection. */
type HandedStream = NodeJS.ReadableStream & { destroy(error?: Error): void };

export interface TransportGuard {
  /** The engine's address, for messages. */
  endpoint: string;
  deadlines: Readonly<Required<DockerDeadlines>>;
  /** Interrupts the calls in flight, and the streams open, when it aborts. */
  signal?: AbortSignal;
  /** Set when registry credentials must not be sent to this engine: why, as the error says it. */
  credentialsRefused?: string;
  /** A clear RelError for a connection failure this transport knows (TLS), else undefined. */
  explain?: (error: unknown) => RelError | undefined;
}

/** Wraps `modem.dial` (the modem of a dockerode instance this package built; never a caller's own). */
export function guardTransport(modem: Modem, guard: TransportGuard): void {
  const dial = modem.dial.bind(modem) as Dial;
  // dockerode always passes a callback: it reports errors of any kind (a RelError of ours too)
  modem.dial = (options, callback) =>
    guardedCall(dial, options, (callback ?? (() => undefined)) as DialCallback, guard);
}

function guardedCall(dial: Dial, options: DialOptions, callback: DialCallback, guard: TransportGuard): void {
  const bounds = boundsOf(options, guard.deadlines);
  if (guard.credentialsRefused !== undefined && (options.authconfig || options.registryconfig)) {
    process.nextTick(
      callback,
      new RelError('CONFIG', guard.credentialsRefused, { details: { endpoint: guard.endpoint } }),
    );
    return;
  }

  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  const release = () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  let answered = false;
  const answer = (error: unknown, result?: unknown) => {
    if (answered) return;
    answered = true;
    callback(error, result);
  };
  /** What the call handed over once it began: from then on a failure ends it, and the caller sees it there. */
  let stream: HandedStream | undefined;
  const fail = (error: RelError) => {
    if (stream) {
      // first, so that its reader sees this error (aborting the request dumps the response)
      stream.destroy(error);
    } else {
      release();
      answer(error);
    }
    controller.abort(error);
  };

  // The caller's own signal (pullImage's, a readiness wait's) still cancels the request as it did.
  const caller = options.abortSignal;
  if (caller?.aborted) controller.abort(caller.reason);
  else if (caller) {
    const forward = () => controller.abort(caller.reason);
    caller.addEventListener('abort', forward, { once: true });
    cleanups.push(() => caller.removeEventListener('abort', forward));
  }
  if (guard.signal) {
    const { signal } = guard;
    const interrupt = () => fail(interrupted(guard, bounds, stream !== undefined));
    signal.addEventListener('abort', interrupt, { once: true });
    cleanups.push(() => signal.removeEventListener('abort', interrupt));
  }
  const answerTimer = setTimeout(() => fail(timedOut(guard, bounds)), bounds.answerMs);
  cleanups.push(() => clearTimeout(answerTimer));

  // An open-ended answer that dockerode would collect whole (waiting for an exit) is asked for as a stream:
  // then only its start is bounded, and it is collected here.
  const collectHere = bounds.openAnswer && !options.isStream && !options.hijack;
  const request = { ...options, abortSignal: controller.signal, ...(collectHere ? { isStream: true } : {}) };
  try {
    dial(request, settle);
  } catch (error) {
    release();
    throw error;
  }

  function settle(error: unknown, result?: unknown): void {
    clearTimeout(answerTimer);
    if (answered) {
      // Failed already (deadline, interrupt): an answer that arrived at that very moment is dropped.
      (result as HandedStream | undefined)?.destroy?.();
      return;
    }
    if (error) {
      release();
      answer(guard.explain?.(error) ?? error);
      return;
    }
    if (collectHere) {
      stream = result as IncomingMessage;
      collect(result as IncomingMessage, (failure, value) => {
        release();
        answer(failure, value);
      });
      return;
    }
    if (!options.isStream && !options.hijack) {
      release();
      answer(null, result);
      return;
    }
    stream = result as HandedStream;
    if (bounds.idleMs !== undefined) {
      cleanups.push(watchSilence(result as IncomingMessage, bounds.idleMs, () => fail(stalled(guard, bounds))));
    }
    stream.once('close', release).once('end', release);
    answer(null, result);
  }
}

/**
 * Calls `onSilence` when the engine has sent nothing for `ms`. Measured on the connection: a reader that holds
 * the stream back (paused, not reading yet, data unread) is not the engine's silence.
 */
function watchSilence(response: IncomingMessage, ms: number, onSilence: () => void): () => void {
  const socket = response.socket;
  const timer = setTimeout(() => {
    if (response.readableFlowing !== true || response.readableLength > 0) timer.refresh();
    else onSilence();
  }, ms);
  const touch = () => timer.refresh();
  socket?.on('data', touch);
  return () => {
    clearTimeout(timer);
    socket?.off('data', touch);
  };
}

/** The whole body, parsed as docker-modem parses a plain answer (JSON, else the bytes). */
function collect(response: IncomingMessage, done: (error: unknown, value?: unknown) => void): void {
  const chunks: Buffer[] = [];
  response.on('data', (chunk: Buffer) => chunks.push(chunk));
  response.once('error', done);
  response.once('close', () => {
    if (!response.readableEnded) done(new Error('the connection closed before the answer was complete'));
  });
  response.once('end', () => {
    const body = Buffer.concat(chunks);
    try {
      done(null, JSON.parse(body.toString('utf8')));
    } catch {
      done(null, body);
    }
  });
}

function timedOut(guard: TransportGuard, bounds: CallBounds): RelError {
  const effect = bounds.changes ? ' (the engine may still carry it out)' : '';
  return new RelError(
    'TIMEOUT',
    `the Docker engine at ${guard.endpoint} did not answer ${bounds.what} within ${formatDuration(bounds.answerMs)}${effect}`,
    { details: { endpoint: guard.endpoint, request: bounds.what, timeoutMs: bounds.answerMs } },
  );
}

function stalled(guard: TransportGuard, bounds: CallBounds): RelError {
  const ms = bounds.idleMs ?? 0;
  return new RelError(
    'TIMEOUT',
    `the Docker engine at ${guard.endpoint} sent nothing for ${formatDuration(ms)} during ${bounds.what}; gave up`,
    { details: { endpoint: guard.endpoint, request: bounds.what, idleMs: ms } },
  );
}

function interrupted(guard: TransportGuard, bounds: CallBounds, begun: boolean): RelError {
  const left = bounds.changes ? 'the engine may still carry it out' : 'nothing was changed';
  const during = begun
    ? `during ${bounds.what} with the Docker engine at ${guard.endpoint}`
    : `while waiting for the Docker engine at ${guard.endpoint} to answer ${bounds.what}`;
  return new RelError('ABORTED', `interrupted ${during}; ${left}`, {
    details: { endpoint: guard.endpoint, request: bounds.what },
  });
}
