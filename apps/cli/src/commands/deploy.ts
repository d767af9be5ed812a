import { validateTag } from '@rel/docker';
import {
  acquireReleaseLock,
  type DeployResult,
  deployBackend,
  deployFrontend,
  parseEnvironmentName,
  planDeploy,
} from '@rel/release';
import { EXIT } from '@rel/release/config';
import type { CommandContext, CommandModule } from '../commands.js';
import { lazyDockerClient } from './docker.js';
import { targetArgument } from './target.js';

function deployCommand(role: 'backend' | 'frontend'): CommandModule {
  return {
    async run(context: CommandContext) {
      parseEnvironmentName(context.args[0]);
      const version = validateTag(context.args[1]!, 'version');
      const config = context.config();
      const connect = lazyDockerClient();
      const env = await targetArgument(context, connect, context.args[0], `deploy the ${role} to`);
      const docker = await connect();
      if (context.options.dryRun) {
        const plan = await planDeploy({ config, env, version, docker, role });
        context.reporter.result(
          [
            `dry run: rel deploy ${role} ${env} ${version} would:`,
            ...plan.steps.map((s, i) => `  ${i + 1}. ${s}`),
          ].join('\n'),
          plan,
        );
        return EXIT.OK;
      }
      const deploy = role === 'backend' ? deployBackend : deployFrontend;
      await using _lock = await acquireReleaseLock({
        stateDir: config.stateDir,
        project: config.project,
        command: `deploy ${role} ${env} ${version}`,
        onEvent: context.reporter.sink,
      });
      const result: DeployResult = await deploy({
        config,
        env,
        version,
        docker,
        onEvent: context.reporter.sink,
        signal: context.signal,
      });
      context.reporter.result(
        `${env} ${role} is at ${version} and healthy (ready ${result.readyAfterMs} ms after start)`,
        result,
      );
      return EXIT.OK;
    },
  };
}

export const deployBackendCommand = deployCommand('backend');
export const deployFrontendCommand = deployCommand('frontend');
