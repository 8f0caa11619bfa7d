import { CreateTagsCommand, DeleteTagsCommand, DescribeInstanceStatusCommand, DescribeInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { CancelCommandCommand, GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { makeHandler } from '../../functions/handlers/release.ts';
import { INCIDENT, NEW, NOW, OLD, TABLES, claimItem, ec2Instance, ledgerHas, makeTestDeps, reservations, workflowState, type TestContext, waitOf } from './fixtures.ts';

const performance = { kind: 'performance' as const, source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' };

/** After shift: traffic on NEW since `shiftedAgo` seconds. */
function afterShift(overrides: Partial<WorkflowState> = {}, shiftedAgo = 5): WorkflowState {
  const shiftedAt = new Date(NOW.getTime() - shiftedAgo * 1000).toISOString();
  return workflowState({ trigger: performance, progress: { 'shift.fence': 'halting', 'shift.shiftedAt': shiftedAt }, ...overrides });
}

function oldIs(t: TestContext, state: string, pool = 'general') {
  t.ec2.on(DescribeInstancesCommand).resolves(reservations(ec2Instance(OLD, { state, pool })));
}

/** The halt commands shift sent to OLD, as the ledger recorded them, and their statuses. */
function haltCommands(t: TestContext, statuses: string[]) {
  ledgerHas(t, statuses.map((_, index) => ({ instanceId: OLD, purpose: 'halt', index, commandId: `halt-${index}` })));
  statuses.forEach((Status, i) => t.ssm.on(GetCommandInvocationCommand, { CommandId: `halt-${i}` }).resolves({ Status: Status as never }));
}

function claimWrites(t: TestContext) {
  return t.ddb.commandCalls(TransactWriteCommand).flatMap((c) => c.args[0].input.TransactItems ?? []);
}

describe('release', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    t.ddb.on(QueryCommand).resolves({ Items: [] });
    t.ddb.on(BatchGetCommand).resolves({ Responses: { [TABLES.state]: [] } });
    t.ddb.on(GetCommand, { TableName: TABLES.claims }).resolves({ Item: claimItem(OLD, { incidentId: 'earlier', role: 'serving', leaseExpiresAt: 253_402_300_799 }) });
    t.ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [{ InstanceId: OLD, InstanceStatus: { Status: 'ok' }, SystemStatus: { Status: 'ok' } }] });
  });

  it('C3/C9: waits for the halt documents shift started, driving them in order', async () => {
    oldIs(t, 'running');
    haltCommands(t, ['Success']);
    expect((await waitOf(makeHandler(t.deps)(afterShift()))).detail).toEqual(expect.stringContaining('halting web'));
    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, { InstanceIds: [OLD], Parameters: { commands: ['systemctl stop web-sidecar'], executionTimeout: ['60'] } });
  });

  it('A8: a halted, healthy old node goes back to the pool: its claim is deleted and it is tagged free', async () => {
    oldIs(t, 'running');
    haltCommands(t, ['Success', 'Success']);
    const state = await makeHandler(t.deps)(afterShift());

    expect(state.progress['release.disposition']).toBe('returned');
    expect(state.pendingAlert).toBeNull();
    const writes = claimWrites(t);
    expect(writes[0]?.Delete).toMatchObject({ TableName: TABLES.claims, Key: { nodeId: OLD, holder: 'web' } });
    expect(t.ec2).toHaveReceivedCommandWith(DeleteTagsCommand, { Resources: [OLD] });
    expect(t.ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [OLD], Tags: [{ Key: 'rapid-failover:role', Value: 'free' }] });
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  it('C4: records the halt on the state item for the watchdog', async () => {
    oldIs(t, 'running');
    haltCommands(t, ['Success', 'Success']);
    await makeHandler(t.deps)(afterShift());
    const mark = t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.TableName === TABLES.state);
    expect(Object.values(mark?.ExpressionAttributeValues ?? {})).toContainEqual({ node: OLD, at: NOW.toISOString(), incidentId: INCIDENT, disposition: 'returned' });
  });

  it('A8: an old node whose failure triggered the failover is quarantined with the reason, and administrators are told', async () => {
    oldIs(t, 'stopped');
    const failed = afterShift({ trigger: { kind: 'failure', source: 'rapid-failover-web-status-check', reason: 'status checks failing', observedAt: '2025-03-01T11:59:00.000Z' }, progress: { 'shift.fence': 'stopped', 'shift.shiftedAt': NOW.toISOString() } });
    const state = await makeHandler(t.deps)(failed);

    expect(state.progress['release.disposition']).toBe('quarantined');
    expect(state.pendingAlert).toMatchObject({ kind: 'quarantine', message: expect.stringContaining('status checks failing') });
    const put = claimWrites(t).find((w) => w.Put)?.Put;
    expect(put?.Item).toMatchObject({ nodeId: OLD, holder: 'web', role: 'quarantined', reason: expect.stringContaining('status checks failing') });
    expect(put?.Item?.ttl).toBeUndefined();
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('A8/C1: a host shift found stopped (and noted the pool of) is quarantined without describing it again; it is tagged as the pool node it is', async () => {
    const failed = afterShift({
      trigger: { kind: 'failure', source: 'rapid-failover-web-status-check', reason: 'status checks failing', observedAt: '2025-03-01T11:59:00.000Z' },
      progress: { 'shift.fence': 'stopped', 'shift.oldPool': 'general', 'shift.shiftedAt': NOW.toISOString() },
    });
    const state = await makeHandler(t.deps)(failed);

    expect(state.progress['release.disposition']).toBe('quarantined');
    expect(t.ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
    expect(t.ec2).not.toHaveReceivedCommand(DescribeInstanceStatusCommand);
    expect(t.ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [OLD], Tags: [{ Key: 'rapid-failover:role', Value: 'quarantined' }] });
  });

  it('a stopped host outside every pool (shift noted no pool) is quarantined in the claims table only: no tags on a node IAM does not let us tag', async () => {
    const failed = afterShift({
      trigger: { kind: 'failure', source: 'rapid-failover-web-status-check', reason: 'status checks failing', observedAt: '2025-03-01T11:59:00.000Z' },
      progress: { 'shift.fence': 'stopped', 'shift.oldPool': '', 'shift.shiftedAt': NOW.toISOString() },
    });
    const state = await makeHandler(t.deps)(failed);

    expect(state.progress['release.disposition']).toBe('quarantined');
    expect(t.ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
    expect(t.ec2).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  it('halt documents that do not finish in time get the node quarantined, not waited for forever, and are cancelled', async () => {
    oldIs(t, 'running');
    haltCommands(t, ['InProgress']);
    const state = await makeHandler(t.deps)(afterShift({}, 3_600));
    expect(state.progress['release.disposition']).toBe('quarantined');
    expect(state.pendingAlert?.message).toContain('did not finish');
    expect(t.ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'halt-0', InstanceIds: [OLD] });
  });

  it('impaired status checks quarantine the old node', async () => {
    oldIs(t, 'running');
    haltCommands(t, ['Success', 'Success']);
    t.ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [{ InstanceId: OLD, InstanceStatus: { Status: 'impaired' }, SystemStatus: { Status: 'ok' } }] });
    const state = await makeHandler(t.deps)(afterShift());
    expect(state.progress['release.disposition']).toBe('quarantined');
  });

  it('A8: with returnOldNodeToPool=false the old node is stopped and kept out of the pool, with why', async () => {
    oldIs(t, 'running');
    // web (whose preferred node is OLD) runs elsewhere by now, so OLD is db's alone.
    t.ddb.on(BatchGetCommand).resolves({ Responses: { [TABLES.state]: [{ app: 'web', currentNode: NEW }] } });
    const db = afterShift({ app: 'db' });
    const state = await makeHandler(t.deps)(db);
    expect(state.progress['release.disposition']).toBe('retained');
    expect(t.ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [OLD], Force: false });
    const put = claimWrites(t).find((w) => w.Put)?.Put;
    expect(put?.Item).toMatchObject({ role: 'retained', reason: expect.stringContaining('returnOldNodeToPool is false') });
    expect(state.pendingAlert).toBeNull();
  });

  it('B1: on a shared host only the application leaves; the host is never stopped', async () => {
    oldIs(t, 'running', 'hosts');
    haltCommands(t, ['Success', 'Success']);
    t.ddb.on(QueryCommand).resolves({ Items: [claimItem(OLD, { holder: 'audit', incidentId: 'a', role: 'serving', leaseExpiresAt: 253_402_300_799 })] });
    const state = await makeHandler(t.deps)(afterShift());
    expect(state.progress['release.disposition']).toBe('left-on-host');
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(t.ec2).toHaveReceivedCommandWith(DeleteTagsCommand, { Tags: [{ Key: 'rapid-failover:app:web' }] });
  });

  it('A11/B1: a host that still hosts others keeps its serving role, so their status checks stay watched; the last one leaving sets it free', async () => {
    oldIs(t, 'running', 'hosts');
    haltCommands(t, ['Success', 'Success']);
    t.ddb.on(QueryCommand).resolves({ Items: [claimItem(OLD, { holder: 'audit', incidentId: 'a', role: 'serving', leaseExpiresAt: 253_402_300_799 })] });
    await makeHandler(t.deps)(afterShift());
    const roleTags = () => t.ec2.commandCalls(CreateTagsCommand).filter((c) => (c.args[0].input.Tags ?? []).some((tag) => tag.Key === 'rapid-failover:role'));
    expect(roleTags()).toEqual([]);

    t = makeTestDeps();
    t.ddb.on(BatchGetCommand).resolves({ Responses: { [TABLES.state]: [] } });
    t.ddb.on(GetCommand, { TableName: TABLES.claims }).resolves({ Item: claimItem(OLD, { incidentId: 'earlier', role: 'serving', leaseExpiresAt: 253_402_300_799 }) });
    t.ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [{ InstanceId: OLD, InstanceStatus: { Status: 'ok' }, SystemStatus: { Status: 'ok' } }] });
    oldIs(t, 'running', 'hosts');
    haltCommands(t, ['Success', 'Success']);
    t.ddb.on(QueryCommand).resolves({ Items: [] });
    await makeHandler(t.deps)(afterShift());
    expect(t.ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [OLD], Tags: [{ Key: 'rapid-failover:role', Value: 'free' }] });
  });

  it('nothing to release when there was no old node', async () => {
    const state = await makeHandler(t.deps)(afterShift({ currentNode: null }));
    expect(state.progress['release.disposition']).toBe('none');
    expect(t.ec2.calls()).toHaveLength(0);
  });

  it('never touches the new node', async () => {
    oldIs(t, 'running');
    haltCommands(t, ['Success', 'Success']);
    await makeHandler(t.deps)(afterShift());
    const touched = t.ec2.calls().flatMap((c) => (c.args[0].input as { Resources?: string[]; InstanceIds?: string[] }).Resources ?? (c.args[0].input as { InstanceIds?: string[] }).InstanceIds ?? []);
    expect(touched).not.toContain(NEW);
  });
});
