// The shape every wait strategy shares: a description, a deadline and a poll interval, and a factory of the
// check one wait runs on each attempt (`ReadinessCheck`). Each strategy file builds one of these.
import { RelError } from '@rel/core';
import type Dockerode from 'dockerode';
import type { DockerClient } from '../types.js';

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_POLL_INTERVAL_MS = 50;

/** What a readiness check sees on each attempt. */
export interface WaitContext {
  client: DockerClient;
  containerId: string;
  /** The container's name, for messages. */
  containerName: string;
  /** The container as inspected just before this attempt (it is running). */
  container: Dockerode.ContainerInspectInfo;
  /** The 127.0.0.1 host port published for a container TCP port; RelError CONFIG if it is not published. */
  hostPort(containerPort: number): number;
  /** Aborted when the caller cancels the wait: pass it to anything that may take long. */
  signal: AbortSignal;
}

/**
 * One attempt: resolves `true` when ready. `false`, or a thrown plain Error (its message is kept for the
 * timeout message), means "not yet"; a thrown RelError (not TIMEOUT or UNREACHABLE) ends the wait at once.
 */
export type ReadinessCheck = (context: WaitContext) => Promise<boolean>;

/** A readiness condition as a value: what to check, how often, and for how long. Immutable. */
export class WaitStrategy {
  /** What is waited for, for messages: `HTTP 200 from GET /health on container port 8080`. */
  readonly description: string;
  /** Give up after this long. Default 60 s. */
  readonly timeoutMs: number;
  /** Pause between attempts. Default 50 ms. */
  readonly pollIntervalMs: number;
  /** Makes the check for one wait: checks that count (log messages) or remember (forAll) keep state here. */
  readonly #start: () => ReadinessCheck;

  constructor(
    description: string,
    start: () => ReadinessCheck,
    options: { timeoutMs?: number; pollIntervalMs?: number } = {},
  ) {
    this.description = description;
    this.#start = start;
    this.timeoutMs = positive(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeout');
    this.pollIntervalMs = positive(options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, 'poll interval');
  }

  /** The same strategy with another deadline. */
  withTimeout(ms: number): WaitStrategy {
    return new WaitStrategy(this.description, this.#start, { timeoutMs: ms, pollIntervalMs: this.pollIntervalMs });
  }

  /** The same strategy, checking every `ms`. */
  withPollInterval(ms: number): WaitStrategy {
    return new WaitStrategy(this.description, this.#start, { timeoutMs: this.timeoutMs, pollIntervalMs: ms });
  }

  /** A fresh check for one wait. */
  start(): ReadinessCheck {
    return this.#start();
  }
}

function positive(ms: number, what: string): number {
  if (!(Number.isFinite(ms) && ms > 0))
    throw new RelError('BAD_INPUT', `invalid wait ${what} ${ms}: expected milliseconds > 0`);
  return ms;
}
