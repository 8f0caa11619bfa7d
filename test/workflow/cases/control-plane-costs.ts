// RTO honesty: Lambda (cold and warm), Step Functions state transitions and EventBridge delivery
// take time in AWS, so the local runtime charges them (latency model: lambda, stepFunctions,
// eventBridge) and the RTO a failover reports includes them.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LATENCY, uniformApiLatency } from '../../../local/fleet/latency.ts';
import type { LatencyOverrides } from '../../../local/fleet/latency.ts';
import type { ProgressEvent } from '../../../local/runtime/simulation.ts';
import { app, incidentsOf, node, nodeId, scenario } from '../fixtures.ts';
import type { Run } from '../harness.ts';

/** Every AWS duration of the fleet at zero; health checks at their smallest (5 s × 2). */
const FLEET_AT_ZERO: LatencyOverrides = {
  apiCallMs: uniformApiLatency(0),
  ec2: {
    instanceStartMs: 0,
    instanceStopMs: 0,
    bootToServicesMs: 0,
    statusChecksInitializingMs: 0,
    rootVolumePendingMs: 0,
    rootVolumeInProgressMs: 0,
    rootVolumeFailingMs: 0,
    elasticIpRemapMs: 0,
    secondaryIpMoveMs: 0,
  },
  ssm: { deliveryMs: 0, documentRunMs: 0 },
  elbv2: { healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 },
};

const COLD = 700;
const INVOKE = 40;
const TRANSITION = 25;
const DELIVERY = 300;

/** The Task states a failure-triggered failover passes through until traffic moves (shiftedAt). */
const TASKS_TO_SHIFT = ['LockApplication', 'SelectAndClaimNode', 'ProvisionNode', 'JoinCluster', 'ShiftTrafficAndFence'];
/** States entered on the way: the tasks and the two Choice states between them (LockAcquired?, NodeClaimed?). */
const STATES_ENTERED_TO_SHIFT = TASKS_TO_SHIFT.length + 2;

export function controlPlaneCostCases(run: Run): void {
  describe('RTO includes what Lambda, Step Functions and EventBridge take', () => {
    const failover = (costs: LatencyOverrides) =>
      scenario({
        name: 'control-plane-costs',
        applications: [app('ledger')],
        instances: [node(1, { runs: ['ledger'] }), node(2)],
        timeline: [{ at: 0, event: 'instance-failed', node: nodeId(1) }],
        latency: { ...FLEET_AT_ZERO, ...costs },
      });
    const runCounting = async (costs: LatencyOverrides) => {
      const retries = new Map<string, number>();
      const onProgress = (event: ProgressEvent) => {
        if (event.task?.phase === 'retry') retries.set(event.task.state, (retries.get(event.task.state) ?? 0) + 1);
      };
      const result = await run(failover(costs), { onProgress });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2) });
      return { rto: incident!.rtoSeconds!, retries: TASKS_TO_SHIFT.reduce((n, state) => n + (retries.get(state) ?? 0), 0) };
    };

    it('Lambda cold/warm starts, Step Functions state transitions and EventBridge delivery add up along the path to the shift', async () => {
      const free = await runCounting({ lambda: { coldStartMs: 0, invokeMs: 0 }, stepFunctions: { stateTransitionMs: 0 }, eventBridge: { deliveryMs: 0 } });
      const costed = await runCounting({
        lambda: { coldStartMs: COLD, invokeMs: INVOKE },
        stepFunctions: { stateTransitionMs: TRANSITION },
        eventBridge: { deliveryMs: DELIVERY },
      });

      // The same path (same polls), so the difference is exactly what the control plane's services took:
      expect(costed.retries).toBe(free.retries);
      const expectedMs =
        DELIVERY + // the ALARM event, from the bus to intake
        COLD + INVOKE + // intake's first invocation
        TASKS_TO_SHIFT.length * (COLD + INVOKE) + // each step function's first invocation is cold
        costed.retries * INVOKE + // each poll finds its environment warm
        (STATES_ENTERED_TO_SHIFT + costed.retries) * TRANSITION; // each state entered and each retry
      expect(Math.round((costed.rto - free.rto) * 1000)).toBe(expectedMs);
    });

    it('with the latency model defaults the overhead is not zero: a failover pays at least one cold start per step', async () => {
      const defaults = await runCounting({ lambda: {}, stepFunctions: {}, eventBridge: {} });
      const free = await runCounting({ lambda: { coldStartMs: 0, invokeMs: 0 }, stepFunctions: { stateTransitionMs: 0 }, eventBridge: { deliveryMs: 0 } });
      // Intake and each step to the shift start cold: that alone is six Init phases.
      expect(defaults.rto - free.rto).toBeGreaterThanOrEqual(((TASKS_TO_SHIFT.length + 1) * DEFAULT_LATENCY.lambda.coldStartMs) / 1000);
    });
  });
}
