import { type EventSink, ignoreEvents } from '@rel/core';
import { describe, secretsOf } from '../connection.js';
import type { CheckedOptions } from '../options.js';
import { newDatabaseName, oldDatabaseName, previousDatabaseName } from '../sql.js';

/** What a step reports while it runs (`runStep`'s progress reporter). */
export type Progress = (message: string, extra?: { current?: number; total?: number; unit?: string }) => void;

/** The databases one run deals with on the target's server. */
export interface DatabaseNames {
  /** The database the copy replaces. */
  target: string;
  /** `<target>__rel_new`: where the copy is built. */
  fresh: string;
  /** `<target>__rel_previous`: where the replaced database is kept. */
  previous: string;
  /** Where an older `previous` is set aside during the swap (then dropped). */
  old: string;
}

/** The fixed facts of one run, handed to every phase. Mutable state lives with the phase that owns it. */
export interface Run {
  readonly options: CheckedOptions;
  readonly onEvent: EventSink;
  /** Passwords, redacted from every message. */
  readonly secrets: readonly string[];
  /** Aborted when the caller's signal aborts: every phase stops. */
  readonly signal: AbortSignal;
  readonly names: DatabaseNames;
  /** `host:port/database` of the source and of the new database, for messages. */
  readonly sourceWhere: string;
  readonly newWhere: string;
  /** Date.now() at the start. */
  readonly started: number;
}

export function createRun(options: CheckedOptions, signal: AbortSignal): Run {
  const target = options.target.database;
  const fresh = newDatabaseName(target);
  return {
    options,
    onEvent: options.options.onEvent ?? ignoreEvents,
    secrets: secretsOf(options.source, options.target),
    signal,
    names: { target, fresh, previous: previousDatabaseName(target), old: oldDatabaseName(target) },
    sourceWhere: describe(options.source),
    newWhere: describe(options.target, fresh),
    started: Date.now(),
  };
}

/** The run's own abort controller, aborted with the caller's signal (now, if that is aborted already). */
export function followSignal(signal: AbortSignal | undefined): { controller: AbortController; detach: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  return { controller, detach: () => signal?.removeEventListener('abort', onAbort) };
}

export const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
export const rate = (bytes: number, ms: number) => `${mib((bytes * 1000) / Math.max(ms, 1))}/s`;
/** The last lines of a tool's stderr, on one line. */
export const lastLines = (text: string, count = 3) => text.trim().split('\n').slice(-count).join(' | ');
