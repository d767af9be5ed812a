import { defineConfig } from 'vitest/config';

// Unit tests (`*.test.ts`) need nothing running. Integration tests (`*.int.test.ts`) run against the
// real sandbox (Docker engine, registry, PostgreSQL, nginx) that `npm run sandbox` brings up.
//
// The integration files are in two projects, each one file at a time: `integration-apps` (apps/: the CLI's and
// the Jenkins pipelines' files, which drive the real `rel` and `rel-jenkins` against test projects of their own)
// and `integration` (the libraries' files under packages/ and the publish test). `npm test` (scripts/test) runs
// the two as lanes at once, a vitest run each: an integration file spends much of its time waiting (containers
// starting, health and readiness polls, watch intervals), so two lanes fill the machine's two cores (the whole
// run: 1,005 s in one lane, 780 s in two, measured here). What they share is safe to share: every file makes its
// containers, networks, volumes, nginx instances and temporary files under names of its own and removes only
// those; test servers' ports come from each lane's own range (freePort); the test projects (testProject in
// @rel/test-utils, with their fixed port ranges) are all in one lane; the registry and the sample images are only
// read.
const integration = (name: string, lane: number, include: string[], exclude: string[] = []) => ({
  test: {
    name,
    include,
    // freePort in @rel/test-utils picks from the lane's own half of 40000-49999
    env: { REL_TEST_LANE: String(lane) },
    exclude: ['**/node_modules/**', '**/dist/**', ...exclude],
    globalSetup: ['./test/sandbox-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});

const STANDIN_CHECK = 'apps/jenkins/src/pipeline-standin.int.test.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      // the Jenkins stand-in's self-check tests the test tool, not rel: in the shorter lane
      integration('integration', 0, ['packages/*/src/**/*.int.test.ts', 'test/**/*.int.test.ts', STANDIN_CHECK]),
      integration('integration-apps', 1, ['apps/*/src/**/*.int.test.ts'], [STANDIN_CHECK]),
    ],
  },
});
