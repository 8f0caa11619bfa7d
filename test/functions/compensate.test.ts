import { AssociateAddressCommand, DescribeAddressesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand, DescribeTargetHealthCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PublishCommand } from '@aws-sdk/client-sns';
import { CancelCommandCommand, GetCommandInvocationCommand } from '@aws-sdk/client-ssm';
import { GetCommand, ScanCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { makeHandler } from '../../functions/handlers/compensate.ts';
import { EIP, INCIDENT, NEW, OLD, TABLES, TG_WEB, TG_WEB_2, claimItem, ec2Instance, lambdaCause, ledgerHas, makeTestDeps, reservations, workflowState, type TestContext } from './fixtures.ts';

const performance = { kind: 'performance' as const, source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:55:00.000Z' };

function failed(error: string, message: string, overrides: Partial<WorkflowState> = {}): WorkflowState {
  return workflowState({ failure: { Error: error, Cause: lambdaCause(error, message) }, ...overrides });
}

function claimIs(t: TestContext, item: Record<string, unknown> | undefined) {
  t.ddb.on(GetCommand, { TableName: TABLES.claims }).resolves({ Item: item });
}

function claimWrites(t: TestContext) {
  return t.ddb.commandCalls(TransactWriteCommand).flatMap((c) => c.args[0].input.TransactItems ?? []);
}

describe('compensate', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    claimIs(t, claimItem(NEW));
  });

  it('A13: a node that timed out is taken out of the cluster, released, and another node is tried', async () => {
    const state = await makeHandler(t.deps)(failed(ErrorNames.StepTimeout, 'provisioning took too long'));

    for (const arn of [TG_WEB, TG_WEB_2]) expect(t.elb).toHaveReceivedCommandWith(DeregisterTargetsCommand, { TargetGroupArn: arn, Targets: [{ Id: NEW, Port: 8080 }] });
    expect(claimWrites(t)[0]?.Delete).toMatchObject({ Key: { nodeId: NEW, holder: 'web' } });
    expect(state).toMatchObject({ claim: null, triedNodes: [NEW], pendingAlert: null, outcome: null, attempt: 1 });
    expect(state.failure).toBeUndefined();
    expect(state.explanation.at(-1)).toContain('trying another node (A13)');
  });

  it('A13: a hung command this incident started on the node given up is cancelled (not one that ended, not on another node)', async () => {
    ledgerHas(t, [
      { instanceId: NEW, purpose: 'provision', index: 0, commandId: 'install-0' },
      { instanceId: NEW, purpose: 'provision', index: 1, commandId: 'install-1' },
      { instanceId: OLD, purpose: 'halt', index: 0, commandId: 'halt-0' },
    ]);
    t.ssm.on(GetCommandInvocationCommand, { CommandId: 'install-0' }).resolves({ Status: 'Success' });
    t.ssm.on(GetCommandInvocationCommand, { CommandId: 'install-1' }).resolves({ Status: 'InProgress' });
    t.ssm.on(GetCommandInvocationCommand, { CommandId: 'halt-0' }).resolves({ Status: 'InProgress' });

    const state = await makeHandler(t.deps)(failed(ErrorNames.StepTimeout, 'provisioning took too long'));

    expect(t.ssm).toHaveReceivedCommandTimes(CancelCommandCommand, 1);
    expect(t.ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'install-1', InstanceIds: [NEW] });
    expect(state.explanation.join('\n')).toContain(`cancelled 1 command(s) still running on ${NEW}: install-1`);
  });

  it('A13: a node the failure says is bad (failed root-volume swap) is quarantined with the reason', async () => {
    const state = await makeHandler(t.deps)(failed(ErrorNames.ProvisioningFailed, 'root volume replacement replacevol-1 on i-2 ended failed'));
    const put = claimWrites(t).find((w) => w.Put)?.Put;
    expect(put?.Item).toMatchObject({ nodeId: NEW, role: 'quarantined', reason: expect.stringContaining('replacevol-1') });
    expect(state.claim).toBeNull();
  });

  it('A13: attempts exhausted: administrators are alerted, naming the nodes tried', async () => {
    const state = await makeHandler(t.deps)(failed(ErrorNames.JoinFailed, 'unhealthy', { attempt: 3, triedNodes: ['i-00000000000000005', 'i-00000000000000006'] }));
    expect(state.pendingAlert).toMatchObject({ kind: 'attempts-exhausted' });
    expect(state.pendingAlert?.message).toContain(NEW);
    expect(state.failure?.Error).toBe(ErrorNames.JoinFailed);
  });

  it('C7: the last possible node failing disables switching and alerts', async () => {
    const last = failed(ErrorNames.ProvisioningFailed, 'x', { claim: { ...workflowState().claim!, lastPossibleNode: true } });
    const state = await makeHandler(t.deps)(last);
    expect(state.pendingAlert?.kind).toBe('last-possible-node');
    const disabled = t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.TableName === TABLES.state);
    expect(Object.values(disabled?.ExpressionAttributeValues ?? {})).toContain(true);
  });

  it('a half-done shift on a performance trigger is rolled back to the old node, which still runs', async () => {
    t.ec2.on(DescribeInstancesCommand).resolves(reservations(ec2Instance(OLD)));
    t.ec2.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: EIP, InstanceId: NEW }] });
    t.elb.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: OLD }, TargetHealth: { State: 'draining' } }] });
    await makeHandler(t.deps)(failed('Error', 'boom', { trigger: performance }));
    expect(t.ec2).toHaveReceivedCommandWith(AssociateAddressCommand, { AllocationId: EIP, InstanceId: OLD, AllowReassociation: true });
    expect(t.elb).toHaveReceivedCommandWith(RegisterTargetsCommand, { TargetGroupArn: TG_WEB, Targets: [{ Id: OLD, Port: 8080 }] });
  });

  it('after traffic shifted (release failed) the shift is never undone: the old node is quarantined and administrators told', async () => {
    claimIs(t, claimItem(NEW, { role: 'serving', leaseExpiresAt: 253_402_300_799 }));
    const state = await makeHandler(t.deps)(failed('States.TaskFailed', 'release blew up'));
    expect(t.elb).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(state).toMatchObject({ outcome: 'failed-over', claim: { nodeId: NEW }, pendingAlert: { kind: 'quarantine' } });
    expect(state.pendingAlert?.message).toContain(`Where it runs now: ${NEW}`);
    const put = claimWrites(t).find((w) => w.Put)?.Put;
    expect(put?.Item).toMatchObject({ nodeId: OLD, role: 'quarantined' });
  });

  it('a claim lost from the state (select threw after claiming) is found by incident and released', async () => {
    t.ddb.on(ScanCommand).resolves({ Items: [claimItem(NEW)] });
    const state = await makeHandler(t.deps)(failed(ErrorNames.AwsThrottled, 'throttled', { claim: null, attempt: 0 }));
    expect(claimWrites(t)[0]?.Delete).toMatchObject({ Key: { nodeId: NEW, holder: 'web' } });
    expect(state.triedNodes).toEqual([NEW]);
  });

  it('nothing claimed: no node failed, the workflow did: alert and stop (no retry loop)', async () => {
    t.ddb.on(ScanCommand).resolves({ Items: [] });
    const state = await makeHandler(t.deps)(failed('Error', 'selection crashed', { claim: null, attempt: 0 }));
    expect(state.pendingAlert?.kind).toBe('workflow-error');
    expect(state.pendingAlert?.message).toContain('selection crashed');
    expect(t.elb.calls()).toHaveLength(0);
  });

  it('a lease another incident holds now is left alone', async () => {
    claimIs(t, claimItem(NEW, { incidentId: 'another' }));
    const state = await makeHandler(t.deps)(failed(ErrorNames.LeaseLost, 'gone'));
    expect(t.elb.calls()).toHaveLength(0);
    expect(t.ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(state.claim).toBeNull();
  });

  it('an alert still pending is published before retrying, so the retry is not cut short', async () => {
    const pendingAlert = { kind: 'quarantine' as const, subject: 's', message: 'm' };
    const state = await makeHandler(t.deps)(failed(ErrorNames.StepTimeout, 'slow', { pendingAlert }));
    expect(t.sns).toHaveReceivedCommandWith(PublishCommand, { Subject: 's' });
    expect(state.pendingAlert).toBeNull();
    expect(state.alerts).toEqual([pendingAlert]);
    expect(state.incidentId).toBe(INCIDENT);
  });
});
