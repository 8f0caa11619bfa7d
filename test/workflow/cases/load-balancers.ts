// End to end on the synthesized workflow, with the target groups behind the load balancers a
// scenario declares (A6, A9): a failover onto a Network Load Balancer target group, whose
// registration takes minutes before health checks start; and a node in an Availability Zone
// the load balancer does not enable, which AWS would leave 'unused' for good, rejected at
// selection with the reason.
import { describe, expect, it } from 'vitest';
import { app, incidentsOf, node, nodeId, nodeOf, registeredTargets, scenario, targetGroupArn } from '../fixtures.ts';
import type { Run } from '../harness.ts';

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

export function loadBalancerCases(run: Run): void {
  describe('load balancers (A6, A9)', () => {
    it('A9, NLB rule "it can take a few minutes for the registration process to complete and health checks to start": fails over onto a network load balancer target group, healthy one check after registration completes', async () => {
      const s = scenario({
        name: 'nlb-failover',
        applications: [app('ledger')],
        instances: [node(1, { runs: ['ledger'] }), node(2)],
        loadBalancers: [{ name: 'ledger-nlb', type: 'network', targetGroupArns: [targetGroupArn('ledger')] }],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'ledger');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(2), attempts: 1 });
      expect(registeredTargets(result, targetGroupArn('ledger'))).toEqual([nodeId(2)]);
      const group = result.network.targetGroups.find((g) => g.arn === targetGroupArn('ledger'));
      expect(group?.targets.find((t) => t.id === nodeId(2))?.state).toBe('healthy');
      // Registration (180 s in the latency model) and one 30 s check, looked at every 30 s (the
      // group's interval): not the 5 × 30 s threshold, and within the budget the join step
      // derived for an NLB (570 s). Join ends at registration; shift confirms the node healthy.
      const join = incident!.steps.find((step) => step.name === 'JoinCluster')!;
      const shift = incident!.steps.find((step) => step.name === 'ShiftTrafficAndFence')!;
      const healthySeconds = seconds(join.endedAt, shift.endedAt);
      expect(healthySeconds).toBeGreaterThanOrEqual(180 + 30);
      expect(healthySeconds).toBeLessThan(180 + 30 + 30 + 5);
    });

    it('A6, ELB rule "a target in an Availability Zone that is not enabled for the load balancer is unused": a node in such a zone is rejected with the reason, and the next one is used on the first attempt', async () => {
      const s = scenario({
        name: 'az-not-enabled',
        applications: [app('orders')],
        // Nodes 2 and 3 are alike; without the zone rule node 2 would be chosen (first by id).
        instances: [
          node(1, { runs: ['orders'], availabilityZone: 'us-east-1a' }),
          node(2, { availabilityZone: 'us-east-1c' }),
          node(3, { availabilityZone: 'us-east-1b' }),
        ],
        loadBalancers: [{ name: 'orders-alb', availabilityZones: ['us-east-1a', 'us-east-1b'], targetGroupArns: [targetGroupArn('orders')] }],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'orders');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(3), attempts: 1 });
      expect(incident!.explanation).toContain(
        `rejected ${nodeId(2)}: Availability Zone us-east-1c is not enabled on load balancer orders-alb (us-east-1a, us-east-1b) of target group orders: its target would stay unused`,
      );
      expect(nodeOf(result, nodeId(2))).toMatchObject({ role: 'free', lease: [] });
      expect(registeredTargets(result, targetGroupArn('orders'))).toEqual([nodeId(3)]);
    });
  });
}
