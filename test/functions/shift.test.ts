import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { BatchGetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { makeHandler } from '../../functions/handlers/shift.ts';
import { EIP, INCIDENT, NEW, NOW, OLD, TABLES, TG_WEB, TG_WEB_2, claimItem, ec2Instance, makeTestDeps, reservations, workflowState, type TestContext, waitOf } from './fixtures.ts';

const performance = { kind: 'performance' as const, source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' };

function oldIs(t: TestContext, state: string) {
  t.ec2.on(DescribeInstancesCommand, { InstanceIds: [OLD] }).resolves(reservations(ec2Instance(OLD, { state })));
}

/** Every target group reports the new node in `state` (what DescribeTargetHealth says for the target asked about). */
function newNodeHealth(t: TestContext, state: string | ((arn: string) => string)) {
  t.elb.on(DescribeTargetHealthCommand).callsFake((input: { TargetGroupArn: string; Targets: Array<{ Id: string; Port?: number }> }) => {
    const value = typeof state === 'string' ? state : state(input.TargetGroupArn);
    return { TargetHealthDescriptions: input.Targets.map((target) => ({ Target: target, TargetHealth: { State: value, ...(value === 'unhealthy' ? { Reason: 'Target.FailedHealthChecks' } : {}) } })) };
  });
}

const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();
/** What join left: registered `seconds` ago in both groups, checks every `interval` s, `healthy` passes after failing. */
function registered(seconds: number, interval = 30, healthy = 5, budgetSeconds = 450) {
  return {
    at: ago(seconds),
    firstCheckAt: new Date(NOW.getTime() - (seconds - interval) * 1000).toISOString(),
    budgetSeconds,
    groups: [TG_WEB, TG_WEB_2].map((targetGroupArn) => ({ targetGroupArn, intervalSeconds: interval, healthyThreshold: healthy })),
  };
}

describe('shift', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { shiftStartedAt: NOW.toISOString() }) });
    t.ddb.on(UpdateCommand, { TableName: TABLES.records }).resolves({ Attributes: { app: 'web', incidentId: INCIDENT, shiftedAt: NOW.toISOString() } });
    t.ddb.on(QueryCommand).resolves({ Items: [] });
    t.ddb.on(BatchGetCommand).resolves({ Responses: { [TABLES.state]: [] } });
    t.ec2.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: EIP, InstanceId: OLD }] });
    newNodeHealth(t, 'healthy');
  });

  it('C1/C5: on a failure trigger the old host is stopped (forced) and the step waits for its stopped event before moving the address', async () => {
    oldIs(t, 'running');
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { shiftStartedAt: NOW.toISOString(), provisionStartedAt: ago(40) }) });
    const wait = await waitOf(makeHandler(t.deps)(workflowState()));
    expect(wait.detail).toContain('fencing');
    // Since the stop was first asked for (when provisioning began, C9); after 300 s in all the host is isolated instead.
    expect(wait.event).toEqual({ key: `ec2:${OLD}`, since: ago(40), expect: ['stopped'], then: 'again', timeoutSeconds: 260 });
    expect(t.ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [OLD], Force: true });
    expect(t.ec2).not.toHaveReceivedCommand(AssociateAddressCommand);
    expect(t.ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('C1/C9: once the old host is stopped: deregister it, move the Elastic IP, commit serving; no halt documents on a stopped host', async () => {
    oldIs(t, 'stopped');
    const state = await makeHandler(t.deps)(workflowState());

    for (const arn of [TG_WEB, TG_WEB_2]) {
      expect(t.elb).toHaveReceivedCommandWith(DeregisterTargetsCommand, { TargetGroupArn: arn, Targets: [{ Id: OLD, Port: 8080 }] });
    }
    expect(t.ec2).toHaveReceivedCommandWith(AssociateAddressCommand, { AllocationId: EIP, InstanceId: NEW, AllowReassociation: true });
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
    const [commit] = t.ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems ?? []);
    expect(commit?.[0]?.Update).toMatchObject({ TableName: TABLES.claims, Key: { nodeId: NEW, holder: 'web' } });
    expect(Object.values(commit?.[0]?.Update?.ExpressionAttributeValues ?? {})).toContain('serving');
    expect(commit?.[1]?.Update).toMatchObject({ TableName: TABLES.state, Key: { app: 'web' } });
    expect(Object.values(commit?.[1]?.Update?.ExpressionAttributeValues ?? {})).toContain(NEW);
    expect(state.progress).toMatchObject({ 'shift.fence': 'stopped', 'shift.shiftedAt': NOW.toISOString() });
    // The application's state says where it started; the claim says where it runs now.
    expect(state.currentNode).toBe(OLD);
  });

  it('C1 (AssociateAddress with AllowReassociation is idempotent): with the selection\'s read of the new node\'s interface (no address on its primary IP), the Elastic IP moves by instance without asking where it is; the stopped host\'s pool is kept for release', async () => {
    oldIs(t, 'stopped');
    const state = workflowState();
    const claim = { ...state.claim!, network: { primaryEniId: `eni-${NEW.slice(2)}`, primaryIpAssociated: false } };

    const next = await makeHandler(t.deps)({ ...state, claim });

    expect(t.ec2).toHaveReceivedCommandWith(AssociateAddressCommand, { AllocationId: EIP, InstanceId: NEW, AllowReassociation: true });
    expect(t.ec2).not.toHaveReceivedCommand(DescribeAddressesCommand);
    expect(t.ec2).not.toHaveReceivedCommand(DescribeNetworkInterfacesCommand);
    // One DescribeInstances: the old host, read fresh before the address moves (C1, no split brain).
    expect(t.ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([[OLD]]);
    expect(next.progress).toMatchObject({ 'shift.fence': 'stopped', 'shift.oldPool': 'general' });
  });

  it('B1: on a virtual-node host the selection\'s read is not trusted, and the Elastic IP gets a private IP assigned for it (two tenants shifting at once never pick the same free IP, and the second association would take the first one\'s address off)', async () => {
    oldIs(t, 'stopped');
    t.ec2.on(DescribeInstancesCommand, { InstanceIds: [NEW] }).resolves(reservations(ec2Instance(NEW)));
    t.ec2.on(AssignPrivateIpAddressesCommand).resolves({ AssignedPrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.77' }] });
    const state = workflowState();
    const claim = { ...state.claim!, shared: true, network: { primaryEniId: `eni-${NEW.slice(2)}`, primaryIpAssociated: false } };

    await makeHandler(t.deps)({ ...state, claim });

    expect(t.ec2).toHaveReceivedCommand(DescribeAddressesCommand);
    expect(t.ec2).toHaveReceivedCommandWith(AssignPrivateIpAddressesCommand, { NetworkInterfaceId: `eni-${NEW.slice(2)}`, SecondaryPrivateIpAddressCount: 1 });
    expect(t.ec2).toHaveReceivedCommandWith(AssociateAddressCommand, { AllocationId: EIP, NetworkInterfaceId: `eni-${NEW.slice(2)}`, PrivateIpAddress: '10.0.1.77', AllowReassociation: true });
  });

  it('C9: on a performance trigger the old host is not stopped: its first halt document starts and is not waited for', async () => {
    oldIs(t, 'running');
    const state = await makeHandler(t.deps)(workflowState({ trigger: performance }));
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(t.ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, { InstanceIds: [OLD], Parameters: { commands: ['systemctl stop web'], executionTimeout: ['60'] } });
    expect(state.progress['shift.fence']).toBe('halting');
  });

  it('B1: a failing shared host is never stopped to fence one tenant', async () => {
    oldIs(t, 'running');
    t.ddb.on(QueryCommand).resolves({ Items: [claimItem(OLD, { holder: 'audit', incidentId: 'a', role: 'serving', leaseExpiresAt: 253_402_300_799 })] });
    const state = await makeHandler(t.deps)(workflowState());
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(state.explanation.join('\n')).toContain('also hosts audit');
  });

  it('an old host that cannot be stopped (not a pool node) is isolated instead', async () => {
    oldIs(t, 'running');
    t.ec2.on(StopInstancesCommand).rejects(Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation' }));
    const state = await makeHandler(t.deps)(workflowState());
    expect(state.progress['shift.fence']).toBe('isolated');
    expect(t.ec2).toHaveReceivedCommand(AssociateAddressCommand);
  });

  it('A11: the node now serving is tagged rapid-failover:role=serving (the status-check alarm follows the tag); a virtual-node host too', async () => {
    oldIs(t, 'stopped');
    await makeHandler(t.deps)(workflowState({ progress: { 'shift.fence': 'stopped' } }));
    expect(t.ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [NEW], Tags: expect.arrayContaining([{ Key: 'rapid-failover:role', Value: 'serving' }]) });

    t.ec2.resetHistory();
    const onHost = workflowState({ progress: { 'shift.fence': 'stopped' } });
    onHost.claim = { ...onHost.claim!, pool: 'hosts', shared: true };
    await makeHandler(t.deps)(onHost);
    expect(t.ec2).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: [NEW],
      Tags: expect.arrayContaining([
        { Key: 'rapid-failover:app:web', Value: 'serving' },
        { Key: 'rapid-failover:role', Value: 'serving' },
      ]),
    });
  });

  it('C1: a secondary private IP is reassigned to the new primary ENI; already there, nothing is called', async () => {
    const db = workflowState({ app: 'db', trigger: performance });
    t.ec2.on(DescribeInstancesCommand, { InstanceIds: [NEW] }).resolves(reservations(ec2Instance(NEW, { eni: 'eni-new' })));
    oldIs(t, 'running');
    t.ec2.on(DescribeNetworkInterfacesCommand).resolvesOnce({ NetworkInterfaces: [{ Attachment: { InstanceId: OLD } }] }).resolves({ NetworkInterfaces: [{ Attachment: { InstanceId: NEW } }] });
    const handler = makeHandler(t.deps);
    await handler(db);
    await handler(db);
    expect(t.ec2).toHaveReceivedCommandTimes(AssignPrivateIpAddressesCommand, 1);
    expect(t.ec2).toHaveReceivedCommandWith(AssignPrivateIpAddressesCommand, { NetworkInterfaceId: 'eni-new', PrivateIpAddresses: ['10.0.1.50'], AllowReassignment: true });
  });

  it('without an old node there is nothing to fence', async () => {
    const state = await makeHandler(t.deps)(workflowState({ currentNode: null }));
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(t.elb).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(state.progress['shift.fence']).toBe('none');
  });

  it('C7: landing on the last possible node disables switching and raises the alert', async () => {
    oldIs(t, 'stopped');
    const state = await makeHandler(t.deps)(workflowState({ claim: { ...workflowState().claim!, lastPossibleNode: true } }));
    expect(state.pendingAlert?.kind).toBe('last-possible-node');
    const disabled = t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.TableName === TABLES.state);
    expect(Object.values(disabled?.ExpressionAttributeValues ?? {})).toContain(true);
  });

  it('C7: moving to a node that is not the last possible one enables switching again, only where it was disabled', async () => {
    oldIs(t, 'stopped');
    await makeHandler(t.deps)(workflowState());
    const enable = t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.TableName === TABLES.state);
    expect(enable?.UpdateExpression).toMatch(/REMOVE/);
    expect(enable?.ConditionExpression).toBeDefined();
    expect(Object.values(enable?.ExpressionAttributeValues ?? {})).toEqual(expect.arrayContaining([false, true]));
  });

  it('a commit whose claim is no longer ours is a lost lease', async () => {
    oldIs(t, 'stopped');
    t.ddb.on(TransactWriteCommand).rejects(new TransactionCanceledException({ message: 'x', $metadata: {}, CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] }));
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.LeaseLost });
  });

});

