// @rel/cli as a library: `main` runs rel in-process (the `rel` bin runs the same). The flows, configuration,
// lock and notifications are @rel/release's; import them from there.
export type { MainIO } from './cli.js';
export { main } from './cli.js';
export type { ExitCode } from './exit-codes.js';
export { EXIT, exitCodeFor } from './exit-codes.js';
