// End to end on the synthesized workflow: applications competing for pool nodes. Preemption of
// a lower-priority application (A5), the same incident delivered more than once, and two
// applications racing for the last free node.
import { describe, expect, it } from 'vitest';
import {
  alertsFor,
  allocationId,
  app,
  elasticIpHolder,
  incidentsOf,
  node,
  nodeId,
  nodeOf,
  performance,
  POOLS,
  registeredTargets,
  scenario,
  servingNodes,
  serviceEventsFor,
  targetGroupArn,
} from '../fixtures.ts';
import type { Run } from '../harness.ts';

/** Registers the cases; `run` runs a scenario and checks the invariants every run must keep. */
export function contentionCases(run: Run): void {
  describe('preemption of a lower-priority application (A5)', () => {
    // checkout may use only the general pool, where every node is busy; reports may also use the backup tier.
    const checkout = () => app('checkout', { priority: 900, pools: ['general'] });
    const reports = () => app('reports', { priority: 100, pools: ['general', 'backup'] });

    it('A5: checkout takes the node reports runs on; reports is halted and fails over by its own policy to the backup tier (B2)', async () => {
      const s = scenario({
        name: 'preempt-then-failover',
        applications: [checkout(), reports()],
        instances: [node(1, { runs: ['checkout'] }), node(2, { runs: ['reports'] }), node(3, { pool: 'backup' })],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      const [preempting, ...otherCheckout] = incidentsOf(result, 'checkout');
      expect(otherCheckout).toEqual([]);
      expect(preempting).toMatchObject({ outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(2), attempts: 1 });
      expect(preempting!.explanation.join('\n')).toMatch(/preempts reports \(priority 100\), lower than 900 \(A5\)/);
      expect(servingNodes(result, 'checkout')).toEqual([nodeId(2)]);
      expect(nodeOf(result, nodeId(2))).toMatchObject({ applications: ['checkout'], lease: [expect.objectContaining({ holder: 'checkout', role: 'serving' })] });

      // reports heard it was preempted (C8) and its own incident moved it to the backup tier.
      expect(serviceEventsFor(result, 'reports', 'Service Down')).toEqual([expect.objectContaining({ node: nodeId(2), reason: 'preempted', preemptedBy: 'checkout' })]);
      const [moved, ...otherReports] = incidentsOf(result, 'reports');
      expect(otherReports).toEqual([]);
      expect(moved).toMatchObject({ trigger: 'failure', outcome: 'failed-over', toNode: nodeId(3) });
      expect(servingNodes(result, 'reports')).toEqual([nodeId(3)]);
      expect(registeredTargets(result, targetGroupArn('reports'))).toEqual([nodeId(3)]);
      expect(elasticIpHolder(result, allocationId('reports'))).toBe(nodeId(3));
    });

    it('A5, C5: the preempted application has nowhere to go: administrators are alerted; off-line, it keeps its logical address', async () => {
      const s = scenario({
        name: 'preempt-then-alert',
        applications: [checkout(), reports()],
        instances: [node(1, { runs: ['checkout'] }), node(2, { runs: ['reports'] })],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      expect(incidentsOf(result, 'checkout')).toEqual([expect.objectContaining({ outcome: 'failed-over', toNode: nodeId(2) })]);
      expect(incidentsOf(result, 'reports')).toEqual([expect.objectContaining({ trigger: 'failure', outcome: 'alerted' })]);
      expect(alertsFor(result, 'reports')).toEqual(['rapid-failover: reports: no eligible node to fail over to']);
      expect(servingNodes(result, 'reports')).toEqual([]);
      expect(registeredTargets(result, targetGroupArn('reports'))).toEqual([]);
      // C5 off-line mode: reports has no node, but its Elastic IP stays allocated and associated, ready for its return.
      const address = result.network.elasticIps.find((a) => a.allocationId === allocationId('reports'));
      expect(address?.associationId).toEqual(expect.any(String));
      // checkout took the node without taking reports' address: one Elastic IP per private IP.
      expect(elasticIpHolder(result, allocationId('checkout'))).toBe(nodeId(2));
      expect(address?.privateIp).not.toBe(result.network.elasticIps.find((a) => a.allocationId === allocationId('checkout'))?.privateIp);
    });
  });

  describe('the same incident raised more than once', () => {
    it('a performance alarm delivered three times starts one failover; the other deliveries are deduplicated', async () => {
      const s = scenario({
        name: 'duplicate-alarm',
        applications: [app('orders', { detection: { performance: performance('orders') } })],
        instances: [node(1, { runs: ['orders'] }), node(2, { type: 'm7i.2xlarge' }), node(3, { type: 'm7i.2xlarge' })],
        timeline: [{ at: 30, event: 'duplicate-alarm', app: 'orders', times: 3 }],
      });

      const result = await run(s);

      const incidents = incidentsOf(result, 'orders');
      const failedOver = incidents.filter((i) => i.outcome === 'failed-over');
      const deduplicated = incidents.filter((i) => i.outcome === 'deduplicated');
      expect(failedOver).toHaveLength(1);
      expect(deduplicated).toHaveLength(2);
      expect(incidents).toHaveLength(3);
      // One execution per incident: every duplicate names the same incident as the failover.
      expect(new Set(incidents.map((i) => i.incidentId))).toEqual(new Set([failedOver[0]!.incidentId]));
      expect(result.metrics.FailoversStarted).toBe(1);
      expect(servingNodes(result, 'orders')).toEqual([failedOver[0]!.toNode]);
      // Only one node was touched.
      expect(result.fleet.filter((n) => n.lease.length > 0).map((n) => n.id)).toEqual([failedOver[0]!.toNode]);
    });
  });

  describe('two applications racing for one free node', () => {
    it('both hosts fail at once: one application wins the free node, the other takes the no-eligible path and alerts (A14)', async () => {
      const s = scenario({
        name: 'race',
        applications: [app('alpha'), app('beta')],
        instances: [node(1, { runs: ['alpha'] }), node(2, { runs: ['beta'] }), node(3)],
        timeline: [
          { at: 30, event: 'instance-failed', node: nodeId(1) },
          { at: 30, event: 'instance-failed', node: nodeId(2) },
        ],
      });

      const result = await run(s);

      const outcomes = result.incidents.map((i) => i.outcome).sort();
      expect(outcomes).toEqual(['alerted', 'failed-over']);
      const winner = result.incidents.find((i) => i.outcome === 'failed-over')!;
      const loser = result.incidents.find((i) => i.outcome === 'alerted')!;
      expect(winner.toNode).toBe(nodeId(3));
      expect(servingNodes(result, winner.app)).toEqual([nodeId(3)]);
      expect(nodeOf(result, nodeId(3)).lease).toEqual([expect.objectContaining({ holder: winner.app, role: 'serving' })]);
      expect(servingNodes(result, loser.app)).toEqual([]);
      expect(alertsFor(result, loser.app)).toEqual([`rapid-failover: ${loser.app}: no eligible node to fail over to`]);
      expect(loser.explanation.join('\n')).toMatch(/no eligible node|claimed by another incident first/);
    });

    it('the race within a virtual-node host: two applications share one host up to its capacity (B1)', async () => {
      const s = scenario({
        name: 'race-shared-host',
        pools: [POOLS.general, POOLS.hosts],
        applications: [app('alpha', { pools: ['hosts'] }), app('beta', { pools: ['hosts'] })],
        instances: [node(1, { runs: ['alpha'] }), node(2, { runs: ['beta'] }), node(3, { pool: 'hosts', type: 'm7i.4xlarge' })],
        timeline: [
          { at: 30, event: 'instance-failed', node: nodeId(1) },
          { at: 30, event: 'instance-failed', node: nodeId(2) },
        ],
      });

      const result = await run(s);

      expect(result.incidents.map((i) => [i.app, i.outcome, i.toNode])).toEqual(
        expect.arrayContaining([
          ['alpha', 'failed-over', nodeId(3)],
          ['beta', 'failed-over', nodeId(3)],
        ]),
      );
      expect(nodeOf(result, nodeId(3)).applications.sort()).toEqual(['alpha', 'beta']);
      // C1: each keeps its own Elastic IP on the shared host (one private IP holds one Elastic IP).
      const onHost = result.network.elasticIps.filter((a) => a.instanceId === nodeId(3));
      expect(onHost.map((a) => a.allocationId).sort()).toEqual([allocationId('alpha'), allocationId('beta')].sort());
      expect(new Set(onHost.map((a) => a.privateIp)).size).toBe(2);
    });
  });
}
