// @rel/cli as a library: `main` runs rel in-process (the `rel` bin runs the same). The flows, configuration,
// lock and notifications are @rel/release's; import them from there.

export type { ExitCode } from '@rel/release/config';
export { EXIT, exitCodeFor } from '@rel/release/config';
export type { MainIO } from './cli.js';
export { main } from './cli.js';
