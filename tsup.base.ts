import { defineConfig, type Options } from 'tsup';

/**
 * The build of a library package: ESM with declarations and source maps for Node 20, from `src/index.ts` unless
 * the package names its entries. Each package's tsup.config.ts is `export default library()` (plus what differs).
 */
export function library(options: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...options,
  });
}
