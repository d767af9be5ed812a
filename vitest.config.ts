import { defineConfig } from 'vitest/config';

// Unit tests (`*.test.ts`) need nothing running. Integration tests (`*.int.test.ts`) run against the
// real sandbox (Docker engine, registry, PostgreSQL, nginx) that `npm run sandbox` brings up.
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
      {
        test: {
          name: 'integration',
          include: [
            'packages/*/src/**/*.int.test.ts',
            'apps/*/src/**/*.int.test.ts',
            'apps/*/test/**/*.int.test.ts',
            'test/**/*.int.test.ts',
          ],
          exclude: ['**/node_modules/**', '**/dist/**'],
          globalSetup: ['./test/sandbox-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // One Docker engine, one registry: integration files run one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
