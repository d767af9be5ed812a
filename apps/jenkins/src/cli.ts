import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { errorMessage, isRelError, RelError } from '@rel/core';
import { connectDocker, type DockerClient, pingDocker } from '@rel/docker';
import {
  abortRelease,
  type CiBuild,
  ciBuildFromEnvironment,
  describePlan,
  listRecords,
  planRelease,
  promoteRelease,
  type ReleaseContext,
  type ReleaseOutcome,
  type ReleaseRecord,
  refuseOpenRelease,
  resumeRelease,
  startRelease,
} from '@rel/release';
import { EXIT, exitCodeFor, exitCodeForRelease, loadConfig, type RelConfig } from '@rel/release/config';
import { type BuildLog, createBuildLog } from './log.js';
import { writeBuildReports, writeErrorSummary } from './reports.js';
import { parseStep, releaseRequestOf } from './request.js';

export interface MainIO {
  /** Where the build log goes (default: stdout, a line at a time). */
  write?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const OPTIONS = {
  config: { type: 'string', description: 'rel.config.yaml (default $REL_CONFIG, else ./rel.config.yaml)' },
  'report-dir': { type: 'string', description: 'where the reports go (default $REL_REPORT_DIR, else rel-report)' },
  component: { type: 'string', description: 'backend, frontend (the other keeps the live version) or both' },
  version: { type: 'string', description: 'the image tag to release (the VERSION parameter)' },
  replicate: { type: 'string', description: 'true: copy the live database into the idle one first' },
  monitor: { type: 'string', description: 'watch production this long after the switch (0: no watch)' },
  approval: { type: 'string', description: 'true: pause before the switch for an approval' },
  until: { type: 'string', description: 'stop after this release step; the release is held for the next stage' },
  approver: { type: 'string', description: 'who approved (the submitter of the input step)' },
  reason: { type: 'string', description: 'why the release is aborted' },
  verbose: { type: 'boolean', description: 'print progress lines and debug messages too' },
  help: { type: 'boolean', description: 'this help' },
} as const;

const COMMANDS: Record<string, string> = {
  check: 'check the parameters, the configuration and the plan; change nothing (the first stage)',
  start: "start this build's release and run it --until a step",
  continue: "go on with this build's release --until a step (to the end without)",
  promote: "approve this build's release (paused before its switch) and go on --until a step",
  abort: "end this build's release; live traffic is not touched",
};

/**
 * `rel-jenkins <command>`: one stage of a pipeline. Every stage works on the same release, this build's (its
 * record carries the build's BUILD_TAG); each leaves the JUnit report, the summary and the record in the report
 * directory for the `post` section. Returns the exit code (the table of `rel`, which the pipeline maps to a build
 * result).
 */
export async function main(argv: string[], io: MainIO = {}): Promise<number> {
  const env = io.env ?? process.env;
  const write = io.write ?? ((text: string) => process.stdout.write(text));
  const log = createBuildLog({ write, verbose: argv.includes('--verbose') });
  // the credentials the pipeline bound, by variable name: never printed even where the configuration has none
  log.addSecrets(
    (env.REL_SECRET_VARIABLES ?? '')
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((name) => env[name] ?? ''),
  );
  let command: string | undefined;
  let reportDir = env.REL_REPORT_DIR || 'rel-report';
  const controller = new AbortController();
  const onSignal = (signal: string) => {
    log.line(`${signal}: stopping at the end of what runs now`);
    controller.abort(new RelError('ABORTED', `interrupted by ${signal}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let config: RelConfig | undefined;
  let ci: CiBuild | undefined;
  let outcome: ReleaseOutcome | undefined;
  try {
    const values = parseOptions(argv);
    command = values.command;
    reportDir = values['report-dir'] ?? reportDir;
    if (values.help || !command) {
      write(`${help().join('\n')}\n`);
      return values.help ? EXIT.OK : EXIT.BAD_INPUT;
    }
    if (!(command in COMMANDS))
      throw new RelError('BAD_INPUT', `unknown command ${JSON.stringify(command)} (see --help)`);
    config = loadConfig({
      ...(values.config === undefined ? {} : { file: values.config }),
      env,
      ...(io.cwd ? { cwd: io.cwd } : {}),
    });
    log.addSecrets(config.secrets);
    ci = ciBuildFromEnvironment(env);
    if (!ci?.buildTag) {
      throw new RelError(
        'BAD_INPUT',
        'BUILD_TAG is not set: rel-jenkins runs in a Jenkins build, whose BUILD_TAG ties its stages to one release',
      );
    }
    const until = parseStep(values.until);
    const context: ReleaseContext = {
      config,
      docker: await dockerClient(controller.signal),
      onEvent: log.sink,
      signal: controller.signal,
      ci,
      ...(until ? { until } : {}),
    };
    outcome = await run(command, context, values, log);
    if (!outcome) return EXIT.OK;
    log.line(outcome.message);
    // stopping where the stage asked is this stage's success: held after it, or awaiting the approval it asked for
    if (outcome.status === 'paused' && until === 'approval') return EXIT.OK;
    return exitCodeForRelease(outcome.status);
  } catch (error) {
    const relError = isRelError(error) ? error : new RelError('STEP_FAILED', errorMessage(error), { cause: error });
    log.line(`ERROR: ${relError.message}`);
    await writeErrorSummary(reportDir, command ?? '', relError.message, log);
    return exitCodeFor(relError.code);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // the record as the run left it; after an error (or a command without one), as the journal has it
    if (config && ci?.buildTag) await reportOn(outcome?.record, config, ci.buildTag, reportDir, log);
  }
}

async function run(
  command: string,
  context: ReleaseContext,
  values: Options,
  log: BuildLog,
): Promise<ReleaseOutcome | undefined> {
  const name = `jenkins ${command}`;
  const { config } = context;
  switch (command) {
    case 'check': {
      const request = releaseRequestOf(values);
      await refuseOpenRelease(config.stateDir);
      const plan = await planRelease(config, context.docker, request, { command: name });
      for (const line of describePlan(plan)) log.line(line);
      log.line(`the parameters, the configuration and the plan are good: ${plan.record.target} gets the release`);
      return undefined;
    }
    case 'start':
      return startRelease(context, releaseRequestOf(values), { command: name });
    case 'continue':
      return resumeRelease(context, { id: (await ownRelease(context)).id, command: name });
    case 'promote': {
      const approver = values.approver ?? context.ci?.startedBy;
      return promoteRelease(context, {
        id: (await ownRelease(context)).id,
        command: name,
        ...(approver ? { approvedBy: approver } : {}),
      });
    }
    default: {
      // abort: also what an aborted build's `post` runs, so "nothing to abort" is no error
      const own = await ownRelease(context, { optional: true });
      if (!own) {
        log.line('no release of this build to abort');
        return undefined;
      }
      if (['succeeded', 'failed', 'rolled-back', 'aborted'].includes(own.status)) {
        log.line(`release ${own.id} of this build has ended already (${own.status}): nothing to abort`);
        return undefined;
      }
      return abortRelease(context, {
        id: own.id,
        command: name,
        ...(values.reason ? { reason: values.reason } : {}),
      });
    }
  }
}

/** This build's release: the record that carries its BUILD_TAG. */
async function ownRelease(context: ReleaseContext, options: { optional: true }): Promise<ReleaseRecord | undefined>;
async function ownRelease(context: ReleaseContext): Promise<ReleaseRecord>;
async function ownRelease(context: ReleaseContext, options: { optional?: boolean } = {}) {
  const tag = context.ci?.buildTag ?? '';
  const record = await buildRelease(context.config.stateDir, tag);
  if (!record && !options.optional) {
    throw new RelError('BAD_INPUT', `no release of this build (BUILD_TAG ${tag}): rel-jenkins start runs first`);
  }
  return record;
}

/** The journal's record of the build with this BUILD_TAG, if any. */
async function buildRelease(stateDir: string, buildTag: string): Promise<ReleaseRecord | undefined> {
  return (await listRecords(stateDir)).records.find((r) => r.ci?.buildTag === buildTag);
}

/** Writes the reports of this build's release, if it has one; a failure to write them is a line, not an error. */
async function reportOn(
  known: ReleaseRecord | undefined,
  config: RelConfig,
  buildTag: string,
  reportDir: string,
  log: BuildLog,
): Promise<void> {
  try {
    const record = known ?? (await buildRelease(config.stateDir, buildTag));
    if (record) await writeBuildReports(reportDir, record, log);
  } catch (error) {
    log.line(`warning: the reports in ${reportDir} could not be written: ${errorMessage(error)}`);
  }
}

/** The engine of DOCKER_HOST, checked to answer; a signal (the build aborted) interrupts its calls in flight. */
async function dockerClient(signal: AbortSignal): Promise<DockerClient> {
  const client = connectDocker({ signal });
  await pingDocker(client);
  return client;
}

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'] & {
  command: string | undefined;
};

function parseOptions(argv: string[]): Options {
  let parsed: { values: Options; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    const first = errorMessage(error)
      .split('\n')[0]!
      .replace(/\. To specify a positional.*$/, '');
    throw new RelError('BAD_INPUT', `${first} (see rel-jenkins --help)`);
  }
  if (parsed.positionals.length > 1) {
    throw new RelError('BAD_INPUT', `one command at a time: got ${parsed.positionals.join(' ')} (see --help)`);
  }
  return { ...parsed.values, command: parsed.positionals[0] };
}

function help(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return [
    `rel-jenkins ${pkg.version}: the stages of rel's Jenkins pipelines, one release per build`,
    'usage: rel-jenkins <command> [options]',
    ...Object.entries(COMMANDS).map(([name, text]) => `  ${name.padEnd(9)} ${text}`),
    'options:',
    ...Object.entries(OPTIONS).map(([name, o]) => `  --${name.padEnd(11)} ${o.description}`),
    'exit codes: 0 ok, 1 a step failed, 2 bad input or configuration, 3 another release holds the lock,',
    '            4 rolled back, 5 paused for approval, 130 interrupted',
  ];
}
