import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { MetricNames } from '../../core/metrics.ts';
import { makeHandler as makeFinish } from '../../functions/handlers/finish.ts';
import { makeHandler as makeNotify } from '../../functions/handlers/notify.ts';
import { INCIDENT, NEW, OLD, TABLES, TOPIC_ARN, lambdaCause, makeTestDeps, workflowState, type TestContext } from './fixtures.ts';

const alert = { kind: 'attempts-exhausted' as const, subject: 'rapid-failover: web: failover failed on every node tried', message: 'Failover of web failed.\nWhat to do: fix it.' };

describe('notify', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  it('publishes the pending alert once, moves it to alerts and marks the incident alerted', async () => {
    const state = await makeNotify(t.deps)(workflowState({ pendingAlert: alert }));
    expect(t.sns).toHaveReceivedCommandExactlyOnceWith(PublishCommand, { TopicArn: TOPIC_ARN, Subject: alert.subject, Message: alert.message });
    expect(state).toMatchObject({ alerts: [alert], pendingAlert: null, outcome: 'alerted' });
  });

  it('keeps an outcome already decided (the shift stood, only the old node needs a look)', async () => {
    const state = await makeNotify(t.deps)(workflowState({ pendingAlert: alert, outcome: 'failed-over' }));
    expect(state.outcome).toBe('failed-over');
  });

  it('reached from a Catch with no alert prepared, it reports the workflow error in words', async () => {
    const state = await makeNotify(t.deps)(workflowState({ failure: { Error: 'States.TaskFailed', Cause: lambdaCause('Error', 'lock table missing') } }));
    const message = t.sns.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? '';
    expect(message).toContain('States.TaskFailed: lock table missing');
    expect(state.alerts[0]?.kind).toBe('workflow-error');
  });
});

