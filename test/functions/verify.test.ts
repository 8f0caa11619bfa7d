import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { makeHandler } from '../../functions/handlers/verify.ts';
import { NEW, NOW, OLD, TABLES, makeTestDeps, workflowState, type TestContext } from './fixtures.ts';

const performance = { kind: 'performance' as const, source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:55:00.000Z' };
const afterRelease = (overrides: Partial<WorkflowState> = {}) => workflowState({ trigger: performance, ...overrides });

function datapoints(t: TestContext, values: number[]) {
  t.cloudwatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [{ Id: 'perf', Timestamps: values.map((_, i) => new Date(NOW.getTime() - (values.length - i) * 60_000)), Values: values }],
  });
}

describe('verify', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  it("A15: reads the metric on the new node (its InstanceId dimension) over the alarm's window", async () => {
    datapoints(t, [150, 160, 170, 180, 190]);
    await makeHandler(t.deps)(afterRelease());
    expect(t.cloudwatch).toHaveReceivedCommandWith(GetMetricDataCommand, {
      StartTime: new Date(NOW.getTime() - 5 * 60 * 1000),
      EndTime: NOW,
      MetricDataQueries: [
        expect.objectContaining({
          MetricStat: expect.objectContaining({
            Metric: { Namespace: 'Shop/Web', MetricName: 'RequestsPerSecondPerHost', Dimensions: [{ Name: 'Service', Value: 'web' }, { Name: 'InstanceId', Value: NEW }] },
            Period: 60,
            Stat: 'Average',
          }),
        }),
      ],
    });
  });

  it('A15: performance recovered on the new node: failed over', async () => {
    datapoints(t, [150, 160, 50, 180, 190]);
    const state = await makeHandler(t.deps)(afterRelease());
    expect(state).toMatchObject({ outcome: 'failed-over', claim: { nodeId: NEW } });
    expect(state.explanation.at(-1)).toContain('recovered');
  });

  it('A15: still below threshold (M of N) with attempts left: fail over again from the new node', async () => {
    datapoints(t, [50, 60, 70, 180, 190]);
    const state = await makeHandler(t.deps)(afterRelease({ attempt: 1 }));
    expect(state).toMatchObject({ outcome: null, claim: null, currentNode: NEW, attempt: 1 });
    expect(state.triedNodes).toEqual(expect.arrayContaining([OLD, NEW]));
  });

  it('A15: still degraded but no attempts left: done, with the reason', async () => {
    datapoints(t, [50, 60, 70, 80, 90]);
    const state = await makeHandler(t.deps)(afterRelease({ attempt: 3 }));
    expect(state.outcome).toBe('failed-over');
    expect(state.explanation.at(-1)).toContain('no attempts remain');
  });

  it('C7: switching disabled stops a further hop', async () => {
    datapoints(t, [50, 60, 70, 80, 90]);
    t.ddb.on(GetCommand, { TableName: TABLES.state }).resolves({ Item: { app: 'web', switchingDisabled: true } });
    const state = await makeHandler(t.deps)(afterRelease());
    expect(state.outcome).toBe('failed-over');
  });

  it('a pending alert is published before hopping, so the next Choice does not end the run', async () => {
    datapoints(t, [50, 60, 70, 80, 90]);
    const pendingAlert = { kind: 'quarantine' as const, subject: 's', message: 'm' };
    const state = await makeHandler(t.deps)(afterRelease({ pendingAlert }));
    expect(t.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(state).toMatchObject({ pendingAlert: null, alerts: [pendingAlert], claim: null });
  });

  it('missing datapoints are not evidence of slowness', async () => {
    datapoints(t, []);
    expect((await makeHandler(t.deps)(afterRelease())).outcome).toBe('failed-over');
  });

  it('throttled GetMetricData is AwsThrottledError', async () => {
    t.cloudwatch.on(GetMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(makeHandler(t.deps)(afterRelease())).rejects.toMatchObject({ name: ErrorNames.AwsThrottled });
  });
});
