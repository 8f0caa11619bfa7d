// The callback Lambda on its own: AWS's documented sample events as input, the token store in
// DynamoDB Local (its conditional writes are the point), Step Functions mocked (the workflow
// tests resume real tasks through the local runtime).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { TOKENS_TABLE } from '../../core/tables.ts';
import type { Wait } from '../../core/workflow-state.ts';
import { getTokenItem } from '../../functions/adapters/task-tokens.ts';
import { DOCUMENT_CLIENT_OPTIONS } from '../../functions/deps.ts';
import { makeHandler } from '../../functions/handlers/callback.ts';
import { LOCAL_CLIENT_CONFIG } from '../../local/dynamodb-local.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { INCIDENT, allStubs, makeTestDeps, type TestContext } from './fixtures.ts';

const sample = (name: string) => JSON.parse(readFileSync(new URL(`./aws-events/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown> & { detail: Record<string, unknown> };
/** AWS's sample: command e8d3c0e4-… ended Success on i-9bb89e2b at 2016-07-10T21:51:32Z. */
const SSM_SAMPLE = sample('ssm-command-invocation-status-change');
const SSM_KEY = 'ssm:e8d3c0e4-71f7-4491-898f-c9b35bee5f3b:i-9bb89e2b';
/** AWS's sample: i-1234567890abcdef0 entered pending at 2021-11-11T21:29:54Z. */
const EC2_SAMPLE = sample('ec2-instance-state-change');

const dynamoEndpoint = sharedDynamoEndpoint();
let raw: DynamoDBClient;
let tableSeq = 0;

beforeAll(async () => {
  raw = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: dynamoEndpoint });
});

afterAll(async () => {
  raw?.destroy();
});

function wait(key: string, overrides: Partial<NonNullable<Wait['event']>> = {}): Wait {
  return {
    step: 'provision',
    detail: 'provisioning documents',
    event: { key, since: '2016-07-10T21:51:30.049Z', expect: ['Success'], then: 'again', timeoutSeconds: 660, ...overrides },
  };
}

const register = (token: string, w: Wait) => ({ taskToken: token, incidentId: INCIDENT, app: 'web', wait: w });

describe('callback Lambda (token store in DynamoDB Local)', () => {
  let t: TestContext;
  let sfn: AwsClientStub<SFNClient>;
  let table: string;
  let handler: (event: unknown) => Promise<{ key: string; outcome: string }>;

  beforeEach(async () => {
    t = makeTestDeps();
    table = `callback-${++tableSeq}-${randomUUID().slice(0, 8)}-tokens`;
    await raw.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: TOKENS_TABLE.partitionKey, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: TOKENS_TABLE.partitionKey, KeyType: 'HASH' }],
      }),
    );
    t.deps.ddb = DynamoDBDocumentClient.from(raw, DOCUMENT_CLIENT_OPTIONS);
    t.deps.env = { ...t.deps.env, tables: { ...t.deps.env.tables, tokens: table } };
    t.deps.clock = () => new Date('2016-07-10T21:51:31.000Z');
    sfn = t.sfn;
    handler = makeHandler(t.deps);
  });

  it('stores the token of a waiting step; the SSM Success event (AWS sample) resumes it with what happened', async () => {
    expect(await handler(register('token-1', wait(SSM_KEY)))).toEqual({ key: SSM_KEY, outcome: 'stored' });
    expect(sfn.calls()).toHaveLength(0);

    expect(await handler(SSM_SAMPLE)).toEqual({ key: SSM_KEY, outcome: 'resumed' });

    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    const output = JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!) as Record<string, unknown>;
    expect(output).toEqual({ key: SSM_KEY, status: 'Success', at: '2016-07-10T21:51:32.000Z', eventId: '4780e1b8-f56b-4de5-95f2-95db273d1602', via: 'event' });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.taskToken).toBe('token-1');
  });

  it('an event that arrives before its token is stored: stored, and the token resumes at once when it comes (store, then check)', async () => {
    expect(await handler(SSM_SAMPLE)).toEqual({ key: SSM_KEY, outcome: 'stored' });
    expect(sfn.calls()).toHaveLength(0);

    expect(await handler(register('token-1', wait(SSM_KEY)))).toEqual({ key: SSM_KEY, outcome: 'resumed' });
    const output = JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!) as Record<string, unknown>;
    expect(output.via).toBe('arrived first');
  });

  it('a duplicated event (EventBridge delivers at least once) resumes the task once', async () => {
    await handler(register('token-1', wait(SSM_KEY)));
    expect(await handler(SSM_SAMPLE)).toEqual({ key: SSM_KEY, outcome: 'resumed' });
    expect(await handler(SSM_SAMPLE)).toEqual({ key: SSM_KEY, outcome: 'closed' });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  it('two copies at once: whichever writes second sends; if both do, Step Functions closes the task once (the late one is TaskTimedOut, not an error)', async () => {
    await handler(register('token-1', wait(SSM_KEY)));
    let sends = 0;
    sfn.on(SendTaskSuccessCommand).callsFake(() => {
      if (++sends > 1) throw new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} });
      return {};
    });
    const outcomes = await Promise.all([handler(SSM_SAMPLE), handler(SSM_SAMPLE)]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(expect.arrayContaining(['resumed']));
    expect(outcomes.filter((o) => o.outcome === 'resumed')).toHaveLength(1);
  });

  it('an event older than the wait (an earlier command run, a stale state) does not resume it', async () => {
    await handler(register('token-1', wait(SSM_KEY, { since: '2016-07-10T21:55:00.000Z' })));
    expect(await handler(SSM_SAMPLE)).toEqual({ key: SSM_KEY, outcome: 'stored' });
    expect(sfn.calls()).toHaveLength(0);
  });

  it("an end the step did not hope for fails the wait with the step's error when it said so (then 'next': no step run would notice)", async () => {
    await handler(register('token-1', wait(SSM_KEY, { failWith: ErrorNames.ProvisioningFailed, then: 'next' })));
    const failed = { ...SSM_SAMPLE, detail: { ...SSM_SAMPLE.detail, status: 'Failed' } };
    expect(await handler(failed)).toEqual({ key: SSM_KEY, outcome: 'failed' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'token-1', error: ErrorNames.ProvisioningFailed, cause: expect.stringContaining(`${SSM_KEY} ended Failed`) });
  });

  it('EC2 (AWS sample, pending): stored under the instance, but a wait for running is not ended by it', async () => {
    const key = 'ec2:i-1234567890abcdef0';
    await handler(register('token-2', wait(key, { since: '2021-11-11T21:29:50.000Z', expect: ['running', 'stopped'] })));
    expect(await handler(EC2_SAMPLE)).toEqual({ key, outcome: 'stored' });
    expect(sfn.calls()).toHaveLength(0);
    const running = { ...EC2_SAMPLE, time: '2021-11-11T21:30:34Z', detail: { ...EC2_SAMPLE.detail, state: 'running' } };
    expect(await handler(running)).toEqual({ key, outcome: 'resumed' });
    // Events can come out of order: a later-delivered older one does not replace the newer.
    expect(await handler(EC2_SAMPLE)).toEqual({ key, outcome: 'stale' });
    expect((await getTokenItem(t.deps.ddb, table, key))?.arrival?.status).toBe('running');
  });

  it('a retried Await state (a new token) is resumed too: the resume of the first token does not count for it', async () => {
    await handler(register('token-1', wait(SSM_KEY)));
    await handler(SSM_SAMPLE);
    expect(await handler(register('token-2', wait(SSM_KEY)))).toEqual({ key: SSM_KEY, outcome: 'resumed' });
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken)).toEqual(['token-1', 'token-2']);
  });

  it("rejects what it cannot match, touching nothing: the command-level event (AWS sample: no instance in its detail), a malformed event, a wait with no event", async () => {
    await expect(handler(sample('ssm-command-status-change'))).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining('EC2 Command Invocation Status-change Notification') });
    await expect(handler({ ...SSM_SAMPLE, detail: { ...SSM_SAMPLE.detail, 'instance-id': 'nope' } })).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining('instance-id') });
    await expect(handler({ source: 'aws.s3', 'detail-type': 'Object Created', id: 'x', time: '2020-01-01T00:00:00Z', detail: {} })).rejects.toMatchObject({ name: ErrorNames.Validation });
    await expect(handler(register('token-1', { step: 'shift', detail: 'health', until: '2030-01-01T00:00:00.000Z' }))).rejects.toMatchObject({
      name: ErrorNames.Validation,
      message: expect.stringContaining('wait.event'),
    });
    await expect(handler({ taskToken: '', incidentId: INCIDENT, app: 'web', wait: wait(SSM_KEY) })).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining('taskToken') });
    for (const stub of allStubs(t)) expect(stub.calls()).toHaveLength(0);
    expect(await getTokenItem(t.deps.ddb, table, SSM_KEY)).toBeNull();
  });
});
