// End to end on the synthesized workflow: a failover by each provisioning method (A2-A4), a
// failed provisioning retried on a third node (A13), and no eligible node under each trigger
// kind (A14). Real handlers and SDK clients, DynamoDB Local and the simulated fleet.
import { describe, expect, it } from 'vitest';
import type { SimulationResult } from '../../../local/runtime/simulation.ts';
import {
  activate,
  alertsFor,
  allocationId,
  app,
  bootVolume,
  elasticIpHolder,
  incidentsOf,
  node,
  nodeId,
  nodeOf,
  performance,
  registeredTargets,
  scenario,
  servingNodes,
  serviceEventsFor,
  targetGroupArn,
} from '../fixtures.ts';
import type { Run } from '../harness.ts';

/** The application moved from `from` to `to`: it serves there, traffic and address followed (A9, C1). */
function expectMoved(result: SimulationResult, appName: string, from: string, to: string): void {
  expect(servingNodes(result, appName)).toEqual([to]);
  expect(nodeOf(result, to).lease).toEqual([expect.objectContaining({ holder: appName, role: 'serving' })]);
  expect(nodeOf(result, from).applications).not.toContain(appName);
  expect(registeredTargets(result, targetGroupArn(appName))).toEqual([to]);
  expect(elasticIpHolder(result, allocationId(appName))).toBe(to);
  expect(serviceEventsFor(result, appName, 'Service Up')).toEqual([expect.objectContaining({ node: to, previousNode: from })]);
}

