// End to end on the synthesized workflow: operator switchover to a named node (C6), the
// sequenced list of possible nodes with the preferred node as normal mode (C2, C5), and the last
// possible node, where switching stops and administrators are alerted (C7).
import { describe, expect, it } from 'vitest';
import { alertsFor, allocationId, app, elasticIpHolder, incidentsOf, node, nodeId, nodeOf, registeredTargets, scenario, servingNodes, targetGroupArn } from '../fixtures.ts';
import type { Run } from '../harness.ts';

/** Registers the cases; `run` runs a scenario and checks the invariants every run must keep. */
export function switchoverCases(run: Run): void {
  const ledger = () => app('ledger', { placement: { preferredNode: nodeId(1), possibleNodes: [nodeId(2), nodeId(3)] } });

  describe('switchover (C6)', () => {
    it('C6: an operator switches ledger over to a named node; the old node is halted, not stopped, and returned (C9, A8)', async () => {
      const s = scenario({
        name: 'switchover-named',
        applications: [ledger()],
        instances: [node(1, { runs: ['ledger'] }), node(2), node(3), node(4)],
        // The named node is outside the placement list: an operator may move it anywhere eligible.
        timeline: [{ at: 30, event: 'switchover', app: 'ledger', to: nodeId(4) }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'ledger');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'switchover', outcome: 'switched-over', fromNode: nodeId(1), toNode: nodeId(4), attempts: 1 });
      expect(incident!.explanation.join('\n')).toMatch(/1 of 1 nodes eligible for ledger/);
      expect(servingNodes(result, 'ledger')).toEqual([nodeId(4)]);
      expect(registeredTargets(result, targetGroupArn('ledger'))).toEqual([nodeId(4)]);
      expect(elasticIpHolder(result, allocationId('ledger'))).toBe(nodeId(4));
      // A planned move: the old node keeps running with ledger halted on it, back in the pool.
      expect(nodeOf(result, nodeId(1))).toMatchObject({ state: 'running', role: 'free', applications: [], lease: [] });
      // The nodes of the list were not touched.
      expect([nodeOf(result, nodeId(2)).role, nodeOf(result, nodeId(3)).role]).toEqual(['free', 'free']);
      expect(result.notifications).toEqual([]);
    });

    it('C6: a switchover to a node that cannot take the application moves nothing and alerts', async () => {
      const s = scenario({
        name: 'switchover-ineligible',
        applications: [ledger()],
        // The named node is arm64; ledger needs x86_64 (A6).
        instances: [node(1, { runs: ['ledger'] }), node(2), node(3), node(4, { type: 'm7g.large' })],
        timeline: [{ at: 30, event: 'switchover', app: 'ledger', to: nodeId(4) }],
      });

      const result = await run(s);

      expect(incidentsOf(result, 'ledger')).toEqual([expect.objectContaining({ trigger: 'switchover', outcome: 'alerted', attempts: 0 })]);
      expect(incidentsOf(result, 'ledger')[0]!.explanation.join('\n')).toMatch(new RegExp(`no eligible node for ledger on requested node ${nodeId(4)} \\(C6\\)`));
      expect(alertsFor(result, 'ledger')).toEqual(['rapid-failover: ledger: no eligible node to fail over to']);
      expect(servingNodes(result, 'ledger')).toEqual([nodeId(1)]);
    });
  });

  describe('the sequenced list of possible nodes (C2, C5, C7)', () => {
    it('C5, C7: back to the preferred node when a possible node fails; on the last possible node switching stops and an alert goes out', async () => {
      const s = scenario({
        name: 'last-possible-node',
        applications: [ledger()],
        instances: [node(1, { runs: ['ledger'] }), node(2), node(3), node(4)],
        timeline: [
          { at: 30, event: 'switchover', app: 'ledger', to: nodeId(2) },
          // Normal mode (C5): a failure on a possible node returns ledger to its preferred node (C2 order).
          { at: 600, event: 'instance-failed', node: nodeId(2) },
          // C7: the operator moves it to the last possible node.
          { at: 1200, event: 'switchover', app: 'ledger', to: nodeId(3) },
          // Switching is disabled there: a failure does not move it, although node 4 is free.
          { at: 1800, event: 'instance-failed', node: nodeId(3) },
        ],
      });

      const result = await run(s);

      const incidents = incidentsOf(result, 'ledger').map((i) => [i.trigger, i.outcome, i.fromNode, i.toNode]);
      expect(incidents).toEqual([
        ['switchover', 'switched-over', nodeId(1), nodeId(2)],
        ['failure', 'failed-over', nodeId(2), nodeId(1)],
        ['switchover', 'switched-over', nodeId(1), nodeId(3)],
        ['failure', 'stayed', nodeId(3), nodeId(3)],
      ]);
      const [, back, last, stuck] = incidentsOf(result, 'ledger');
      expect(back!.explanation.join('\n')).toContain('preferred node (C2)');
      expect(last!.explanation.join('\n')).toMatch(/switching disabled: .*last of its possible nodes .*\(C7\)/);
      expect(last!.alerts).toContain('rapid-failover: ledger: running on its last possible node');
      expect(stuck!.explanation.join('\n')).toMatch(/switching is disabled for ledger \(C7/);
      // Not moved, but not silent: ledger is failing on its last node and administrators hear it (A14).
      expect(stuck!.alerts).toEqual(['rapid-failover: ledger: running on its last possible node']);
      expect(result.notifications.filter((n) => n.message.includes(stuck!.incidentId))).toEqual([
        expect.objectContaining({ message: expect.stringContaining('not failed over: switching is disabled') }),
      ]);
      expect(nodeOf(result, nodeId(4))).toMatchObject({ role: 'free', lease: [] });
      // It stays on the last node, its address with it.
      expect(nodeOf(result, nodeId(3)).lease).toEqual([expect.objectContaining({ holder: 'ledger', role: 'serving' })]);
      expect(elasticIpHolder(result, allocationId('ledger'))).toBe(nodeId(3));
    });
  });
}
