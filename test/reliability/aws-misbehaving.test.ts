// AWS misbehaving: throttling bursts on every service the workflow calls (ThrottlingException,
// RequestLimitExceeded, DynamoDB's ProvisionedThroughputExceededException), a burst longer than
// the workflow's retries, and eventual consistency (DescribeInstances lagging tag writes, SSM
// invocations not visible yet, targets that report healthy late). The workflow converges and the
// invariants hold.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import type { SimulationOptions } from '../../local/runtime/simulation.ts';
import { app, incidentsOf, node, nodeId, scenario } from '../workflow/fixtures.ts';
import { expectReliable, simulate, taskError } from './harness.ts';

const dynamoEndpoint = sharedDynamoEndpoint();

/** ledger's host fails; four free pool nodes. */
function failover(name: string) {
  return scenario({
    name,
    applications: [app('ledger')],
    instances: [node(1, { runs: ['ledger'] }), node(2), node(3), node(4), node(5)],
    timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
  });
}

/** DynamoDB throttles the calls whose 1-based index is in `calls` (as the SDK surfaces it after its own retries). */
function throttleDynamoDb(ddb: DynamoDBDocumentClient, calls: ReadonlySet<number>): { throttled: () => number } {
  let count = 0;
  let throttled = 0;
  ddb.middlewareStack.add(
    (next) => async (args) => {
      if (calls.has(++count)) {
        throttled++;
        const error = Object.assign(taskError('ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded.'), {
          $fault: 'client',
          $retryable: { throttling: true },
          $metadata: { httpStatusCode: 400 },
        });
        throw error;
      }
      return next(args);
    },
    { step: 'initialize', name: 'injectedThrottling', priority: 'high' },
  );
  return { throttled: () => throttled };
}

/** Task errors seen during the run, by name. */
function taskErrors(): { errors: Map<string, number>; onProgress: NonNullable<SimulationOptions['onProgress']> } {
  const errors = new Map<string, number>();
  return {
    errors,
    onProgress: (event) => {
      const error = event.task?.phase === 'error' ? event.task.error : undefined;
      if (error) errors.set(error, (errors.get(error) ?? 0) + 1);
    },
  };
}

describe('throttling', () => {
  it('bursts on EC2, SSM, ELB, SNS, CloudWatch, EventBridge and DynamoDB: retried with backoff, the failover completes', async () => {
    const s = failover('throttling-bursts');
    const { errors, onProgress } = taskErrors();
    let dynamo: { throttled: () => number } | undefined;

    const run = await simulate(s, {
      dynamoEndpoint,
      onProgress,
      beforeRun: ({ fleet, deps }) => {
        // Bursts each step's Retry (6 attempts, backoff from 2 s) absorbs: no step sees more than 6 in a row.
        fleet.faults
          .throttle('ec2', '*', 3, 'RequestLimitExceeded')
          .throttle('ssm', 'SendCommand', 1, 'ThrottlingException')
          .throttle('elbv2', 'RegisterTargets', 1, 'ThrottlingException')
          .throttle('elbv2', 'DescribeTargetHealth', 2)
          .throttle('sns', 'Publish', 2)
          .throttle('cloudwatch', '*', 2)
          .throttle('eventbridge', 'PutEvents', 2, 'ThrottlingException');
        dynamo = throttleDynamoDb(deps.ddb, new Set([3, 4, 20, 40, 41, 60]));
      },
    });

    expectReliable(run, s);
    const [incident, ...others] = incidentsOf(run.result, 'ledger');
    expect(others).toEqual([]);
    expect(incident).toMatchObject({ outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(2), attempts: 1 });
    expect(incident?.explanation.join('\n'), 'no node was given up').not.toMatch(/returned to the pool: AwsThrottledError/);
    expect(errors.get('AwsThrottledError') ?? 0, 'throttled steps were retried').toBeGreaterThanOrEqual(5);
    expect(dynamo?.throttled(), 'DynamoDB calls throttled').toBeGreaterThan(0);
    // The quarantine alert for the failed host got through its throttled Publish.
    expect(run.result.notifications.map((n) => n.subject)).toContain(`rapid-failover: ledger: node ${nodeId(1)} quarantined`);
  });

  it('a burst longer than the Retry budget: the step gives up, the workflow compensates and converges', async () => {
    const s = failover('throttling-storm');
    const { errors, onProgress } = taskErrors();

    const run = await simulate(s, {
      dynamoEndpoint,
      onProgress,
      // Every EC2 call for a while: more than 1 + 6 retries of any one step.
      beforeRun: ({ fleet }) => void fleet.faults.throttle('ec2', '*', 25, 'RequestLimitExceeded'),
    });

    expectReliable(run, s);
    expect(errors.get('AwsThrottledError') ?? 0).toBeGreaterThanOrEqual(7);
    const outcomes = incidentsOf(run.result, 'ledger').map((i) => i.outcome);
    expect(outcomes.length).toBeGreaterThan(0);
    for (const outcome of outcomes) expect(['failed-over', 'alerted']).toContain(outcome);
  });
});

describe('eventual consistency', () => {
  it('DescribeInstances lags tag writes, SSM invocations appear late, targets report healthy late: three hosts fail, two free nodes', async () => {
    const s = scenario({
      name: 'eventual-consistency',
      applications: [app('ledger'), app('orders'), app('search')],
      instances: [node(1, { runs: ['ledger'] }), node(2, { runs: ['orders'] }), node(3, { runs: ['search'] }), node(4), node(5)],
      timeline: [
        { at: 30, event: 'instance-failed', node: nodeId(1) },
        { at: 30, event: 'instance-failed', node: nodeId(2) },
        { at: 30, event: 'instance-failed', node: nodeId(3) },
      ],
    });

    const run = await simulate(s, {
      dynamoEndpoint,
      beforeRun: ({ fleet }) => {
        fleet.faults.tagsVisibleAfter(45_000).invocationsVisibleAfter(20_000).targetHealthyLate(nodeId(4), 90_000).targetHealthyLate(nodeId(5), 240_000);
      },
    });

    expectReliable(run, s);
    const failovers = run.result.incidents.filter((i) => i.outcome === 'failed-over');
    expect(failovers.map((i) => i.toNode).sort(), 'each free node taken once').toEqual([nodeId(4), nodeId(5)]);
    const alerted = run.result.incidents.filter((i) => i.outcome === 'alerted');
    expect(alerted, 'the third application: no node left, administrators alerted (A14)').toHaveLength(1);
  });

  it('a target that turns healthy only after the join timeout: that node is given up, halted and returned, the next one takes over (A13)', async () => {
    const s = failover('healthy-too-late');

    const run = await simulate(s, {
      dynamoEndpoint,
      beforeRun: ({ fleet }) => {
        fleet.faults.targetHealthyLate(nodeId(2), 900_000).targetHealthyLate(nodeId(3), 60_000).tagsVisibleAfter(30_000);
      },
    });

    expectReliable(run, s);
    expect(incidentsOf(run.result, 'ledger')).toEqual([expect.objectContaining({ outcome: 'failed-over', toNode: nodeId(3), attempts: 2 })]);
    // Slow is not broken (StepTimeoutError, not JoinFailedError): back to the pool, without ledger running on it.
    expect(run.result.fleet.find((n) => n.id === nodeId(2))).toMatchObject({ role: 'free', applications: [] });
  });
});
