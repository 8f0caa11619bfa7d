// RTO honesty: Lambda (cold and warm), Step Functions state transitions and EventBridge delivery
// take time in AWS, so the local runtime charges them (latency model: lambda, stepFunctions,
// eventBridge) and the RTO a failover reports includes them.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LATENCY, uniformApiLatency } from '../../../local/fleet/latency.ts';
import type { LatencyOverrides } from '../../../local/fleet/latency.ts';
import { app, bootVolume, incidentsOf, node, nodeId, scenario } from '../fixtures.ts';
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

export function controlPlaneCostCases(run: Run): void {
  describe('RTO includes what Lambda, Step Functions and EventBridge take', () => {
    // A boot-volume swap and no run documents: no event on the way to the shift, so nothing
    // races (the waits are a Wait state's own time, the same in both runs).
    const failover = (costs: LatencyOverrides) =>
      scenario({
        name: 'control-plane-costs',
        applications: [app('ledger', { provisioning: bootVolume('ledger'), run: [] })],
        instances: [node(1, { runs: ['ledger'] }), node(2)],
        timeline: [{ at: 0, event: 'instance-failed', node: nodeId(1) }],
        latency: { ...FLEET_AT_ZERO, ...costs },
      });
    const runCounting = async (costs: LatencyOverrides) => {
      const result = await run(failover(costs));
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2) });
      return { rto: incident!.rtoSeconds! };
    };

    it('Lambda cold/warm starts, Step Functions state transitions and EventBridge delivery add up along the path to the shift', async () => {
      const free = await runCounting({ lambda: { coldStartMs: 0, invokeMs: 0 }, stepFunctions: { stateTransitionMs: 0 }, eventBridge: { deliveryMs: 0 } });
      const costed = await runCounting({
        lambda: { coldStartMs: COLD, invokeMs: INVOKE },
        stepFunctions: { stateTransitionMs: TRANSITION },
        eventBridge: { deliveryMs: DELIVERY },
      });

      // The same path in both runs; the difference is what the control plane's services took on it.
      // The two waits (the root-volume task's first look, 20 s after it started; the first health
      // check, 5 s after registration) end at times set by what came before them, so the transitions
      // into them are absorbed, and the ones out of them are not:
      const cold = COLD + INVOKE;
      const expectedMs =
        DELIVERY + cold + // the ALARM event, from the bus to intake, whose first invocation is cold
        (TRANSITION + cold) * 3 + TRANSITION * 2 + // LockApplication, LockAcquired? SelectAndClaimNode, NodeClaimed? ProvisionNode: cold each
        TRANSITION + INVOKE + // after the wait, ProvisionNode again: warm
        TRANSITION * 2 + cold + // ProvisionNodeWaits?, JoinCluster (cold)
        TRANSITION + cold; // after the health-check wait, ShiftTrafficAndFence (cold)
      expect(Math.round((costed.rto - free.rto) * 1000)).toBe(expectedMs);
    });

    it('with the latency model defaults the overhead is not zero: a failover pays at least one cold start per step', async () => {
      const defaults = await runCounting({ lambda: {}, stepFunctions: {}, eventBridge: {} });
      const free = await runCounting({ lambda: { coldStartMs: 0, invokeMs: 0 }, stepFunctions: { stateTransitionMs: 0 }, eventBridge: { deliveryMs: 0 } });
      // Intake and each step to the shift (lock, select, provision, join, shift) start cold: that alone is six Init phases.
      expect(defaults.rto - free.rto).toBeGreaterThanOrEqual((6 * DEFAULT_LATENCY.lambda.coldStartMs) / 1000);
    });
  });
}
