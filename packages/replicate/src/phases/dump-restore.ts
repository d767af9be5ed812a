import { PassThrough, Transform } from 'node:stream';
import { log, RelError } from '@rel/core';
import type { SourceExtension } from '../catalog.js';
import { redact, toolEnv } from '../connection.js';
import { chooseMethod } from '../method.js';
import type { ReplicationMethod } from '../types.js';
import { lastLines, mib, type Progress, type Run, rate } from './context.js';
import { throwIfAborted } from './errors.js';

/**
 * The COPY path, or the fallback `pg_dump | pg_restore` where the COPY path cannot copy faithfully (or as
 * `forceMethod` says); logged with the reason.
 */
export function pickMethod(
  run: Run,
  extensions: readonly SourceExtension[],
): { method: ReplicationMethod; reason: string } {
  const { method, reason } = chooseMethod(extensions, run.options.options.forceMethod);
  log(
    run.onEvent,
    'info',
    method === 'copy' ? `method: parallel COPY streams (${reason})` : `method: pg_dump | pg_restore, because ${reason}`,
    'db:replicate:prepare',
  );
  return { method, reason };
}

/**
 * The fallback: `pg_dump -Fc` of the source on the snapshot piped into `pg_restore --exit-on-error` into the
 * new database. A pg_restore that fails stops pg_dump; a pg_dump that failed on its own is the error reported
 * (pg_restore then only saw a truncated archive). Returns the bytes that went through the pipe.
 */
export async function dumpRestore(run: Run, snapshotId: string, progress: Progress): Promise<number> {
  const { options } = run;
  const pipe = new PassThrough({ highWaterMark: 1 << 20 });
  let bytes = 0;
  let lastReport = Date.now();
  const started = lastReport;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      const now = Date.now();
      if (now - lastReport >= 1000) {
        lastReport = now;
        progress(`pg_dump | pg_restore: ${mib(bytes)} (${rate(bytes, now - started)})`, {
          current: bytes,
          unit: 'bytes',
        });
      }
      done(null, chunk);
    },
  });
  meter.pipe(pipe);
  const stopDump = new AbortController();
  const onAbort = () => stopDump.abort();
  run.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const dump = options
      .execSource(['pg_dump', '--no-password', '--format=custom', '--compress=0', `--snapshot=${snapshotId}`], {
        stdout: meter,
        env: toolEnv(options.source),
        signal: stopDump.signal,
      })
      .finally(() => {
        if (!meter.writableEnded) meter.end();
      });
    const restore = options
      .execTarget(['pg_restore', '--no-password', '--exit-on-error', `--dbname=${run.names.fresh}`], {
        stdin: pipe,
        env: toolEnv(options.target, run.names.fresh),
        signal: run.signal,
      })
      .finally(() => {
        // pg_restore stopped (done or failed): pg_dump must not block on a full pipe.
        pipe.resume();
      });
    const [restored, dumped] = await Promise.all([
      restore.then((result) => {
        if (result.exitCode !== 0) stopDump.abort();
        return result;
      }),
      dump.catch((error: unknown) => {
        if (stopDump.signal.aborted) return { exitCode: -1, stdout: '', stderr: 'stopped' };
        throw error;
      }),
    ]);
    throwIfAborted(run);
    if (dumped.exitCode !== 0 && !stopDump.signal.aborted) {
      throw new RelError(
        'STEP_FAILED',
        `pg_dump of ${run.sourceWhere} failed (exit ${dumped.exitCode}): ${redact(lastLines(dumped.stderr), run.secrets)}`,
      );
    }
    if (restored.exitCode !== 0) {
      throw new RelError(
        'STEP_FAILED',
        `pg_restore into ${run.newWhere} failed (exit ${restored.exitCode}): ${redact(lastLines(restored.stderr), run.secrets)}`,
      );
    }
    return bytes;
  } finally {
    run.signal.removeEventListener('abort', onAbort);
  }
}
