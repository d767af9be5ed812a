import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { errorMessage, isRelError, RelError } from '@rel/core';
import { EXIT, exitCodeFor, loadConfig, type RelConfig } from '@rel/release/config';
import { COMMANDS, type CommandContext, type CommandSpec, GLOBAL_OPTIONS, usage } from './commands.js';
import { chooseMode, createReporter } from './report/reporter.js';

export interface MainIO {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The signal of the run in progress (aborted on SIGINT/SIGTERM); undefined outside `main`. */
let runSignal: AbortSignal | undefined;

/**
 * The run's SIGINT/SIGTERM signal, for what a command does not pass it to: commands/docker.ts gives it to every
 * Docker client, so that a call the engine does not answer ends at the first signal (exit 130).
 */
export function currentRunSignal(): AbortSignal | undefined {
  return runSignal;
}

/** Runs `rel` with the given arguments (without `node` and the script) and returns the exit code. */
export async function main(argv: string[], io: MainIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const json = argv.includes('--json');
  let secrets: readonly string[] = [];
  const reporter = createReporter({
    mode: chooseMode(json, stdout as NodeJS.WriteStream),
    verbose: argv.includes('--verbose'),
    secrets: () => secrets,
    stdout,
    stderr,
  });
  const controller = new AbortController();
  const onSignal = () => controller.abort(new RelError('ABORTED', 'interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const outerRunSignal = runSignal;
  runSignal = controller.signal;
  try {
    const { positionals } = parseArgs({ args: argv, options: GLOBAL_OPTIONS, allowPositionals: true, strict: false });
    const spec = findCommand(positionals);
    const { values, positionals: args } = parse(argv, spec);
    if (values.version) {
      reporter.result(version());
      return EXIT.OK;
    }
    if (values.help || !spec) {
      if (!spec && positionals.length > 0) {
        throw new RelError('BAD_INPUT', `unknown command "${positionals.join(' ')}" (see rel --help)`);
      }
      reporter.result(help(spec));
      return EXIT.OK;
    }
    const rest = args.slice(spec.path.length);
    const most = spec.args.length + (spec.optional?.length ?? 0);
    if (rest.length < spec.args.length || rest.length > most) {
      const expected = most === spec.args.length ? `${most}` : `${spec.args.length} to ${most}`;
      throw new RelError('BAD_INPUT', `expected ${expected} argument(s): usage: ${usage(spec)}`);
    }
    let config: RelConfig | undefined;
    const context: CommandContext = {
      args: rest,
      env: io.env ?? process.env,
      options: {
        ...values,
        config: values.config as string | undefined,
        json: Boolean(values.json),
        dryRun: Boolean(values['dry-run']),
        verbose: Boolean(values.verbose),
      },
      reporter,
      config: () => {
        config ??= loadConfig({
          ...(values.config === undefined ? {} : { file: values.config as string }),
          ...(io.env ? { env: io.env } : {}),
          ...(io.cwd ? { cwd: io.cwd } : {}),
        });
        secrets = config.secrets;
        return config;
      },
      signal: controller.signal,
    };
    const command = await spec.load();
    return (await command.run(context)) ?? EXIT.OK;
  } catch (error) {
    const relError = isRelError(error) ? error : new RelError('STEP_FAILED', errorMessage(error), { cause: error });
    // a step that failed because the signal cut it short (a stream broken by it) was interrupted
    const exitCode =
      controller.signal.aborted && relError.code === 'STEP_FAILED' ? EXIT.INTERRUPTED : exitCodeFor(relError.code);
    reporter.error(relError.message, relError.code, exitCode, relError.details);
    if (argv.includes('--verbose') && !isRelError(error) && error instanceof Error && error.stack) {
      stderr.write(`${error.stack}\n`);
    }
    return exitCode;
  } finally {
    reporter.close();
    runSignal = outerRunSignal;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The command whose words start the positionals; the longest wins (`release resume` over `release`). */
function findCommand(positionals: string[]): CommandSpec | undefined {
  const matching = COMMANDS.filter((spec) => spec.path.every((word, i) => positionals[i] === word));
  return matching.sort((a, b) => b.path.length - a.path.length)[0];
}

function parse(argv: string[], spec: CommandSpec | undefined) {
  try {
    return parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // node's messages are multi-line with hints; keep the first line
    const first = errorMessage(error)
      .split('\n')[0]!
      .replace(/\. To specify a positional.*$/, '');
    throw new RelError('BAD_INPUT', `${first}${spec ? ` (usage: ${usage(spec)})` : ' (see rel --help)'}`);
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `rel ${pkg.version}`;
}

function help(spec: CommandSpec | undefined): string {
  const options = (entries: Record<string, { description: string }>) =>
    Object.entries(entries).map(([name, o]) => `  --${name.padEnd(14)} ${o.description}`);
  if (spec) {
    return [
      `usage: ${usage(spec)} [options]`,
      '',
      spec.summary,
      '',
      'options:',
      ...options({ ...GLOBAL_OPTIONS, ...(spec.options ?? {}) }),
    ].join('\n');
  }
  const width = Math.max(...COMMANDS.map((c) => usage(c).length));
  return [
    'rel: blue-green releases of containerized web apps',
    '',
    'usage: rel <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${usage(c).padEnd(width)}  ${c.summary}`),
    '',
    'global options:',
    ...options(GLOBAL_OPTIONS),
    '',
    '<env>: blue, green, idle (the one nginx does not route to) or live; <version>: the image tag',
    '',
    'exit codes: 0 ok, 1 a step failed, 2 bad input or configuration, 3 release lock held, 4 rolled back,',
    '            5 release paused for approval, 130 interrupted',
  ].join('\n');
}
