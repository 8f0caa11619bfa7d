import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest, started first, in the order of their durations on the project's
 * 2-core machine (a clean clone, `.ci/run`). Without results from an earlier run, as in CI, vitest
 * starts the largest files first: the crash harness, a small file that runs for two minutes,
 * would start late and end the run alone on one core.
 */
const LONGEST_FIRST = [
  'test/reliability/crash.test.ts',
  'test/workflow/workflow.test.ts',
  'test/cli/examples.test.ts',
  'test/workflow/bundles.test.ts',
  'test/lib/iam/roles.test.ts',
  'test/reliability/storm.test.ts',
  'test/cli/dynamodb-cleanup.test.ts',
  'test/cli/simulate-input.test.ts',
  'test/lib/cfn-lint.test.ts',
  'test/contract/ec2.contract.test.ts',
  'test/lib/deploy-safety.test.ts',
  'test/contract/moto-server.test.ts',
  'test/contract/services.contract.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (spec: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((path) => spec.moduleId.endsWith(path));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Worker threads rather than forked processes: the same suite took 440 s of CPU instead of 484 s
    // (239 s wall instead of 265 s), mostly messages between vitest and its workers. Nothing here
    // needs a process of its own: the CDK synthesis that runs esbuild (which cannot be spawned from a
    // worker thread) runs in a child process (local/runtime/bundles.ts), and DynamoDB Local and
    // moto_server end with the thread that started them as they did with the process.
    pool: 'threads',
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // vitest's default on a 2-core machine is one worker (cores − 1): the suite ran on one core.
    maxWorkers: 2,
    // Each worker imports the SDK clients, aws-cdk-lib and the sources once for all its files, not
    // once per file (measured: test/functions, core and local took 51 s of CPU isolated, 19.5 s not).
    // No test mocks a module or changes process.env; caches are per SDK client or per config.
    isolate: false,
    sequence: { sequencer: LongestFirst },
  },
});
