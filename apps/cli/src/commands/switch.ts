import { type Environment, formatDuration } from '@rel/core';
import {
  acquireReleaseLock,
  parseEnvironmentName,
  type RelConfig,
  readLive,
  requireNginx,
  rollbackTo,
  switchEnvironment,
} from '@rel/release';
import { EXIT } from '@rel/release/config';
import type { CommandContext, CommandModule } from '../commands.js';
import { lazyDockerClient } from './docker.js';
import { environmentArgument } from './target.js';

async function lock(context: CommandContext, config: RelConfig, command: string) {
  return acquireReleaseLock({
    stateDir: config.stateDir,
    project: config.project,
    command,
    onEvent: context.reporter.sink,
  });
}

async function dryRun(context: CommandContext, config: RelConfig, verb: string, env: Environment): Promise<number> {
  const nginx = requireNginx(config);
  const live = await readLive(config);
  const steps =
    live?.live === env
      ? [`nothing: ${env} is live already`]
      : [
          verb === 'switch'
            ? `check that ${env}'s containers run and its health paths answer`
            : `check that ${env}'s containers run`,
          `back up ${nginx.configFile}`,
          `route ${[nginx.upstreams.api, nginx.upstreams.client].filter(Boolean).join(' and ')} to ${env} (${live?.method ?? nginx.method} method)`,
          `verify ${nginx.verify.consecutive} responses from ${env} through ${nginx.publicUrl}${nginx.verify.path}`,
          'record the live environment and an audit line',
          ...(verb === 'rollback' ? [`notify ${config.notifications.targets.length} target(s)`] : []),
        ];
  context.reporter.result(
    [
      `dry run: rel ${verb} ${env} would (live now: ${live?.live ?? 'unknown'}):`,
      ...steps.map((s, i) => `  ${i + 1}. ${s}`),
    ].join('\n'),
    { live: live?.live, steps },
  );
  return EXIT.OK;
}

export const switchCommand: CommandModule = {
  async run(context) {
    parseEnvironmentName(context.args[0]);
    const config = context.config();
    const connect = lazyDockerClient();
    const { env } = await environmentArgument(context, connect, context.args[0]);
    if (context.options.dryRun) return dryRun(context, config, 'switch', env);
    const docker = await connect();
    await using _lock = await lock(context, config, `switch ${env}`);
    const result = await switchEnvironment({
      config,
      env,
      docker,
      onEvent: context.reporter.sink,
      signal: context.signal,
    });
    if (!result.changed) {
      context.reporter.result(`${env} is live already; nothing changed`, result);
      return EXIT.OK;
    }
    const took = Object.values(result.durations).reduce((a, b) => a + b, 0);
    context.reporter.result(
      `${env} is live (was ${result.from ?? 'unknown'}; ${result.method} method, verified in ${formatDuration(took)})`,
      result,
    );
    return EXIT.OK;
  },
};

export const rollbackCommand: CommandModule = {
  async run(context) {
    parseEnvironmentName(context.args[0]);
    const config = context.config();
    const connect = lazyDockerClient();
    const { env } = await environmentArgument(context, connect, context.args[0]);
    if (context.options.dryRun) return dryRun(context, config, 'rollback', env);
    const docker = await connect();
    await using _lock = await lock(context, config, `rollback ${env}`);
    const result = await rollbackTo({
      config,
      env,
      docker,
      onEvent: context.reporter.sink,
      signal: context.signal,
      ...(typeof context.options.reason === 'string' ? { reason: context.options.reason } : {}),
    });
    if (!result.switch.changed) {
      context.reporter.result(`${env} is live already; nothing changed`, result);
      return EXIT.OK;
    }
    const sent = result.notifications.filter((n) => n.ok).length;
    context.reporter.result(
      `rolled back to ${env} (was ${result.switch.from ?? 'unknown'}); notifications: ${sent} of ${result.notifications.length} sent`,
      result,
    );
    return EXIT.OK;
  },
};