describe('shift: the new node healthy first (A9; target health has no event)', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { shiftStartedAt: NOW.toISOString() }) });
    t.ddb.on(QueryCommand).resolves({ Items: [] });
    oldIs(t, 'stopped');
  });

  it('still initial (a new target passes once): looks again one interval later, touching neither the old host nor the address', async () => {
    newNodeHealth(t, (arn) => (arn === TG_WEB ? 'healthy' : 'initial'));
    const wait = await waitOf(makeHandler(t.deps)(workflowState({ registered: registered(31) })));
    expect(wait.detail).toContain('initial');
    expect(wait.until).toBe(new Date(NOW.getTime() + 30_000).toISOString());
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(t.ec2).not.toHaveReceivedCommand(AssociateAddressCommand);
    expect(t.ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('ALB rule "a target that fails its initial checks needs HealthyThresholdCount": unhealthy, it looks again after that many intervals', async () => {
    newNodeHealth(t, 'unhealthy');
    const wait = await waitOf(makeHandler(t.deps)(workflowState({ registered: registered(40, 5, 2, 110) })));
    expect(wait.until).toBe(new Date(NOW.getTime() + 10_000).toISOString());
  });

  it('checks every 5 s, thresholds 2 and 2: 110 s after registration an unhealthy node is still waited for, after 111 s it is JoinFailedError', async () => {
    newNodeHealth(t, (arn) => (arn === TG_WEB ? 'healthy' : 'unhealthy'));
    await waitOf(makeHandler(t.deps)(workflowState({ registered: registered(110, 5, 2, 110) })));
    await expect(makeHandler(t.deps)(workflowState({ registered: registered(111, 5, 2, 110) }))).rejects.toMatchObject({
      name: ErrorNames.JoinFailed,
      message: expect.stringMatching(/111 s after registration \(allowed 110 s\).*Target\.FailedHealthChecks/),
    });
  });

  it('NLB, 570 s allowed: still initial after that is StepTimeoutError', async () => {
    newNodeHealth(t, 'initial');
    await waitOf(makeHandler(t.deps)(workflowState({ registered: registered(570, 30, 5, 570) })));
    await expect(makeHandler(t.deps)(workflowState({ registered: registered(571, 30, 5, 570) }))).rejects.toMatchObject({ name: ErrorNames.StepTimeout, message: expect.stringContaining('within 570 s') });
  });

  it('a shift retried after it committed (the claim is serving) does not look at target health again', async () => {
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { shiftStartedAt: NOW.toISOString(), role: 'serving' }) });
    t.ddb.on(UpdateCommand, { TableName: TABLES.records }).resolves({ Attributes: { app: 'web', incidentId: INCIDENT, shiftedAt: NOW.toISOString() } });
    t.ec2.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: EIP, InstanceId: NEW }] });
    newNodeHealth(t, 'initial');
    const state = await makeHandler(t.deps)(workflowState({ registered: registered(31) }));
    expect(state.wait).toBeUndefined();
    expect(t.elb).not.toHaveReceivedCommand(DescribeTargetHealthCommand);
  });
});
