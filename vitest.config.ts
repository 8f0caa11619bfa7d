import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // vitest's default on a 2-core machine is one worker (cores − 1): the suite ran on one core.
    maxWorkers: 2,
    // Each worker imports the SDK clients, aws-cdk-lib and the sources once for all its files, not
    // once per file (measured: test/functions, core and local took 51 s of CPU isolated, 19.5 s not).
    // No test mocks a module or changes process.env; caches are per SDK client or per config.
    isolate: false,
  },
});
