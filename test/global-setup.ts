// One DynamoDB Local for the whole test run: every file that needs a database shares it (each
// run and each test creates tables under its own unique names), instead of starting a JVM per file,
// which cost about 3 s of CPU each. Files that test the emulator's own lifecycle
// (test/local/dynamodb-local.test.ts) and the CLI, which starts its own, still start theirs.
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** http://127.0.0.1:<port> of the run's shared DynamoDB Local. */
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const db = await startDynamoDbLocal();
  project.provide('dynamoEndpoint', db.endpoint);
  return () => db.stop();
}
