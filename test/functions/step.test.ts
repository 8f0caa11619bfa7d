// The shared step wrapper, seen through a real handler (notify is the smallest).
import { PublishCommand } from '@aws-sdk/client-sns';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { makeHandler as makeNotify } from '../../functions/handlers/notify.ts';
import { makeHandler as makeLock } from '../../functions/handlers/lock.ts';
import { makeHandler as makeRelease } from '../../functions/handlers/release.ts';
import { DescribeInstanceStatusCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { BatchGetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { NOW, OLD, TABLES, allStubs, ec2Instance, incidentInput, makeTestDeps, reservations, workflowState, type TestContext } from './fixtures.ts';

const alert = { kind: 'quarantine' as const, subject: 'rapid-failover: web: node quarantined', message: 'Node was set aside.\nWhat to do: inspect it.' };

describe('step wrapper', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  it('refuses malformed input with ValidationError before touching anything', async () => {
    const notify = makeNotify(t.deps);
    await expect(notify({ incidentId: 'x' })).rejects.toMatchObject({ name: ErrorNames.Validation });
    await expect(notify({ ...workflowState(), attempt: -1 })).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining('attempt') });
    await expect(notify({ ...workflowState(), app: 'nope' })).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining("unknown application 'nope'") });
    await expect(makeLock(t.deps)({ ...incidentInput(), incidentId: 'has spaces' })).rejects.toMatchObject({ name: ErrorNames.Validation });
    for (const stub of allStubs(t)) expect(stub.calls()).toHaveLength(0);
  });

  it("records the step's first start and last end in the failover record", async () => {
    await makeNotify(t.deps)(workflowState({ pendingAlert: alert }));
    expect(t.ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLES.records,
      Key: { app: 'web', incidentId: workflowState().incidentId },
      UpdateExpression: expect.stringMatching(/if_not_exists/),
    });
    const timing = t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => Object.values(i.ExpressionAttributeNames ?? {}).includes('notifyStartedAt'));
    expect(Object.values(timing?.ExpressionAttributeNames ?? {})).toEqual(expect.arrayContaining(['notifyStartedAt', 'notifyEndedAt']));
  });

  it('maps throttling anywhere in a step to AwsThrottledError and still records the attempt', async () => {
    t.sns.on(PublishCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(makeNotify(t.deps)(workflowState({ pendingAlert: alert }))).rejects.toMatchObject({ name: ErrorNames.AwsThrottled });
    const names = t.ddb.commandCalls(UpdateCommand).flatMap((c) => Object.values(c.args[0].input.ExpressionAttributeNames ?? {}));
    expect(names).toContain('notifyLastError');
  });

  it('a failed timing write never fails the step', async () => {
    t.ddb.on(UpdateCommand).rejects(new Error('records table unavailable'));
    const out = await makeNotify(t.deps)(workflowState({ pendingAlert: alert }));
    expect(out.alerts).toEqual([alert]);
  });

  it('puts the incident on log lines for the invocation only, and flushes metrics once', async () => {
    const append = vi.spyOn(t.deps.logger, 'appendKeys');
    const remove = vi.spyOn(t.deps.logger, 'removeKeys');
    t.addMetric.mockImplementation(() => undefined);
    vi.spyOn(t.deps.metrics, 'hasStoredMetrics').mockReturnValue(true);
    await makeNotify(t.deps)(workflowState({ pendingAlert: alert }));
    expect(append).toHaveBeenCalledWith({ incidentId: workflowState().incidentId, app: 'web', step: 'notify' });
    expect(remove).toHaveBeenCalledWith(['incidentId', 'app', 'step']);
    expect(t.publishMetrics).toHaveBeenCalledTimes(1);
  });

  describe('a step that waits (release, halting a slow app on its old node: C9)', () => {
    const performance = { kind: 'performance' as const, source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' };
    const halting = () => workflowState({ trigger: performance, progress: { 'shift.shiftedAt': NOW.toISOString(), 'shift.fence': 'halting' } });
    const timingWrites = (t: TestContext) =>
      t.ddb.commandCalls(UpdateCommand).filter((c) => Object.values(c.args[0].input.ExpressionAttributeNames ?? {}).includes('releaseStartedAt'));

    beforeEach(() => {
      t.ec2.on(DescribeInstancesCommand).resolves(reservations(ec2Instance(OLD, { state: 'running' })));
      t.ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
      t.ddb.on(QueryCommand).resolves({ Items: [] });
      t.ddb.on(BatchGetCommand).resolves({ Responses: { [TABLES.state]: [] } });
    });

    it("returns the state with the wait the workflow's Choice routes on, instead of an error for a Retry to poll", async () => {
      const out = await makeRelease(t.deps)(halting());
      expect(out.wait).toMatchObject({ step: 'release', event: { key: `ssm:cmd-sent-1:${OLD}`, expect: ['Success'], then: 'again' } });
      expect(out).toMatchObject({ app: 'web', currentNode: OLD });
    });

    it('records its timing once, when it is done, from its first start (not once per run)', async () => {
      const first = await makeRelease(t.deps)(halting());
      expect(timingWrites(t)).toHaveLength(0);
      expect(first.progress['timing.release']).toBe(NOW.toISOString());

      t.ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: OLD, PingStatus: 'ConnectionLost' }] });
      const again = await makeRelease(t.deps)({ ...first, wait: undefined });
      expect(again.wait?.until).toBeDefined();
      expect(timingWrites(t)).toHaveLength(0);

      // Done at last (the halt was given up on, after its time): one write, from the first start.
      const later = new Date(NOW.getTime() + 10 * 60_000);
      t.clock.set(later);
      const done = await makeRelease(t.deps)({ ...again, wait: undefined });
      expect(done.wait).toBeUndefined();
      expect(done.progress['timing.release']).toBeUndefined();
      expect(timingWrites(t)).toHaveLength(1);
      expect(Object.values(timingWrites(t)[0]!.args[0].input.ExpressionAttributeValues ?? {})).toContain(NOW.toISOString());
    });
  });
});
