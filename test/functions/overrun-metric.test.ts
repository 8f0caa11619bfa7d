// What the failover-overrun alarm reads (issue 10 §1): every step visit reports how far its
// failover is past the longest its application's config allows, and the handlers' metrics carry
// the stack's name so a second stack's alarm does not read them (§2).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { beforeEach, describe, expect, it } from 'vitest';
import { failoverBound } from '../../core/failover-bound.ts';
import { MetricNames } from '../../core/metrics.ts';
import { buildDeps } from '../../functions/deps.ts';
import { makeHandler as makeNotify } from '../../functions/handlers/notify.ts';
import { NOW, TEST_STACK, makeTestDeps, testConfig, testEnvironment, workflowState, type TestContext } from './fixtures.ts';

const web = () => testConfig().applications.find((a) => a.name === 'web')!;

describe('FailoverOverrunSeconds', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });
  const reported = () => (t.addMetric.mock.calls as Array<[string, string, number]>).filter(([name]) => name === MetricNames.FailoverOverrunSeconds).map(([, unit, value]) => [unit, value]);

  it('is 0 while the failover is within its bound', async () => {
    await makeNotify(t.deps)(workflowState({ startedAt: new Date(NOW.getTime() - 60_000).toISOString() }));
    expect(reported()).toEqual([[MetricUnit.Seconds, 0]]);
  });

  it("is how far past the application's bound a step finds its failover", async () => {
    const bound = failoverBound(web()).seconds;
    await makeNotify(t.deps)(workflowState({ startedAt: new Date(NOW.getTime() - (bound + 125) * 1000).toISOString() }));
    expect(reported()).toEqual([[MetricUnit.Seconds, 125]]);
  });
});

describe("the handlers' metrics", () => {
  it("carry the stack's name as a dimension, beside the service", () => {
    const deps = buildDeps({ env: { ...testEnvironment(), stackName: TEST_STACK } });
    deps.metrics.addMetric(MetricNames.FailoversStarted, MetricUnit.Count, 1);
    const emf = deps.metrics.serializeMetrics() as unknown as { _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][] }> }; service: string; stack: string };
    expect(emf._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service', 'stack']]);
    expect({ service: emf.service, stack: emf.stack }).toEqual({ service: 'rapid-failover', stack: TEST_STACK });
  });
});
