// End to end on the synthesized workflow: where an application may go (A6, C1). A secondary
// private IP moves only within its subnet, so only nodes of that subnet can take the application;
// a fleet of thousands spread over several subnets and AZs works (the bench times it).
import { describe, expect, it } from 'vitest';
import { largeFleetScenario } from '../../../bench/scenarios.ts';
import { activate, app, incidentsOf, node, nodeId, nodeOf, scenario, servingNodes, targetGroupArn } from '../fixtures.ts';
import type { Run } from '../harness.ts';

export function placementCases(run: Run): void {
  describe('placement by subnet (C1, A6)', () => {
    it('C1: a secondary private IP goes only to a node of its subnet; a better-ranked node in another subnet is rejected, with the reason', async () => {
      const s = scenario({
        name: 'secondary-ip-subnet',
        applications: [
          app('ledger', {
            provisioning: activate('ledger'),
            cluster: { targetGroupArns: [targetGroupArn('ledger')], logicalAddress: { kind: 'secondary-private-ip', ipAddress: '10.0.1.50' } },
          }),
        ],
        // Nodes 2 and 3 are alike; node 2 comes first in the ranking, but it is in another subnet (us-east-1b).
        instances: [
          node(1, { runs: ['ledger'] }),
          node(2, { installed: ['ledger'], subnet: 'subnet-0000000000000b001' }),
          node(3, { installed: ['ledger'] }),
        ],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'ledger');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(3), attempts: 1 });
      expect(incident!.explanation.join('\n')).toContain(
        `rejected ${nodeId(2)}: is in subnet-0000000000000b001; secondary private IP 10.0.1.50 can move only within its subnet subnet-0000000000000a001 (10.0.0.0/20)`,
      );
      expect(servingNodes(result, 'ledger')).toEqual([nodeId(3)]);
      expect(result.network.secondaryIps['10.0.1.50']).toMatchObject({ instanceId: nodeId(3) });
      expect(nodeOf(result, nodeId(2))).toMatchObject({ role: 'free', lease: [] });
    });
  });

  describe('a large fleet (A6)', () => {
    it('A6: fails over among 2,000 pool instances in six subnets across three AZs, and explains the selection', { timeout: 300_000 }, async () => {
      const result = await run(largeFleetScenario(2_000));

      expect(result.fleet).toHaveLength(2_001);
      const [incident, ...others] = incidentsOf(result, 'app');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'failure', outcome: 'failed-over', attempts: 1 });
      expect(servingNodes(result, 'app')).toEqual([incident!.toNode]);
      const why = incident!.explanation.join('\n');
      // Graviton nodes cannot run the x86_64 application; the explanation keeps its summary and
      // rejections in view instead of listing every one of the eligible nodes.
      expect(why).toMatch(/^\d+ of 2000 nodes eligible for app; best i-/m);
      expect(why).toMatch(/^rejected i-[0-9a-f]+: architecture arm64 does not support required x86_64/m);
      expect(why).toMatch(/^\d+ more eligible nodes$/m);
    });
  });
}