describe('finish', () => {
  let t: TestContext;
  const shiftedAt = '2025-03-01T11:59:42.500Z';

  function arrange(appState: Record<string, unknown> | undefined, record: Record<string, unknown>) {
    t.ddb.on(GetCommand, { TableName: TABLES.state }).resolves({ Item: appState });
    t.ddb.on(GetCommand, { TableName: TABLES.records }).resolves({ Item: { app: 'web', incidentId: INCIDENT, ...record } });
  }

  function events(): { type: string; detail: Record<string, unknown> }[] {
    return t.events.commandCalls(PutEventsCommand).flatMap((c) => (c.args[0].input.Entries ?? []).map((e) => ({ type: e.DetailType ?? '', detail: JSON.parse(e.Detail ?? '{}') })));
  }

  function recordValues(): unknown[] {
    return t.ddb
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input)
      .filter((i) => i.TableName === TABLES.records && Object.values(i.ExpressionAttributeNames ?? {}).includes('outcome'))
      .flatMap((i) => Object.values(i.ExpressionAttributeValues ?? {}));
  }

  beforeEach(() => {
    t = makeTestDeps();
  });

  it('A1/C8: records the failover with its RTO and announces Service Up; A11: it touches no alarm (no drift: detection follows the serving tag)', async () => {
    arrange({ app: 'web', currentNode: NEW, lockIncident: INCIDENT }, { shiftedAt, fromNode: OLD });
    const state = await makeFinish(t.deps)(workflowState());

    expect(state.outcome).toBe('failed-over');
    // Trigger observed 11:59:00.000, traffic shifted 11:59:42.500.
    expect(recordValues()).toEqual(expect.arrayContaining(['failed-over', NEW, 42.5]));
    expect(events()).toEqual([{ type: 'Service Up', detail: expect.objectContaining({ app: 'web', node: NEW, previousNode: OLD, incidentId: INCIDENT }) }]);
    // A CloudFormation-owned alarm rewritten at run time drifts, and lets the role attach EC2 actions to any instance.
    expect(t.cloudwatch.calls()).toEqual([]);
    expect(t.addMetric).toHaveBeenCalledWith(MetricNames.FailoversSucceeded, 'Count', 1);
    expect(t.addMetric).toHaveBeenCalledWith(MetricNames.RtoSeconds, 'Seconds', 42.5);
  });

  it('releases the lock only if this incident holds it, and adds the incident to the history (damping)', async () => {
    arrange({ app: 'web', currentNode: NEW, history: [{ incidentId: 'old-one', startedAt: '2025-02-01T00:00:00.000Z', outcome: 'failed-over' }] }, { shiftedAt });
    await makeFinish(t.deps)(workflowState());
    const updates = t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).filter((i) => i.TableName === TABLES.state);
    const unlock = updates.find((i) => i.UpdateExpression?.startsWith('REMOVE'));
    expect(unlock?.ConditionExpression).toMatch(/#n\d+ = :v\d+/);
    expect(Object.values(unlock?.ExpressionAttributeValues ?? {})).toEqual([INCIDENT]);
    const history = updates.flatMap((i) => Object.values(i.ExpressionAttributeValues ?? {})).find(Array.isArray);
    expect(history).toEqual([
      { incidentId: 'old-one', startedAt: '2025-02-01T00:00:00.000Z', outcome: 'failed-over' },
      { incidentId: INCIDENT, startedAt: workflowState().startedAt, outcome: 'failed-over' },
    ]);
  });

  it("a lock already taken by someone else is left alone and finish still succeeds", async () => {
    arrange({ app: 'web', currentNode: NEW }, { shiftedAt });
    let unlockTried = false;
    t.ddb.on(UpdateCommand).callsFake((input: { TableName?: string; UpdateExpression?: string }) => {
      if (input.TableName !== TABLES.state || !input.UpdateExpression?.startsWith('REMOVE')) return {};
      unlockTried = true;
      throw new ConditionalCheckFailedException({ message: 'not ours', $metadata: {} });
    });
    await expect(makeFinish(t.deps)(workflowState())).resolves.toMatchObject({ outcome: 'failed-over' });
    expect(unlockTried).toBe(true);
  });

  it("C6: a switchover that moved the application is 'switched-over'", async () => {
    arrange({ app: 'web', currentNode: NEW }, { shiftedAt });
    const state = await makeFinish(t.deps)(workflowState({ trigger: { kind: 'switchover', source: 'alice', reason: 'x', observedAt: '2025-03-01T11:59:00.000Z' } }));
    expect(state.outcome).toBe('switched-over');
  });

  it('A14: stayed (nothing moved): no service events, no success counted', async () => {
    arrange({ app: 'web', currentNode: OLD }, {});
    const perf = { kind: 'performance' as const, source: 'p', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' };
    const state = await makeFinish(t.deps)(workflowState({ trigger: perf, claim: null, outcome: 'stayed' }));
    expect(state.outcome).toBe('stayed');
    expect(t.events).not.toHaveReceivedCommand(PutEventsCommand);
    expect(t.addMetric).not.toHaveBeenCalledWith(MetricNames.FailoversSucceeded, 'Count', 1);
  });

  it('C8: an alerted failure announces Service Down and counts a failed failover', async () => {
    arrange({ app: 'web', currentNode: OLD }, {});
    const state = await makeFinish(t.deps)(workflowState({ claim: null, outcome: 'alerted', alerts: [alert] }));
    expect(state.outcome).toBe('alerted');
    expect(events()).toEqual([{ type: 'Service Down', detail: expect.objectContaining({ app: 'web', node: OLD }) }]);
    expect(t.addMetric).toHaveBeenCalledWith(MetricNames.FailoversFailed, 'Count', 1);
  });

  it('publishes an alert still pending (e.g. a quarantine from release) and records it', async () => {
    arrange({ app: 'web', currentNode: NEW }, { shiftedAt });
    const quarantine = { kind: 'quarantine' as const, subject: 'q', message: 'm' };
    const state = await makeFinish(t.deps)(workflowState({ pendingAlert: quarantine }));
    expect(t.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(state).toMatchObject({ pendingAlert: null, alerts: [quarantine], outcome: 'failed-over' });
    expect(recordValues()).toContainEqual([quarantine]);
  });

  it('a failed service event is logged, not allowed to fail the incident', async () => {
    arrange({ app: 'web', currentNode: NEW }, { shiftedAt });
    t.events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] });
    await expect(makeFinish(t.deps)(workflowState())).resolves.toMatchObject({ outcome: 'failed-over' });
  });

  it('a throttled PutEvents entry is retried (AwsThrottledError)', async () => {
    arrange({ app: 'web', currentNode: NEW }, { shiftedAt });
    t.events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] });
    await expect(makeFinish(t.deps)(workflowState())).rejects.toMatchObject({ name: 'AwsThrottledError' });
  });
});
