import { defineConfig } from 'tsup';

// One entry (`main` and the report writers); the `rel-jenkins` bin runs it. No @rel/* package is bundled in: each
// is a dependency, so one copy of @rel/core serves them all.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
