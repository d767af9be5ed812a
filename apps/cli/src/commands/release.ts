import { parseDuration, RelError } from '@rel/core';
import {
  abortRelease,
  ciBuildFromEnvironment,
  describePlan,
  formatRelease,
  formatReleaseList,
  listRecords,
  parseWholeNumber,
  planRelease,
  promoteRelease,
  RELEASE_STEPS,
  type ReleaseContext,
  type ReleaseOutcome,
  type ReleaseRequest,
  type ReleaseStepId,
  readRelease,
  resumeRelease,
  startRelease,
} from '@rel/release';
import { EXIT, type ExitCode, exitCodeForRelease } from '@rel/release/config';
import type { CommandContext, CommandModule } from '../commands.js';
import { dockerClient } from './docker.js';

function text(context: CommandContext, name: string): string | undefined {
  const value = context.options[name];
  return typeof value === 'string' ? value : undefined;
}

/** `rel release`'s options as a request; each bad value is one BAD_INPUT line naming the option. */
export function releaseRequest(context: CommandContext): ReleaseRequest {
  const only = text(context, 'only');
  if (only !== undefined && only !== 'backend' && only !== 'frontend') {
    throw new RelError('BAD_INPUT', `invalid --only ${JSON.stringify(only)}: expected backend or frontend`);
  }
  if (context.options.replicate && context.options['no-replicate']) {
    throw new RelError('BAD_INPUT', '--replicate and --no-replicate contradict each other: give one');
  }
  const monitor = text(context, 'monitor');
  const interval = text(context, 'monitor-interval');
  const version = context.args[0];
  const backend = text(context, 'backend');
  const frontend = text(context, 'frontend');
  return {
    ...(version === undefined ? {} : { version }),
    ...(backend === undefined ? {} : { backend }),
    ...(frontend === undefined ? {} : { frontend }),
    ...(only === undefined ? {} : { only }),
    ...(context.options.replicate ? { replicate: true } : context.options['no-replicate'] ? { replicate: false } : {}),
    ...(monitor === undefined ? {} : { monitorMs: parseDuration(monitor, '--monitor', { allowZero: true }) }),
    ...(interval === undefined ? {} : { monitorIntervalMs: parseDuration(interval, '--monitor-interval') }),
    ...(context.options['pause-before-switch'] ? { pauseBeforeSwitch: true } : {}),
  };
}

async function releaseContext(context: CommandContext): Promise<ReleaseContext> {
  const ci = ciBuildFromEnvironment(context.env);
  // crash tests only: kill -9 at the start of that step (see the release integration tests)
  const crash = context.env.REL_TEST_CRASH_AT_STEP;
  return {
    config: context.config(),
    docker: await dockerClient(),
    onEvent: context.reporter.sink,
    signal: context.signal,
    ...(ci ? { ci } : {}),
    ...(crash && (RELEASE_STEPS as readonly string[]).includes(crash) ? { crashAtStep: crash as ReleaseStepId } : {}),
  };
}

/** Prints how the run ended and returns its exit code: 0 done, 5 paused, 4 rolled back, 1 failed, 130 interrupted. */
function report(context: CommandContext, outcome: ReleaseOutcome): ExitCode {
  const files = outcome.monitor ? `\nmonitor log ${outcome.monitor.logPath}; report ${outcome.monitor.reportPath}` : '';
  if (outcome.status === 'failed') {
    throw new RelError('STEP_FAILED', `${outcome.message}${files.replace('\n', '; ')}`, {
      details: { release: outcome.record.id },
    });
  }
  context.reporter.result(`${outcome.message}${files}`, outcome.record);
  return exitCodeForRelease(outcome.status);
}

export const releaseCommand: CommandModule = {
  async run(context) {
    const request = releaseRequest(context);
    if (context.options.dryRun) {
      const config = context.config();
      const plan = await planRelease(config, await dockerClient(), request);
      const title =
        request.version ?? `--backend ${plan.record.versions.backend} --frontend ${plan.record.versions.frontend}`;
      context.reporter.result([`dry run: rel release ${title} would:`, ...describePlan(plan)].join('\n'), plan.record);
      return EXIT.OK;
    }
    return report(context, await startRelease(await releaseContext(context), request));
  },
};

function dryRunOf(context: CommandContext, verb: string): boolean {
  if (!context.options.dryRun) return false;
  context.reporter.result(
    `dry run: rel release ${verb} changes nothing with --dry-run; rel history shows where releases stand`,
  );
  return true;
}

export const resumeCommand: CommandModule = {
  async run(context) {
    if (dryRunOf(context, 'resume')) return EXIT.OK;
    const id = context.args[0];
    return report(context, await resumeRelease(await releaseContext(context), id === undefined ? {} : { id }));
  },
};

export const promoteCommand: CommandModule = {
  async run(context) {
    if (dryRunOf(context, 'promote')) return EXIT.OK;
    const id = context.args[0];
    return report(context, await promoteRelease(await releaseContext(context), id === undefined ? {} : { id }));
  },
};

export const abortCommand: CommandModule = {
  async run(context) {
    if (dryRunOf(context, 'abort')) return EXIT.OK;
    const id = context.args[0];
    const reason = text(context, 'reason');
    return report(
      context,
      await abortRelease(await releaseContext(context), {
        ...(id === undefined ? {} : { id }),
        ...(reason === undefined ? {} : { reason }),
      }),
    );
  },
};

export const historyCommand: CommandModule = {
  async run(context) {
    const { stateDir } = context.config();
    const id = context.args[0];
    if (id !== undefined) {
      const record = await readRelease(stateDir, id);
      context.reporter.result(formatRelease(record), record);
      return EXIT.OK;
    }
    const limitText = text(context, 'limit');
    const limit = limitText === undefined ? 20 : parseWholeNumber(limitText, '--limit', 1);
    const { records, damaged } = await listRecords(stateDir);
    for (const d of damaged) {
      context.reporter.sink({ type: 'log', level: 'warn', message: d.message, at: Date.now() });
    }
    const shown = records.slice(0, limit);
    const more =
      records.length > shown.length ? `\n(${records.length - shown.length} older; --limit ${records.length})` : '';
    context.reporter.result(`${formatReleaseList(shown)}${more}`, { releases: shown, damaged });
    return EXIT.OK;
  },
};
