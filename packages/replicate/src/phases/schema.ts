import { errorMessage, RelError } from '@rel/core';
import type pg from 'pg';
import { oneLine, redact, toolEnv } from '../connection.js';
import { type DumpStatement, splitDumpScript } from '../dump-script.js';
import { lastLines, type Run } from './context.js';

/** Pre-data statements sent in one round trip. */
const SCHEMA_BATCH = 200;

/**
 * pg_dump's pre-data section (large object metadata included) applied to the new database, on a session of
 * its own (the script's SET statements must not stay in the sessions that load rows); returns the number of
 * pre-data statements and the post-data statements, dumped at the same time, for later.
 */
export async function createSchema(
  run: Run,
  snapshotId: string,
  connectNew: () => Promise<pg.Client>,
): Promise<{ pre: number; statements: DumpStatement[] }> {
  const common = ['--no-password', '--encoding=UTF8', `--snapshot=${snapshotId}`];
  const [pre, post] = await Promise.all([
    pgDump(run, [...common, '--section=pre-data', '--blobs'], 'pre-data'),
    pgDump(run, [...common, '--section=post-data'], 'post-data'),
  ]);
  const preStatements = splitDumpScript(pre);
  const client = await connectNew();
  const closeOnAbort = () => void client.end().catch(() => {});
  run.signal.addEventListener('abort', closeOnAbort, { once: true });
  try {
    await applyPreData(run, client, preStatements);
  } finally {
    run.signal.removeEventListener('abort', closeOnAbort);
    await client.end().catch(() => {});
  }
  return { pre: preStatements.length, statements: splitDumpScript(post) };
}

/** Runs the statements in batches; a failure names the first objects of the batch that failed. */
export async function applyPreData(run: Run, client: pg.Client, preStatements: DumpStatement[]): Promise<void> {
  for (let i = 0; i < preStatements.length; i += SCHEMA_BATCH) {
    const batch = preStatements.slice(i, i + SCHEMA_BATCH);
    try {
      await client.query(`${batch.map((statement) => statement.sql).join(';\n')};`);
    } catch (error) {
      const objects = batch.flatMap((s) => (s.entry ? [`${s.entry.type} ${s.entry.name}`] : []));
      throw new RelError(
        'STEP_FAILED',
        `applying the source's schema to ${run.newWhere} failed: ${oneLine(errorMessage(error))} (in: ${[...new Set(objects)].slice(0, 3).join(', ')}...)`,
        { cause: error },
      );
    }
  }
}

/** `pg_dump <args>` of the source through `execSource`; its output, or STEP_FAILED with its last stderr lines. */
export async function pgDump(run: Run, args: string[], what: string): Promise<string> {
  const result = await run.options.execSource(['pg_dump', ...args], {
    env: toolEnv(run.options.source),
    signal: run.signal,
  });
  if (result.exitCode !== 0) {
    throw new RelError(
      'STEP_FAILED',
      `pg_dump (${what}) of ${run.sourceWhere} failed (exit ${result.exitCode}): ${redact(lastLines(result.stderr), run.secrets)}`,
    );
  }
  return result.stdout;
}
