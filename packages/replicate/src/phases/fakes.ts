// Test helpers (no test of their own): a run built from real options, and a pg.Client that answers from a function.
import type { RelEvent } from '@rel/core';
import type pg from 'pg';
import type { SourceTable } from '../catalog.js';
import { checkOptions } from '../options.js';
import type { ReplicateOptions } from '../types.js';
import { createRun, type Run } from './context.js';
import { type Connect, Sessions } from './pools.js';

export const PASSWORD = 's3cret-pw';

/** A run of `app` on 127.0.0.1:5433 into `app` on 127.0.0.1:5434, both with PASSWORD; its events in `events`. */
export function fakeRun(
  options: Partial<ReplicateOptions> = {},
  controller = new AbortController(),
): Run & { events: RelEvent[]; controller: AbortController } {
  const events: RelEvent[] = [];
  const checked = checkOptions({
    source: { host: '127.0.0.1', port: 5433, user: 'app', password: PASSWORD, database: 'app' },
    target: { host: '127.0.0.1', port: 5434, user: 'app', password: PASSWORD, database: 'app' },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return Object.assign(createRun(checked, controller.signal), { events, controller });
}

/** The messages of the run's `log` events, as `level: message`. */
export function logs(events: RelEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'log' ? [`${event.level}: ${event.message}`] : []));
}

type Answer = (sql: string, params: unknown[]) => unknown;

/** A pg.Client stand-in: records every query, answers with `answer` (its return value, or `{ rows: [] }`). */
export class FakeClient {
  readonly queries: string[] = [];
  readonly params: unknown[][] = [];
  ended = false;

  constructor(
    public answer: Answer = () => undefined,
    readonly name = 'client',
  ) {}

  async query(sql: string, params: unknown[] = []): Promise<unknown> {
    if (this.ended) throw new Error('Client was closed and is not queryable');
    this.queries.push(sql);
    this.params.push(params);
    return (await this.answer(sql, params)) ?? { rows: [] };
  }

  async end(): Promise<void> {
    this.ended = true;
  }

  get client(): pg.Client {
    return this as unknown as pg.Client;
  }
}

/** Sessions whose connections are FakeClients named after their database, all kept in `opened`. */
export function fakeSessions(run: Run, answer?: (database: string) => Answer) {
  const opened: FakeClient[] = [];
  const connect: Connect = async (settings, options = {}) => {
    const database = options.database ?? settings.database;
    const client = new FakeClient(answer?.(database), `${database}#${opened.length}`);
    opened.push(client);
    return client.client;
  };
  return { sessions: new Sessions(run, connect), opened };
}

export function fakeTable(dumpName: string, bytes = 0, extra: Partial<SourceTable> = {}): SourceTable {
  const [schema, name] = dumpName.split('.');
  return {
    qualified: `"${schema}"."${name}"`,
    dumpName,
    columns: ['"id"'],
    binary: true,
    hashes: ['hashint4extended'],
    bytes,
    pages: Math.max(1, Math.ceil(bytes / 8192)),
    ...extra,
  };
}

export const fake = <T>(value: FakeClient): T => value as unknown as T;
