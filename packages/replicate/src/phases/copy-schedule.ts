import type { SourceTable } from '../catalog.js';
import type { CopyJob } from '../copy.js';
import {
  ATTACH_PHASE,
  FOREIGN_KEY_PHASE,
  INDEX_PHASE,
  type PostDataJob,
  type PostDataPhase,
  referencedTable,
} from '../dump-script.js';

/** Large objects handed to one worker at a time. */
export const LARGE_OBJECT_BATCH = 200;

/** A job of the copy step: a table (or a part of one), a batch of large objects, an index or key, a checksum. */
export type CopyWork = CopyJob | { largeObjects: string[] } | { index: PostDataJob } | { checksum: SourceTable };
type Ready = { index: PostDataJob } | { checksum: SourceTable };

/**
 * The order of the copy step's jobs. Copies first (the biggest table, which bounds the whole, starts at once),
 * then large objects; meanwhile, as soon as a table is in, its indexes and keys (the jobs of the first post-data
 * phase on that table, taken out of it) and its checksum become ready, biggest tables first; a foreign key
 * between two copied tables (taken out of its phase when no partition index is to be attached) becomes ready
 * once both tables have their keys.
 */
export class CopySchedule {
  private readonly copies: CopyWork[];
  private readonly ready: Ready[] = [];
  /** Index and key jobs by the table they wait for. */
  private readonly waiting = new Map<string, PostDataJob[]>();
  private readonly keysLeft: Map<string, number>;
  private readonly keysDone = new Set<string>();
  private foreignKeys: PostDataJob[] = [];
  private readonly fkPhase: PostDataPhase | undefined;
  private readonly sizeOf: Map<string, number>;

  /**
   * `phases` lose the jobs taken here (those whose tables are not copied here stay for the post-data step);
   * with `checksumEarly` each copied table's checksum is a job too.
   */
  constructor(
    tables: readonly SourceTable[],
    copies: readonly CopyJob[],
    largeObjects: readonly string[],
    phases: PostDataPhase[],
    private readonly checksumEarly: boolean,
  ) {
    this.copies = [...copies];
    for (let i = 0; i < largeObjects.length; i += LARGE_OBJECT_BATCH) {
      this.copies.push({ largeObjects: largeObjects.slice(i, i + LARGE_OBJECT_BATCH) });
    }
    const first = phases[0]?.label === INDEX_PHASE ? phases[0] : undefined;
    const copied = new Set(tables.map((table) => table.dumpName));
    if (first) {
      first.jobs = first.jobs.filter((job) => {
        if (job.table === undefined || !copied.has(job.table)) return true;
        this.waiting.set(job.table, [...(this.waiting.get(job.table) ?? []), job]);
        return false;
      });
    }
    this.keysLeft = new Map([...this.waiting].map(([table, jobs]) => [table, jobs.length]));
    this.fkPhase = phases.find((phase) => phase.label === FOREIGN_KEY_PHASE);
    if (this.fkPhase && !phases.some((phase) => phase.label === ATTACH_PHASE)) {
      this.fkPhase.jobs = this.fkPhase.jobs.filter((job) => {
        const referenced = referencedTable(job);
        if (job.table === undefined || referenced === undefined) return true;
        if (!copied.has(job.table) || !copied.has(referenced)) return true;
        this.foreignKeys.push(job);
        return false;
      });
    }
    this.sizeOf = new Map(tables.map((table) => [table.dumpName, table.bytes]));
  }

  /** The next job; undefined when none is ready (running jobs may make more ready). */
  next(): CopyWork | undefined {
    return this.copies.shift() ?? this.ready.shift();
  }

  /** A table is in (all its parts): its indexes, keys and checksum are ready. */
  tableCopied(table: SourceTable): void {
    this.ready.push(...(this.waiting.get(table.dumpName) ?? []).map((index) => ({ index })));
    if (this.checksumEarly) this.ready.push({ checksum: table });
    this.sortReady();
    if (!this.keysLeft.get(table.dumpName)) this.keysBuilt(table.dumpName);
  }

  /** An index or key (not a foreign key) is built. */
  keyBuilt(job: PostDataJob): void {
    const table = job.table!;
    const left = this.keysLeft.get(table)! - 1;
    this.keysLeft.set(table, left);
    if (left === 0) this.keysBuilt(table);
  }

  /** Gives the foreign keys never made ready back to their phase. */
  returnLeftovers(): void {
    if (this.fkPhase && this.foreignKeys.length > 0) this.fkPhase.jobs.push(...this.foreignKeys);
  }

  private keysBuilt(table: string): void {
    this.keysDone.add(table);
    const now = this.foreignKeys.filter(
      (job) => this.keysDone.has(job.table!) && this.keysDone.has(referencedTable(job)!),
    );
    if (now.length === 0) return;
    this.foreignKeys = this.foreignKeys.filter((job) => !now.includes(job));
    this.ready.push(...now.map((index) => ({ index })));
    this.sortReady();
  }

  /** Biggest tables first; a table's indexes before its checksum (a stable sort keeps that order). */
  private sortReady(): void {
    const size = (job: Ready) => this.sizeOf.get('index' in job ? job.index.table! : job.checksum.dumpName) ?? 0;
    this.ready.sort((a, b) => size(b) - size(a));
  }
}
