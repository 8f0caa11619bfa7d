// The run's shared DynamoDB Local (started once by test/global-setup.ts).
import { inject } from 'vitest';

/** Its endpoint. Tables made in it must have names no other test file uses. */
export function sharedDynamoEndpoint(): string {
  const endpoint = inject('dynamoEndpoint');
  if (!endpoint) throw new Error('no shared DynamoDB Local: run the tests through vitest (vitest.config.ts names test/global-setup.ts)');
  return endpoint;
}
