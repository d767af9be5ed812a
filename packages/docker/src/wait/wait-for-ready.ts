import {
  type EventSink,
  formatDuration,
  ignoreEvents,
  isRelError,
  pollUntil,
  RelError,
  runStep,
  sleep,
} from '@rel/core';
import type Dockerode from 'dockerode';
import { oneLine, shortId } from '../client.js';
import { tailLogs } from '../logs.js';
import { inspectContainer } from '../run.js';
import type { DockerClient } from '../types.js';
import type { WaitStrategy } from './strategy.js';

const LOG_LINES_ON_FAILURE = 10;

export interface WaitForReadyOptions {
  /** Stops waiting with RelError ABORTED. */
  signal?: AbortSignal;
  /** Progress events (step `wait`). */
  onEvent?: EventSink;
}

/**
 * Waits until a running container satisfies `strategy`. On timeout: RelError TIMEOUT saying what was
 * waited for, how long, the last reason it was not ready, and the container's last log lines. A container
 * that exits (or is restarted by its restart policy) while waited on fails at once: STEP_FAILED with its
 * exit code and last log lines. Returns how long it waited.
 */
export async function waitForReady(
  client: DockerClient,
  containerId: string,
  strategy: WaitStrategy,
  options: WaitForReadyOptions = {},
): Promise<{ durationMs: number }> {
  const first = await inspectContainer(client, containerId);
  if (!first) throw new RelError('NOT_FOUND', `container ${containerId} not found`);
  const name = first.Name.replace(/^\//, '');
  const waitingFor = `${strategy.description} (container ${name})`;
  return runStep(
    options.onEvent ?? ignoreEvents,
    'wait',
    `waiting for ${waitingFor}`,
    async () => {
      const started = Date.now();
      const check = strategy.start();
      const hostPorts = (info: Dockerode.ContainerInspectInfo) => (containerPort: number) => {
        const port = info.NetworkSettings?.Ports?.[`${containerPort}/tcp`]?.[0]?.HostPort;
        if (!port) {
          throw new RelError('CONFIG', `port ${containerPort} of container ${name} is not published on the host`);
        }
        return Number(port);
      };
      const exitedError = (how: string, exitCode: number) =>
        new RelError('STEP_FAILED', `container ${name} ${how} while waiting for ${strategy.description}`, {
          details: { container: name, exitCode },
        });
      // The engine tells us the moment the container exits, even while a check is stuck (a request to a
      // container that went away can hang until its own timeout); this stops the poll right then.
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) stop.abort();
      let exitCode: number | undefined;
      let restarted = false;
      const waitStartedSec = Math.floor(Date.now() / 1000) - 1;
      const exited = client.docker
        .getContainer(first.Id)
        .wait({ condition: 'next-exit', abortSignal: stop.signal })
        .then(({ StatusCode }: { StatusCode: number }) => {
          exitCode = StatusCode;
          stop.abort();
        })
        .catch(() => undefined);
      try {
        await pollUntil(
          async (signal) => {
            const info = await inspectContainer(client, first.Id);
            if (!info) {
              throw new RelError(
                'STEP_FAILED',
                `container ${name} was removed while waiting for ${strategy.description}`,
              );
            }
            const state = info.State;
            if (state.Status === 'exited' || state.Status === 'dead') {
              throw exitedError(
                state.OOMKilled ? 'was killed for lack of memory' : `exited with code ${state.ExitCode}`,
                state.ExitCode,
              );
            }
            if (info.RestartCount > first.RestartCount) {
              restarted = true;
              // While `restarting`, ExitCode is the last run's; once running again, it is 0.
              const how =
                state.Status === 'restarting'
                  ? `exited with code ${state.ExitCode}`
                  : 'exited and was restarted by its restart policy';
              throw exitedError(how, state.ExitCode);
            }
            if (state.Status !== 'running') return false;
            return check({
              client,
              containerId: first.Id,
              containerName: name,
              container: info,
              hostPort: hostPorts(info),
              signal,
            });
          },
          { timeoutMs: strategy.timeoutMs, intervalMs: strategy.pollIntervalMs, waitingFor, signal: stop.signal },
        );
      } catch (error) {
        let failure = error;
        // The engine's `die` events are its own word on every exit since we started waiting. Inspect is not (a
        // container its restart policy restarted shows exit code 0 again), nor is the `next-exit` wait for such a
        // container (it answers 0, and ends the poll at once by aborting it): once restarted, only a `die` event
        // gives the code, else the message says restarted without one.
        if (isRelError(error, 'STEP_FAILED') || exitCode !== undefined) {
          if (exitCode === undefined && !restarted) await Promise.race([exited, sleep(1000)]);
          const died = await lastDieExitCode(client, first.Id, waitStartedSec);
          const after = await inspectContainer(client, first.Id).catch(() => undefined);
          if (after && after.RestartCount > first.RestartCount) restarted = true;
          exitCode = died ?? (restarted ? undefined : exitCode);
          if (exitCode !== undefined) {
            failure = exitedError(
              after?.State.OOMKilled ? 'was killed for lack of memory' : `exited with code ${exitCode}`,
              exitCode,
            );
          } else if (restarted && !isRelError(error, 'STEP_FAILED')) {
            failure = exitedError('exited and was restarted by its restart policy', after?.State.ExitCode ?? -1);
          }
        }
        if (isRelError(failure, 'TIMEOUT') || isRelError(failure, 'STEP_FAILED') || isRelError(failure, 'UNHEALTHY')) {
          throw await withLogLines(client, first.Id, name, failure);
        }
        throw failure;
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
        stop.abort();
      }
      return { durationMs: Date.now() - started };
    },
    (result) => `${name}: ${strategy.description} after ${formatDuration(result.durationMs)}`,
  );
}

