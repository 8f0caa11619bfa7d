import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { MetricNames } from '../../core/metrics.ts';
import { makeHandler } from '../../functions/handlers/lock.ts';
import { INCIDENT, NEW, NOW, NOW_SECONDS, OLD, TABLES, incidentInput, makeTestDeps, type TestContext } from './fixtures.ts';

function lockReturns(t: TestContext, old: Record<string, unknown> | undefined) {
  t.ddb.on(UpdateCommand, { TableName: TABLES.state }).resolves({ Attributes: old });
}

function recordUpdates(t: TestContext) {
  return t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).filter((i) => i.TableName === TABLES.records);
}

describe('lock', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  it('acquires the lock with a conditional lease write and starts from the initial state', async () => {
    lockReturns(t, { app: 'web', currentNode: OLD });
    const state = await makeHandler(t.deps)(incidentInput());

    expect(t.ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLES.state,
      Key: { app: 'web' },
      ConditionExpression: expect.stringMatching(/attribute_not_exists\(#n\d+\) OR #n\d+ < :v\d+ OR #n\d+ = :v\d+/),
    });
    expect(state).toMatchObject({ outcome: null, currentNode: OLD, attempt: 0, claim: null, settleSeconds: 60, startedAt: NOW.toISOString() });
    expect(t.addMetric).toHaveBeenCalledWith(MetricNames.FailoversStarted, 'Count', 1);
    const lease = t.ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues ?? {};
    expect(Object.values(lease)).toContain(INCIDENT);
    expect(Object.values(lease).some((v) => typeof v === 'number' && v > NOW_SECONDS + 3600)).toBe(true);
  });

  it('creates the failover record with the trigger and the node it starts from', async () => {
    lockReturns(t, { app: 'web', currentNode: OLD });
    await makeHandler(t.deps)(incidentInput());
    const [record] = recordUpdates(t);
    expect(record?.Key).toEqual({ app: 'web', incidentId: INCIDENT });
    expect(Object.values(record?.ExpressionAttributeValues ?? {})).toEqual(expect.arrayContaining([OLD, incidentInput().trigger]));
  });

  it('a second incident for the same application is deduplicated while the lock is held', async () => {
    t.ddb.on(UpdateCommand, { TableName: TABLES.state }).rejects(new ConditionalCheckFailedException({ message: 'held', $metadata: {} }));
    t.ddb.on(GetCommand, { TableName: TABLES.state }).resolves({ Item: { app: 'web', lockIncident: 'other-incident' } });
    const state = await makeHandler(t.deps)(incidentInput());
    expect(state.outcome).toBe('deduplicated');
    expect(state.explanation.join(' ')).toContain('other-incident');
    expect(t.addMetric).not.toHaveBeenCalledWith(MetricNames.FailoversStarted, 'Count', 1);
    expect(Object.values(recordUpdates(t)[0]?.ExpressionAttributeValues ?? {})).toContain('deduplicated');
  });

  it('re-entry by the same incident acquires again without counting a second start', async () => {
    lockReturns(t, { app: 'web', currentNode: OLD, lockIncident: INCIDENT });
    const state = await makeHandler(t.deps)(incidentInput());
    expect(state.outcome).toBeNull();
    expect(t.addMetric).not.toHaveBeenCalled();
  });

  it('damps flapping: inside the cooldown the application stays, with the reason', async () => {
    const recent = new Date(NOW.getTime() - 60_000).toISOString();
    lockReturns(t, { app: 'web', currentNode: OLD, history: [{ incidentId: 'earlier', startedAt: recent, outcome: 'failed-over' }] });
    const state = await makeHandler(t.deps)(incidentInput());
    expect(state.outcome).toBe('stayed');
    expect(state.explanation[0]).toMatch(/cooldown/);
  });

  it('an operator switchover bypasses the cooldown (C6)', async () => {
    const recent = new Date(NOW.getTime() - 60_000).toISOString();
    lockReturns(t, { app: 'web', currentNode: OLD, history: [{ incidentId: 'earlier', startedAt: recent, outcome: 'failed-over' }] });
    const input = incidentInput({ trigger: { kind: 'switchover', source: 'alice', reason: 'maintenance', observedAt: NOW.toISOString() } });
    expect((await makeHandler(t.deps)(input)).outcome).toBeNull();
  });

  it('C7: with switching disabled only an operator switchover moves the application', async () => {
    lockReturns(t, { app: 'web', currentNode: OLD, switchingDisabled: true, switchingDisabledReason: 'last node' });
    const state = await makeHandler(t.deps)(incidentInput());
    expect(state.outcome).toBe('stayed');
    expect(state.explanation[0]).toMatch(/C7/);
  });

  it('a failure event about a node the application already left is stale: it stays', async () => {
    lockReturns(t, { app: 'web', currentNode: NEW });
    const state = await makeHandler(t.deps)(incidentInput({ fromNode: OLD }));
    expect(state).toMatchObject({ outcome: 'stayed', currentNode: NEW });
  });

  it('C2: without a state item the application is on its preferred node', async () => {
    lockReturns(t, undefined);
    expect((await makeHandler(t.deps)(incidentInput())).currentNode).toBe(OLD);
  });

  it('an offline (preempted) application has no current node to fence', async () => {
    lockReturns(t, { app: 'web', offline: true, offlineReason: 'preempted' });
    expect((await makeHandler(t.deps)(incidentInput())).currentNode).toBeNull();
  });

  it('throttled lock writes surface as AwsThrottledError', async () => {
    t.ddb.on(UpdateCommand, { TableName: TABLES.state }).rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(makeHandler(t.deps)(incidentInput())).rejects.toMatchObject({ name: ErrorNames.AwsThrottled });
  });
});
