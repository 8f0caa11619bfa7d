import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  CreateTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstanceTypesCommand,
  DescribeInstancesCommand,
  type Instance,
  type InstanceTypeInfo,
} from '@aws-sdk/client-ec2';
import { BatchGetCommand, GetCommand, ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { MetricNames } from '../../core/metrics.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { makeHandler } from '../../functions/handlers/select.ts';
import {
  HOST,
  INCIDENT,
  NEW,
  NOW_SECONDS,
  OLD,
  OTHER,
  TABLES,
  claimItem,
  ec2Instance,
  makeTestDeps,
  nodeId,
  reservations,
  workflowState,
  type TestContext,
} from './fixtures.ts';

const TYPES: { InstanceTypes: InstanceTypeInfo[] } = {
  InstanceTypes: [
    { InstanceType: 'm7i.xlarge', VCpuInfo: { DefaultVCpus: 4 }, MemoryInfo: { SizeInMiB: 16_384 }, ProcessorInfo: { SupportedArchitectures: ['x86_64' as const] } },
    { InstanceType: 'm7i.2xlarge', VCpuInfo: { DefaultVCpus: 8 }, MemoryInfo: { SizeInMiB: 32_768 }, ProcessorInfo: { SupportedArchitectures: ['x86_64' as const] } },
    { InstanceType: 'm7i.4xlarge', VCpuInfo: { DefaultVCpus: 16 }, MemoryInfo: { SizeInMiB: 65_536 }, ProcessorInfo: { SupportedArchitectures: ['x86_64' as const] } },
    { InstanceType: 't3.micro', VCpuInfo: { DefaultVCpus: 2 }, MemoryInfo: { SizeInMiB: 1_024 }, ProcessorInfo: { SupportedArchitectures: ['x86_64' as const] } },
  ],
};

/** Before select: no claim yet. */
function beforeSelect(overrides: Partial<WorkflowState> = {}): WorkflowState {
  return workflowState({ claim: null, attempt: 0, ...overrides });
}

function arrange(t: TestContext, instances: Instance[], claims: Record<string, unknown>[] = [], states: Record<string, unknown>[] = []) {
  t.ec2.on(DescribeInstancesCommand).resolves(reservations(...instances));
  t.ec2.on(DescribeInstanceTypesCommand).resolves(TYPES);
  t.ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
  t.ddb.on(ScanCommand).resolves({ Items: claims });
  t.ddb.on(BatchGetCommand).resolves({ Responses: { [TABLES.state]: states } });
}

function transactions(t: TestContext) {
  return t.ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems ?? []);
}

const lostRace = () =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }] });

