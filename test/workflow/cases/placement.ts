// End to end on the synthesized workflow: where an application may go (A6, C1). A secondary
// private IP moves only within its subnet, so only nodes of that subnet can take the application.
import { describe, expect, it } from 'vitest';
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
}
