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
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { BatchGetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { makeHandler } from '../../functions/handlers/shift.ts';
import { EIP, INCIDENT, NEW, NOW, OLD, TABLES, TG_WEB, TG_WEB_2, claimItem, ec2Instance, makeTestDeps, reservations, workflowState, type TestContext } from './fixtures.ts';

const performance = { kind: 'performance' as const, source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' };

function oldIs(t: TestContext, state: string) {
  t.ec2.on(DescribeInstancesCommand, { InstanceIds: [OLD] }).resolves(reservations(ec2Instance(OLD, { state })));
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
  });

  it('C1/C5: on a failure trigger the old host is stopped (forced) and the step waits before moving the address', async () => {
    oldIs(t, 'running');
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepPending, message: expect.stringContaining('fencing') });
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