describe('select', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  it('A6/A7: claims the best idle eligible node with one conditional transaction and tags it', async () => {
    arrange(t, [ec2Instance(OLD), ec2Instance(NEW, { type: 'm7i.2xlarge' }), ec2Instance(OTHER), ec2Instance(nodeId(4), { type: 't3.micro' })]);
    const state = await makeHandler(t.deps)(beforeSelect());

    expect(state.claim).toMatchObject({ nodeId: OTHER, pool: 'general', instanceType: 'm7i.xlarge', preempts: [], shared: false });
    expect(state.attempt).toBe(1);
    const [items] = transactions(t);
    expect(items?.[0]?.Put).toMatchObject({
      TableName: TABLES.claims,
      Item: { nodeId: OTHER, holder: 'web', incidentId: INCIDENT, role: 'claimed', leaseExpiresAt: expect.any(Number), ttl: expect.any(Number) },
      ConditionExpression: expect.stringContaining('attribute_not_exists'),
    });
    expect(items?.[1]?.Update).toMatchObject({ Key: { nodeId: OTHER, holder: '#node' }, ConditionExpression: expect.stringContaining('attribute_not_exists') });
    expect(t.ec2).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: [OTHER],
      Tags: expect.arrayContaining([{ Key: 'rapid-failover:application', Value: 'web' }, { Key: 'rapid-failover:role', Value: 'claimed' }]),
    });
    // Why chosen, and why every other node was not.
    const why = state.explanation.join('\n');
    expect(why).toContain(`candidate 1: ${OTHER}`);
    expect(why).toMatch(new RegExp(`rejected ${OLD}: .*runs on now`));
    expect(why).toMatch(new RegExp(`rejected ${nodeId(4)}: .*memory`));
    expect(t.addMetric).toHaveBeenCalledWith(MetricNames.FreePoolNodes, 'Count', 2);
  });

  it('A7: a failed host outside the pool is not described on a failure trigger (its id is all selection needs); the claim carries the node\'s primary interface for shift', async () => {
    arrange(t, [ec2Instance(NEW), ec2Instance(OTHER, { type: 't3.micro' })]);
    const state = await makeHandler(t.deps)(beforeSelect());

    expect(state.claim).toMatchObject({ nodeId: NEW, network: { primaryEniId: `eni-${NEW.slice(2)}`, primaryIpAssociated: false } });
    expect(t.ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([undefined]);
  });

  it('A7: on a performance trigger the host outside the pool is described: candidates must be more capable than it', async () => {
    arrange(t, [ec2Instance(NEW, { type: 'm7i.2xlarge' }), ec2Instance(OTHER)]);
    t.ec2.on(DescribeInstancesCommand, { InstanceIds: [OLD] }).resolves(reservations(ec2Instance(OLD, { pool: '' })));
    const state = await makeHandler(t.deps)(beforeSelect({ trigger: { kind: 'performance', source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' } }));

    expect(state.claim?.nodeId).toBe(NEW);
    expect(t.ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [OLD] });
    expect(state.explanation.join('\n')).toContain(`more capable than current node ${OLD}`);
  });

  it('a lost claim race moves on to the next candidate', async () => {
    arrange(t, [ec2Instance(NEW), ec2Instance(OTHER)]);
    t.ddb.on(TransactWriteCommand).rejectsOnce(lostRace()).resolves({});
    const state = await makeHandler(t.deps)(beforeSelect());

    const claimed = transactions(t).map((items) => items[0]?.Put?.Item?.nodeId);
    expect(claimed).toEqual([NEW, OTHER]);
    expect(state.claim?.nodeId).toBe(OTHER);
    expect(state.explanation.join('\n')).toContain(`${NEW}: claimed by another incident first`);
  });

  it('throttled claim transactions are not a lost race: AwsThrottledError', async () => {
    arrange(t, [ec2Instance(NEW)]);
    t.ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({ message: 'throttled', $metadata: {}, CancellationReasons: [{ Code: 'ThrottlingError' }] }),
    );
    await expect(makeHandler(t.deps)(beforeSelect())).rejects.toMatchObject({ name: ErrorNames.AwsThrottled });
  });

  it('re-entry with a claim this incident still holds returns the state unchanged', async () => {
    t.ddb.on(GetCommand, { TableName: TABLES.claims }).resolves({ Item: claimItem(NEW) });
    const state = workflowState();
    expect(await makeHandler(t.deps)(state)).toEqual(state);
    expect(t.ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(t.ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });

  it('re-entry after a lost answer finds the claim this incident made instead of claiming a second node', async () => {
    arrange(t, [ec2Instance(NEW), ec2Instance(OTHER)], [claimItem(NEW), { nodeId: NEW, holder: '#node', version: 1, hostedCount: 1 }]);
    const state = await makeHandler(t.deps)(beforeSelect());
    expect(state.claim?.nodeId).toBe(NEW);
    expect(state.attempt).toBe(1);
    expect(t.ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('a claim in the state that another incident now holds is a lost lease', async () => {
    t.ddb.on(GetCommand, { TableName: TABLES.claims }).resolves({ Item: claimItem(NEW, { incidentId: 'someone-else' }) });
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.LeaseLost });
  });

  it('A14: no eligible node on a failure trigger raises a no-eligible-node alert', async () => {
    arrange(t, [ec2Instance(OLD), ec2Instance(nodeId(4), { type: 't3.micro' })]);
    const state = await makeHandler(t.deps)(beforeSelect());
    expect(state.claim).toBeNull();
    expect(state.pendingAlert?.kind).toBe('no-eligible-node');
    expect(state.pendingAlert?.message).toContain(nodeId(4));
    expect(state.outcome).toBeNull();
  });

  it('A14: no eligible node on a performance trigger keeps the application where it is', async () => {
    arrange(t, [ec2Instance(OLD)]);
    const perf = beforeSelect({ trigger: { kind: 'performance', source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' } });
    const state = await makeHandler(t.deps)(perf);
    expect(state).toMatchObject({ outcome: 'stayed', pendingAlert: null, claim: null });
  });

  it('A5: takes a node from a lower-priority application and marks its lease preempted in the same transaction', async () => {
    const low = claimItem(NEW, { holder: 'low', incidentId: 'low-incident', role: 'serving', priority: 10, vcpu: 1, memoryMiB: 512, leaseExpiresAt: 253_402_300_799 });
    arrange(t, [ec2Instance(NEW)], [low, { nodeId: NEW, holder: '#node', version: 4, hostedCount: 1 }]);
    const state = await makeHandler(t.deps)(beforeSelect());

    expect(state.claim).toMatchObject({ nodeId: NEW, preempts: ['low'] });
    const [items] = transactions(t);
    expect(items?.[1]?.Update?.ConditionExpression).toMatch(/#n\d+ = :v\d+/);
    expect(Object.values(items?.[1]?.Update?.ExpressionAttributeValues ?? {})).toContain(4);
    expect(items?.[2]?.Update).toMatchObject({ Key: { nodeId: NEW, holder: 'low' }, ExpressionAttributeValues: expect.objectContaining({}) });
    expect(Object.values(items?.[2]?.Update?.ExpressionAttributeValues ?? {})).toEqual(expect.arrayContaining(['preempted', 'low-incident']));
  });

  it('B1: packs a small application onto a virtual-node host beside its tenants, counting them on the node item', async () => {
    const tenant = (app: string) => claimItem(HOST, { holder: app, incidentId: `${app}-incident`, role: 'serving', priority: 90, vcpu: 1, memoryMiB: 512, pool: 'hosts', leaseExpiresAt: 253_402_300_799 });
    arrange(t, [ec2Instance(HOST, { pool: 'hosts', type: 'm7i.4xlarge' })], [tenant('audit'), tenant('batch'), { nodeId: HOST, holder: '#node', version: 7, hostedCount: 2 }]);
    const reports = beforeSelect({ app: 'reports', currentNode: null });
    const state = await makeHandler(t.deps)(reports);

    expect(state.claim).toMatchObject({ nodeId: HOST, pool: 'hosts', shared: true, preempts: [] });
    const node = transactions(t)[0]?.[1]?.Update;
    expect(node?.ExpressionAttributeValues).toEqual(expect.objectContaining({}));
    const values = Object.values(node?.ExpressionAttributeValues ?? {});
    expect(values).toEqual(expect.arrayContaining([8, 3]));
    expect(t.ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Tags: expect.arrayContaining([{ Key: 'rapid-failover:app:reports', Value: 'claimed' }]) });
  });

  it('sweeps an expired claim of a crashed execution while claiming the node', async () => {
    const stale = claimItem(NEW, { holder: 'search', incidentId: 'crashed', priority: 700, leaseExpiresAt: NOW_SECONDS - 10 });
    arrange(t, [ec2Instance(NEW)], [stale, { nodeId: NEW, holder: '#node', version: 2, hostedCount: 1 }]);
    const state = await makeHandler(t.deps)(beforeSelect());
    expect(state.claim?.nodeId).toBe(NEW);
    const deletes = (transactions(t)[0] ?? []).filter((i) => i.Delete);
    expect(deletes.map((d) => d.Delete?.Key)).toEqual([{ nodeId: NEW, holder: 'search' }]);
  });

  it('C6: a switchover to a named node considers only that node', async () => {
    arrange(t, [ec2Instance(NEW), ec2Instance(OTHER)]);
    const state = await makeHandler(t.deps)(beforeSelect({ requestedNode: NEW, trigger: { kind: 'switchover', source: 'alice', reason: 'x', observedAt: '2025-03-01T11:59:00.000Z' } }));
    expect(state.claim?.nodeId).toBe(NEW);
    expect(transactions(t)).toHaveLength(1);
  });
});