/** Registers the cases; `run` runs a scenario and checks the invariants every run must keep. */
export function provisioningCases(run: Run): void {
  describe('a successful failover by each provisioning method', () => {
    it('A2 activate: a stopped pool node that has the application is started; the failed host is fenced and quarantined (A8)', async () => {
      const s = scenario({
        name: 'activate',
        applications: [app('ledger', { provisioning: activate('ledger') })],
        instances: [node(1, { runs: ['ledger'] }), node(2, { state: 'stopped', installed: ['ledger'] }), node(3)],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'ledger');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'failure', outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(2), attempts: 1 });
      expect(incident!.explanation.join('\n')).toContain('activated (A2)');
      expectMoved(result, 'ledger', nodeId(1), nodeId(2));
      // Fenced: the failed host is stopped before the address moved, then set aside with a reason (A8).
      const old = nodeOf(result, nodeId(1));
      expect(old.state).toBe('stopped');
      expect(old.role).toBe('quarantined');
      expect(old.lease[0]?.reason).toMatch(/ledger left .* it failed/);
      expect(nodeOf(result, nodeId(3)).role).toBe('free');
    });

    it('A3 install: SSM documents install the application on an idle node; the slow host is returned to the pool (A8)', async () => {
      const s = scenario({
        name: 'install',
        applications: [app('orders', { detection: { performance: performance('orders') } })],
        instances: [node(1, { runs: ['orders'] }), node(2, { type: 'm7i.2xlarge' })],
        timeline: [{ at: 30, event: 'performance-degraded', app: 'orders', value: 20 }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'orders');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'performance', outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(2), attempts: 1 });
      expect(incident!.explanation.join('\n')).toContain('installed (A3)');
      expect(incident!.explanation.join('\n')).toContain('performance recovered');
      expectMoved(result, 'orders', nodeId(1), nodeId(2));
      // Not failed, only slow: halted, taken out of the cluster and given back to the pool (A8).
      const old = nodeOf(result, nodeId(1));
      expect(old).toMatchObject({ state: 'running', role: 'free', applications: [], lease: [] });
      expect(result.notifications).toEqual([]);
    });

    it('A4 boot-volume: the node is rebooted from the application image; the stopped host is quarantined (A8)', async () => {
      const s = scenario({
        name: 'boot-volume',
        applications: [
          app('search', {
            requirements: { minVcpu: 2, minMemoryMiB: 4096, architecture: 'arm64' },
            provisioning: bootVolume('search'),
            cluster: { targetGroupArns: [targetGroupArn('search')], logicalAddress: { kind: 'secondary-private-ip', ipAddress: '10.0.1.50' } },
          }),
        ],
        instances: [node(1, { type: 'm7g.xlarge', runs: ['search'] }), node(2, { type: 'm7i.xlarge' }), node(3, { type: 'm7g.xlarge' })],
        timeline: [{ at: 30, event: 'instance-stopped', node: nodeId(1) }],
      });

      const result = await run(s);

      const failovers = incidentsOf(result, 'search').filter((i) => i.outcome !== 'deduplicated');
      expect(failovers).toEqual([expect.objectContaining({ trigger: 'failure', outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(3), attempts: 1 })]);
      expect(failovers[0]!.explanation.join('\n')).toMatch(/rebooted from ami-[0-9a-f]+ .*A4/);
      // A6: the x86_64 node is not eligible for an arm64 application.
      expect(failovers[0]!.explanation.join('\n')).toMatch(new RegExp(`rejected ${nodeId(2)}: .*architecture`));
      expect(servingNodes(result, 'search')).toEqual([nodeId(3)]);
      expect(registeredTargets(result, targetGroupArn('search'))).toEqual([nodeId(3)]);
      // C1: the secondary private IP moved with the application.
      expect(result.network.secondaryIps['10.0.1.50']).toMatchObject({ instanceId: nodeId(3) });
      expect(nodeOf(result, nodeId(1))).toMatchObject({ state: 'stopped', role: 'quarantined' });
      expect(nodeOf(result, nodeId(2))).toMatchObject({ role: 'free', lease: [] });
    });
  });

  describe('a failover that did not succeed (A13)', () => {
    it('A13: provisioning fails on the first and second node; the third node takes over, three attempts counted', async () => {
      const s = scenario({
        name: 'retry-third-node',
        applications: [app('billing', { policy: { maxAttempts: 3 } })],
        instances: [node(1, { runs: ['billing'] }), node(2), node(3), node(4)],
        timeline: [
          { at: 0, event: 'provisioning-fails', node: nodeId(2), how: 'command-fails' },
          { at: 0, event: 'provisioning-fails', node: nodeId(3), how: 'command-fails' },
          { at: 30, event: 'instance-failed', node: nodeId(1) },
        ],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'billing');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(4), attempts: 3 });
      const explanation = incident!.explanation.join('\n');
      expect(explanation).toContain('attempt 1 of 3 failed; trying another node (A13)');
      expect(explanation).toContain('attempt 2 of 3 failed; trying another node (A13)');
      expect(incident!.steps.map((step) => step.name)).toContain('CompensateClaim');
      expectMoved(result, 'billing', nodeId(1), nodeId(4));
      // The nodes that could not take the application are out of the cluster and set aside with the reason.
      for (const bad of [nodeId(2), nodeId(3)]) {
        const failed = nodeOf(result, bad);
        expect(failed.role).toBe('quarantined');
        expect(failed.applications).toEqual([]);
        expect(failed.lease[0]?.reason).toMatch(/could not bring billing online/);
      }
      expect(alertsFor(result, 'billing')).toEqual(expect.arrayContaining([`rapid-failover: billing: node ${nodeId(1)} quarantined`]));
      expect(alertsFor(result, 'billing')).not.toContain('rapid-failover: billing: failover failed on every node tried');
    });

    it('A13: every node tried fails; after maxAttempts nodes administrators are alerted', async () => {
      const s = scenario({
        name: 'attempts-exhausted',
        applications: [app('billing', { policy: { maxAttempts: 2 } })],
        instances: [node(1, { runs: ['billing'] }), node(2), node(3), node(4)],
        timeline: [
          { at: 0, event: 'provisioning-fails', node: nodeId(2), how: 'command-fails' },
          { at: 0, event: 'provisioning-fails', node: nodeId(3), how: 'command-fails' },
          { at: 30, event: 'instance-failed', node: nodeId(1) },
        ],
      });

      const result = await run(s);

      expect(incidentsOf(result, 'billing')).toEqual([expect.objectContaining({ outcome: 'alerted', attempts: 2 })]);
      expect(alertsFor(result, 'billing')).toContain('rapid-failover: billing: failover failed on every node tried');
      expect(servingNodes(result, 'billing')).toEqual([]);
      // Only two nodes were tried: the fourth was never touched.
      expect(nodeOf(result, nodeId(4))).toMatchObject({ role: 'free', applications: [], lease: [] });
      expect(serviceEventsFor(result, 'billing', 'Service Down')).not.toEqual([]);
    });
  });

  describe('no eligible node (A14)', () => {
    // billing needs 8 vCPU; the pool holds only 4-vCPU nodes.
    const big = () => app('billing', { requirements: { minVcpu: 8, minMemoryMiB: 16384 }, detection: { performance: performance('billing') } });
    const instances = () => [node(1, { type: 'm7i.2xlarge', runs: ['billing'] }), node(2), node(3)];

    it('A14 performance trigger: the application stays where it is and nobody is paged', async () => {
      const s = scenario({
        name: 'no-node-performance',
        applications: [big()],
        instances: instances(),
        timeline: [{ at: 30, event: 'performance-degraded', app: 'billing', value: 10 }],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'billing');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'performance', outcome: 'stayed', toNode: nodeId(1), attempts: 0, alerts: [] });
      expect(incident!.explanation.join('\n')).toMatch(/no eligible node for billing .*keeping billing on .*A14/);
      expect(servingNodes(result, 'billing')).toEqual([nodeId(1)]);
      expect(registeredTargets(result, targetGroupArn('billing'))).toEqual([nodeId(1)]);
      expect(result.notifications).toEqual([]);
      expect(result.fleet.filter((n) => n.id !== nodeId(1)).map((n) => n.role)).toEqual(['free', 'free']);
    });

    it('A14 failure trigger: administrators are alerted by SNS and the other groups hear Service Down (C8)', async () => {
      const s = scenario({
        name: 'no-node-failure',
        applications: [big()],
        instances: instances(),
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      expect(incidentsOf(result, 'billing')).toEqual([expect.objectContaining({ trigger: 'failure', outcome: 'alerted', attempts: 0 })]);
      expect(result.notifications.map((n) => n.subject)).toEqual(['rapid-failover: billing: no eligible node to fail over to']);
      expect(result.notifications[0]!.message).toMatch(/minVcpu|vCPU/);
      expect(serviceEventsFor(result, 'billing', 'Service Down')).toEqual([expect.objectContaining({ outcome: 'alerted' })]);
      expect(result.fleet.filter((n) => n.id !== nodeId(1)).map((n) => [n.role, n.lease])).toEqual([
        ['free', []],
        ['free', []],
      ]);
    });
  });
}
