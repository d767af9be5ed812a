import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `project`: lowercase letters, digits, `_ . -`, at most 41. */
export const PROJECT_NAME = /^[a-z0-9][a-z0-9_.-]{0,40}$/;

/**
 * The state directory of a project whose config names none: one per project on this machine, whichever workspace
 * or directory the config is read from, so that every checkout of a project (two Jenkins jobs, a person at a
 * terminal) shares its release lock, journal and live record. `$REL_STATE_HOME/<project>`, else
 * `/var/lib/rel/<project>` for root, else `$XDG_STATE_HOME/rel/<project>` (`~/.local/state/rel/<project>`).
 */
export function defaultStateDir(project: string, env: NodeJS.ProcessEnv = process.env): string {
  const name = PROJECT_NAME.test(project) ? project : 'invalid-project-name';
  if (env.REL_STATE_HOME) return resolve(env.REL_STATE_HOME, name);
  if (process.getuid?.() === 0) return join('/var/lib/rel', name);
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return resolve(stateHome, 'rel', name);
}
