import type { Environment } from '@rel/core';
import type { DockerClient } from '@rel/docker';
import { guardTarget, type LiveView, readLiveView, resolveEnvironment } from '@rel/release';
import type { CommandContext } from '../commands.js';

/** An environment argument: blue, green, or idle/live resolved from nginx and the engine. */
export async function environmentArgument(
  context: CommandContext,
  docker: () => Promise<DockerClient>,
  value: string | undefined,
  what = 'environment',
): Promise<{ env: Environment; view?: LiveView }> {
  let view: LiveView | undefined;
  const env = await resolveEnvironment(
    value,
    async () => {
      view = await readLiveView(context.config(), await docker());
      return view;
    },
    what,
  );
  return { env, ...(view ? { view } : {}) };
}

/**
 * The environment a command will change: the live one (and any while a release is paused or watching) is refused
 * unless --force.
 */
export async function targetArgument(
  context: CommandContext,
  docker: () => Promise<DockerClient>,
  value: string | undefined,
  action: string,
): Promise<Environment> {
  const { env, view } = await environmentArgument(context, docker, value);
  await guardTarget({
    config: context.config(),
    docker: await docker(),
    env,
    action,
    force: Boolean(context.options.force),
    ...(view ? { view } : {}),
  });
  return env;
}
