import { readFile, realpath } from 'node:fs/promises';
import { ENVIRONMENTS, type Environment, errorMessage, RelError } from '@rel/core';
import { liveEnvironmentOfConfig, serverValues } from './config-edit.js';
import { parseConfig, requireUpstreams } from './config-parse.js';
import { readLiveLink, type SocketRouting, socketRoutingOfConfig } from './socket-route.js';
import { readState } from './state.js';
import type { EnvironmentAddresses, LiveMismatch, LiveState, PendingSwitch, SwitchMethod } from './types.js';

export interface RoutingOptions {
  /** nginx config file that holds the upstream blocks (a symlink is followed). */
  configFile: string;
  /** Upstream blocks rel moves, e.g. `['sample_api', 'sample_client']`. */
  upstreams: readonly string[];
  /** Each environment's `server` values per upstream. Required by the reload method, for both environments. */
  addresses?: EnvironmentAddresses;
  /** Default: `socket` when the config uses the socket layout (see `detectMethod`), else `reload`. */
  method?: SwitchMethod;
  /** Socket method: the socket directory. Default: the one the config's upstreams name. */
  socketDir?: string;
}

/** What the config (and in socket mode the live symlink) says about routing. */
export interface Routing {
  /** The config file's real path. */
  configPath: string;
  /** Its content. */
  text: string;
  method: SwitchMethod;
  socket?: SocketRouting & { linkTarget: string | null };
  /** The environment the config routes to; `undefined` when neither (or a mix). */
  live: Environment | undefined;
  /** What each upstream names, or where the link points. */
  detail: string;
}

/** Reads the config file. RelError CONFIG naming the path when it is missing or unreadable. */
export async function readConfigFile(configFile: string): Promise<{ path: string; text: string }> {
  try {
    const path = await realpath(configFile);
    return { path, text: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : `unreadable (${errorMessage(error)})`;
    throw new RelError('CONFIG', `nginx config ${configFile} ${reason}`, { cause: error });
  }
}

/**
 * Reads the config and works out the method and which environment it routes to (reload: which environment's
 * addresses the upstream servers name; socket: where `<socketDir>/live` points). Changes nothing.
 */
export async function readRouting(options: RoutingOptions): Promise<Routing> {
  if (options.upstreams.length === 0) throw new RelError('BAD_INPUT', 'no upstreams given: name at least one');
  const { path, text } = await readConfigFile(options.configFile);
  requireUpstreams(parseConfig(text, path).conf, options.upstreams, path);
  const socket = socketRoutingOfConfig(text, options.upstreams, {
    source: path,
    ...(options.socketDir === undefined ? {} : { socketDir: options.socketDir }),
  });
  const method = options.method ?? (socket ? 'socket' : 'reload');
  if (method === 'socket') {
    if (!socket) {
      const where = options.socketDir ?? '<socket dir>';
      throw new RelError(
        'CONFIG',
        `${path} does not use the socket layout: each of ${options.upstreams.join(', ')} needs exactly one "server unix:${where}/live/<name>.sock;" (see renderSocketRoutingConfig)`,
      );
    }
    const { live, target } = await readLiveLink(socket.socketDir);
    const detail = `${socket.socketDir}/live -> ${target ?? 'missing'}`;
    return { configPath: path, text, method, socket: { ...socket, linkTarget: target }, live, detail };
  }
  const addresses = options.addresses ?? {};
  for (const env of ENVIRONMENTS) for (const name of options.upstreams) serverValues(addresses, env, name);
  const { live, detail } = liveEnvironmentOfConfig(text, { upstreams: options.upstreams, addresses, source: path });
  return { configPath: path, text, method, live, detail };
}

export interface LiveEnvironment {
  /** What is live now: the config's answer (it wins over the state file). */
  live: Environment | undefined;
  /** Since when, from the state file when it agrees with the config. */
  since?: string;
  previous?: Environment | null;
  versions?: Partial<Record<Environment, string>>;
  method: SwitchMethod;
  /** Set when the state file and the config disagree. */
  mismatch?: LiveMismatch;
  /** A switch that was under way when its process stopped (the next switch finishes it). */
  pending?: PendingSwitch;
  /** What each upstream names, or where the live link points. */
  detail: string;
  /** Set when the state file exists but cannot be used. */
  stateProblem?: string;
}

/** For `rel status`: which environment is live and since when, cross-checked against the config. */
export async function readLiveEnvironment(options: RoutingOptions & { stateFile: string }): Promise<LiveEnvironment> {
  const routing = await readRouting(options);
  let state: LiveState | undefined;
  let stateProblem: string | undefined;
  try {
    state = await readState(options.stateFile);
  } catch (error) {
    stateProblem = errorMessage(error);
  }
  const mismatch = liveMismatch(state, routing.live);
  const agrees = state !== undefined && state.live === routing.live;
  return {
    live: routing.live,
    method: routing.method,
    detail: routing.detail,
    ...(agrees ? { since: state!.since, previous: state!.previous } : {}),
    ...(state?.versions ? { versions: state.versions } : {}),
    ...(mismatch ? { mismatch } : {}),
    ...(state?.pending ? { pending: state.pending } : {}),
    ...(stateProblem ? { stateProblem } : {}),
  };
}

/** The disagreement between a recorded state and the config, if any; no state file is not a disagreement. */
export function liveMismatch(
  state: LiveState | undefined,
  configLive: Environment | undefined,
): LiveMismatch | undefined {
  if (state === undefined || state.live === configLive) return undefined;
  return { state: state.live ?? undefined, config: configLive };
}
