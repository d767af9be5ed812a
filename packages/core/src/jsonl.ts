import { closeSync, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface JsonLinesWriterOptions<T> {
  /** How a value becomes its line: one line of JSON. Default `JSON.stringify`. */
  stringify?: (value: T) => string;
}

/**
 * A JSON Lines file (an audit log, a monitor log) open for appending: its directory is created and the file opened
 * up front (`O_APPEND`, created with mode 0644), so that a bad path fails before anything else happens. Each
 * `append` is one `write(2)` of one whole line, so that writers appending to the same file at once never mix inside
 * a line, then one `fdatasync`: a crash loses at most the line being written. Errors of the file system (`EACCES`,
 * `ENOSPC`, ...) are thrown as they are: the caller says which file it was.
 */
export class JsonLinesWriter<T = unknown> {
  readonly path: string;
  private fd: number | undefined;
  private readonly stringify: (value: T) => string;

  constructor(path: string, options: JsonLinesWriterOptions<T> = {}) {
    this.path = path;
    this.stringify = options.stringify ?? ((value) => JSON.stringify(value));
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a', 0o644);
  }

  /** Appends `value` as one line and flushes it to disk. */
  append(value: T): void {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    const text = this.stringify(value);
    if (typeof text !== 'string' || text.includes('\n')) {
      throw new Error(`a line of ${this.path} must be one line of JSON`);
    }
    const buffer = Buffer.from(`${text}\n`);
    let offset = 0;
    // one write(2) for a line: a short write (a full disk) is finished by the next ones
    while (offset < buffer.length) offset += writeSync(this.fd, buffer, offset);
    fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Appends one value to a JSON Lines file as `JsonLinesWriter` does (one write, flushed), then closes it. */
export function appendJsonLine(path: string, value: unknown): void {
  const writer = new JsonLinesWriter(path);
  try {
    writer.append(value);
  } finally {
    writer.close();
  }
}
