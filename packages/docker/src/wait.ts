// Waiting for a container to be ready. One strategy per file in `wait/` (testcontainers' `wait-strategies/`
// layout), each a function that returns a `WaitStrategy` (`wait/strategy.ts`: description, deadline, poll
// interval and the check one wait runs); `Wait` gathers them; `waitForReady` (`wait/wait-for-ready.ts`) runs one.
import { forAll } from './wait/all.js';
import { forCondition } from './wait/condition.js';
import { forHealthCheck } from './wait/health-check.js';
import { forHttp, type HttpWaitOptions } from './wait/http.js';
import { forLogMessage } from './wait/log.js';
import { forListeningPort } from './wait/port.js';
import { forPostgres, type PostgresWaitOptions } from './wait/postgres.js';
import type { ReadinessCheck, WaitStrategy } from './wait/strategy.js';

export type { HttpWaitOptions } from './wait/http.js';
export type { PostgresWaitOptions } from './wait/postgres.js';
export { type ReadinessCheck, type WaitContext, WaitStrategy } from './wait/strategy.js';
export { type WaitForReadyOptions, waitForReady } from './wait/wait-for-ready.js';

/** Readiness strategies, testcontainers style: `Wait.forHttp('/health', { port: 8080 }).withTimeout(30_000)`. */
export const Wait = {
  /** The container's health check (from its image or spec) reports `healthy`; `unhealthy` fails at once (UNHEALTHY). */
  forHealthCheck(): WaitStrategy {
    return forHealthCheck();
  },

  /** Something accepts TCP connections on the 127.0.0.1 host port published for `containerPort`. */
  forListeningPort(containerPort: number): WaitStrategy {
    return forListeningPort(containerPort);
  },

  /** `GET path` on the 127.0.0.1 host port published for `port` answers `status` (and contains `bodyIncludes`). */
  forHttp(path: string, options: HttpWaitOptions): WaitStrategy {
    return forHttp(path, options);
  },

  /**
   * The container's output (stdout or stderr) has `times` lines containing the text or matching the pattern.
   * Each attempt reads the whole output: meant for start-up messages, not for chatty long-running logs.
   */
  forLogMessage(message: string | RegExp, times = 1): WaitStrategy {
    return forLogMessage(message, times);
  },

  /** `pg_isready -h 127.0.0.1` inside the container exits 0. Needs `pg_isready` in the image. */
  forPostgres(options: PostgresWaitOptions): WaitStrategy {
    return forPostgres(options);
  },

  /** Every strategy is satisfied (each once is enough). Timeout: the longest of theirs, unless set. */
  forAll(strategies: WaitStrategy[]): WaitStrategy {
    return forAll(strategies);
  },

  /** Your own check (see `ReadinessCheck`), described for messages. */
  forCondition(description: string, check: ReadinessCheck): WaitStrategy {
    return forCondition(description, check);
  },
};
