import { formatDuration, log } from '@rel/core';
import { runPool } from '../copy.js';
import { type PostDataJob, type PostDataPhase, settingName } from '../dump-script.js';
import type { Progress, Run } from './context.js';
import { failure, throwIfAborted } from './errors.js';
import type { Sessions, TargetSession } from './pools.js';

/** Attempts of a statement that PostgreSQL cancelled to break a deadlock. */
const DEADLOCK_ATTEMPTS = 5;

/**
 * The post-data jobs the copy step did not run, phase by phase (`planPostData`'s order): a parallel phase over
 * every session of the new database, the others one job at a time on the first.
 */
export async function postData(
  run: Run,
  sessions: Sessions,
  phases: PostDataPhase[],
  progress: Progress,
): Promise<void> {
  await sessions.openTarget();
  for (const phase of phases) {
    if (phase.jobs.length === 0) continue;
    const started = Date.now();
    let done = 0;
    const runJob = async (job: PostDataJob, worker: number) => {
      throwIfAborted(run);
      await runPostDataJob(run, sessions.target[worker]!, job, 'db:replicate:post-data');
      done++;
    };
    if (phase.parallel) await runPool(phase.jobs, run.options.parallel, runJob);
    else for (const job of phase.jobs) await runJob(job, 0);
    progress(`${phase.label}: ${done} done in ${formatDuration(Date.now() - started)}`, {
      current: done,
      total: phase.jobs.length,
    });
  }
}

/**
 * One post-data job on a session of the new database: first the session is given exactly the settings the job
 * was dumped under (resetting those it no longer has), then its statements run; a deadlock is retried.
 */
export async function runPostDataJob(run: Run, session: TargetSession, job: PostDataJob, step: string): Promise<void> {
  const started = Date.now();
  const wanted = new Map(job.settings.map((sql) => [settingName(sql)!, sql]));
  for (const [name] of session.settings) {
    if (!wanted.has(name)) await session.client.query(`RESET ${name}`);
  }
  for (const [name, sql] of wanted) if (session.settings.get(name) !== sql) await session.client.query(sql);
  session.settings = wanted;
  for (const sql of job.statements) {
    for (let attempt = 1; ; attempt++) {
      try {
        await session.client.query(sql);
        break;
      } catch (error) {
        // Foreign keys built at once may deadlock on the tables they share: PostgreSQL cancels one; run it again.
        if ((error as { code?: string }).code === '40P01' && attempt < DEADLOCK_ATTEMPTS) continue;
        throw failure(run, error, `creating ${job.type.toLowerCase()} ${job.name} on ${run.newWhere}`);
      }
    }
  }
  log(run.onEvent, 'debug', `${job.type.toLowerCase()} ${job.name}: ${formatDuration(Date.now() - started)}`, step);
}
