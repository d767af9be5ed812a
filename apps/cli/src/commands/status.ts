import type { CommandContext, CommandModule } from '../commands.js';
import { formatStatus, readStatus } from '../flows/status.js';
import { dockerClient } from './docker.js';

export const statusCommand: CommandModule = {
  async run(context: CommandContext) {
    const config = context.config();
    const statuses = await readStatus(config, await dockerClient());
    context.reporter.result(formatStatus(statuses), { environments: statuses });
    return 0;
  },
};
