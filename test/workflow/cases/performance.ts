// End to end on the synthesized workflow: a performance failover that is verified after the
// settle window, and moves on to a third node when the second is still slow (A10, A15).
import { describe, expect, it } from 'vitest';
import { allocationId, app, elasticIpHolder, incidentsOf, node, nodeId, nodeOf, performance, registeredTargets, scenario, servingNodes, targetGroupArn } from '../fixtures.ts';
import type { Run } from '../harness.ts';

/** Registers the cases; `run` runs a scenario and checks the invariants every run must keep. */
export function performanceCases(run: Run): void {
  describe('below threshold for at least an interval (A10)', () => {
    it('A10: a dip shorter than the alarm\'s M periods starts nothing; one that lasts fails over', async () => {
      const s = scenario({
        name: 'short-dip',
        applications: [app('orders', { detection: { performance: performance('orders') } }), app('billing', { detection: { performance: performance('billing') } })],
        instances: [node(1, { runs: ['orders'] }), node(2, { runs: ['billing'] }), node(3, { type: 'm7i.2xlarge' })],
        timeline: [
          // Both dip at +30 s; orders recovers 60 s later, before 2 bad one-minute periods have passed.
          { at: 30, event: 'performance-degraded', app: 'orders', value: 20 },
          { at: 30, event: 'performance-degraded', app: 'billing', value: 20 },
          { at: 90, event: 'performance-recovered', app: 'orders' },
        ],
      });

      const result = await run(s);

      expect(incidentsOf(result, 'orders')).toEqual([]);
      expect(incidentsOf(result, 'billing')).toEqual([expect.objectContaining({ trigger: 'performance', outcome: 'failed-over' })]);
    });
  });

  describe('still slow after failover (A15)', () => {
    const orders = () => app('orders', { detection: { performance: performance('orders') }, policy: { maxAttempts: 3, settleSeconds: 120 } });

    it('A15: orders is still slow on the node it moved to; after the settle window it fails over again to a third node', async () => {
      const s = scenario({
        name: 'still-slow',
        applications: [orders()],
        // The first failover picks the tightest more capable node (2xlarge, A7), where orders stays slow.
        instances: [node(1, { runs: ['orders'] }), node(2, { type: 'm7i.2xlarge' }), node(3, { type: 'm7i.4xlarge' })],
        timeline: [{ at: 30, event: 'performance-degraded', app: 'orders', value: 20, alsoOn: [nodeId(2)] }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'orders');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'performance', outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(3), attempts: 2 });
      const explanation = incident!.explanation.join('\n');
      expect(explanation).toMatch(new RegExp(`RequestsPerSecond on ${nodeId(2)}: [23] of the last 3 datapoints .*still degraded; failing over again \\(A15`));
      expect(explanation).toMatch(new RegExp(`RequestsPerSecond on ${nodeId(3)}: 0 of the last 3 datapoints .*performance recovered`));
      // A10: the alarm needs 2 bad one-minute periods; A15: the hop waits out the settle window.
      const steps = Object.fromEntries(incident!.steps.map((step) => [step.name, step]));
      expect(Date.parse(steps.VerifyPerformance!.startedAt) - Date.parse(steps.ShiftTrafficAndFence!.startedAt)).toBeGreaterThanOrEqual(120_000);
      expect(servingNodes(result, 'orders')).toEqual([nodeId(3)]);
      expect(registeredTargets(result, targetGroupArn('orders'))).toEqual([nodeId(3)]);
      expect(elasticIpHolder(result, allocationId('orders'))).toBe(nodeId(3));
      // Both nodes it left were slow, not broken: back in the pool (A8), nobody paged.
      expect([nodeOf(result, nodeId(1)), nodeOf(result, nodeId(2))].map((n) => [n.role, n.state, n.lease])).toEqual([
        ['free', 'running', []],
        ['free', 'running', []],
      ]);
      expect(result.notifications).toEqual([]);
    });

    it('A15: slow on every node tried; once maxAttempts nodes were tried it stays on the last one', async () => {
      const s = scenario({
        name: 'slow-everywhere',
        applications: [app('orders', { detection: { performance: performance('orders') }, policy: { maxAttempts: 2 } })],
        instances: [node(1, { runs: ['orders'] }), node(2, { type: 'm7i.2xlarge' }), node(3, { type: 'm7i.4xlarge' }), node(4, { type: 'm7i.8xlarge' })],
        timeline: [{ at: 30, event: 'performance-degraded', app: 'orders', value: 20, alsoOn: [nodeId(2), nodeId(3), nodeId(4)] }],
      });

      const result = await run(s);

      expect(incidentsOf(result, 'orders')).toEqual([expect.objectContaining({ outcome: 'failed-over', toNode: nodeId(3), attempts: 2 })]);
      expect(incidentsOf(result, 'orders')[0]!.explanation.join('\n')).toContain('still degraded, but no attempts remain');
      expect(nodeOf(result, nodeId(4))).toMatchObject({ role: 'free', lease: [] });
    });
  });
}