/** The same error, its message ending with the container's last log lines (also in `details.logs`). */
async function withLogLines(client: DockerClient, id: string, name: string, error: RelError): Promise<RelError> {
  const lines = await tailLogs(client, id, LOG_LINES_ON_FAILURE).catch(() => undefined);
  const shown = lines?.map((line) => oneLine(line).slice(0, 300)).filter(Boolean);
  const suffix =
    shown === undefined ? '' : shown.length ? `; last log lines: ${shown.join(' | ')}` : `; ${name} wrote no log lines`;
  return new RelError(error.code, `${error.message}${suffix}`, {
    cause: error.cause ?? error,
    details: { ...error.details, container: name, id: shortId(id), logs: lines ?? [] },
  });
}

/**
 * The exit code of the container's last `die` event since `sinceSec` (Unix seconds), from the engine's event log;
 * undefined when there is none. The log may lag the exit a moment: asked up to three times, 200 ms apart, each
 * answer awaited 2 s at most.
 */
async function lastDieExitCode(client: DockerClient, id: string, sinceSec: number): Promise<number | undefined> {
  for (let attempt = 1; ; attempt++) {
    const code = await dieExitCodeOnce(client, id, sinceSec);
    if (code !== undefined || attempt === 3) return code;
    await sleep(200);
  }
}

async function dieExitCodeOnce(client: DockerClient, id: string, sinceSec: number): Promise<number | undefined> {
  try {
    // `until` now, to the millisecond (the engine takes fractional seconds): the answer ends at once.
    const options = {
      since: sinceSec,
      until: (Date.now() / 1000).toFixed(3),
      filters: { container: [id], event: ['die'] },
      abortSignal: AbortSignal.timeout(2000),
    };
    const stream = await client.docker.getEvents(options as unknown as Dockerode.GetEventsOptions);
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    let code: number | undefined;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const event = JSON.parse(line) as { Actor?: { Attributes?: { exitCode?: string } } };
      const value = Number(event.Actor?.Attributes?.exitCode);
      if (Number.isInteger(value)) code = value;
    }
    return code;
  } catch {
    return undefined;
  }
}
