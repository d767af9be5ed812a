import { formatLive, formatStatus, readLive, readStatus } from '@rel/release';
import type { CommandContext, CommandModule } from '../commands.js';
import { dockerClient } from './docker.js';

export const statusCommand: CommandModule = {
  async run(context: CommandContext) {
    const config = context.config();
    const [statuses, live] = await Promise.all([readStatus(config, await dockerClient()), readLive(config)]);
    context.reporter.result(`${formatLive(live)}\n${formatStatus(statuses)}`, { live, environments: statuses });
    return 0;
  },
};
