import type pg from 'pg';
import type { SourceTable } from '../catalog.js';
import { runPool, type TableChecksum, tableChecksum } from '../copy.js';
import type { Run } from './context.js';
import { guard, throwIfAborted } from './errors.js';
import type { Sessions } from './pools.js';

/**
 * Row counts and checksums of the tables, by quoted name: of the source at the snapshot, and of the copy. Each
 * is taken as soon as a table is copied, while its pages are cached (post-data does not change rows: indexes,
 * constraints, triggers, rules, policies, comments, materialized views), or, for the copy, after beforeSwap.
 */
export class Checksums {
  readonly source = new Map<string, TableChecksum>();
  readonly copy = new Map<string, TableChecksum>();
  /** The source's computations under way: their failures are reported by `sourceDone` (verify). */
  private readonly pending: Promise<void>[] = [];

  constructor(
    private readonly run: Run,
    private readonly checksum: typeof tableChecksum = tableChecksum,
  ) {}

  /** Checksums one table on a source session (at the snapshot). Never rejects: see `sourceDone`. */
  onSource(client: pg.Client, table: SourceTable): Promise<void> {
    const work = guard(this.run, `checksumming ${table.dumpName} on ${this.run.sourceWhere}`, () =>
      this.checksum(client, table),
    ).then((checksum) => {
      this.source.set(table.qualified, checksum);
    });
    this.pending.push(work);
    return work.catch(() => {});
  }

  /** Every table on the source pool, in the background (while pg_dump | pg_restore runs). */
  allOnSource(sessions: Sessions, tables: readonly SourceTable[]): void {
    const work = runPool(tables, this.run.options.parallel, async (table, worker) => {
      throwIfAborted(this.run);
      await this.onSource(sessions.source[worker]!, table);
    });
    this.pending.push(work);
    work.catch(() => {});
  }

  /** Waits for the source's checksums; rejects with the first failure. */
  async sourceDone(): Promise<void> {
    await Promise.all(this.pending);
  }

  async onCopy(client: pg.Client, table: SourceTable): Promise<void> {
    this.copy.set(
      table.qualified,
      await guard(this.run, `checksumming ${table.dumpName} on ${this.run.newWhere}`, () =>
        this.checksum(client, table),
      ),
    );
  }
}
