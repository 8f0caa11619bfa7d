// What must hold after every workflow run, whatever the scenario: no node given twice, no lock
// left, no node lost, no application left without a host unless an administrator heard, and
// traffic (target groups, logical address) going where the application runs.
import { expect } from 'vitest';
import type { SimulationResult } from '../../local/runtime/simulation.ts';
import type { Scenario } from '../../local/scenario.ts';
import { alertsFor, elasticIpHolder, registeredTargets } from './fixtures.ts';

const LIVE_ROLES = new Set(['claimed', 'serving', 'preempted']);

/** Applications a node may hold at once: its pool's virtual-node capacity, else 1. */
function capacityOf(scenario: Scenario, tags: Record<string, string>): number {
  const pool = scenario.config.pools.find((p) => tags[p.tag.key] === p.tag.value);
  return pool?.virtualNodes?.maxApplications ?? 1;
}

export function expectInvariants(result: SimulationResult, scenario: Scenario): void {
  const endedAt = new Date(Date.parse('2030-01-01T00:00:00.000Z') + result.virtualSeconds * 1000).toISOString();

  // Every incident finished before the scenario's end: nothing is still running or stuck.
  const lastEventAt = Math.max(0, ...scenario.timeline.map((e) => e.at));
  expect(result.virtualSeconds, 'the run settled before its deadline (no execution left running)').toBeLessThan(lastEventAt + scenario.runForSeconds);

  // No lock left held.
  expect(result.locksHeld, 'locks still held').toEqual([]);

  // No node lost: every scenario instance is reported once, with a settled role.
  const reported = result.fleet.map((n) => n.id).sort();
  expect(reported, 'fleet report lists every scenario instance once').toEqual(scenario.fleet.instances.map((i) => i.id).sort());
  for (const node of result.fleet) {
    expect(['free', 'serving', 'quarantined', 'retained'], `${node.id} is ${node.role}`).toContain(node.role);
    if (node.role === 'quarantined' || node.role === 'retained') {
      const aside = node.lease.filter((l) => l.role === node.role);
      expect(aside.length, `${node.id} is ${node.role} by a lease`).toBeGreaterThan(0);
      for (const lease of aside) expect(lease.reason ?? '', `${node.id} ${node.role} needs a reason`).not.toBe('');
    }
  }

  // No node claimed twice: live holders within the node's capacity; a dedicated node has at most one.
  for (const node of result.fleet) {
    const instance = scenario.fleet.instances.find((i) => i.id === node.id)!;
    const live = node.lease.filter((l) => LIVE_ROLES.has(l.role) && (l.expiresAt === null || l.expiresAt > endedAt));
    const holders = live.filter((l) => l.role !== 'preempted').map((l) => l.holder);
    expect(new Set(holders).size, `${node.id} holders ${holders.join(', ')} are distinct`).toBe(holders.length);
    expect(holders.length, `${node.id} live holders: ${holders.join(', ')}`).toBeLessThanOrEqual(capacityOf(scenario, instance.tags));
  }

  for (const app of scenario.config.applications) {
    // Never served from two places at once (no split brain), and never served by two serving leases.
    const runningOn = result.fleet.filter((n) => n.applications.includes(app.name)).map((n) => n.id);
    expect(runningOn.length, `${app.name} runs on ${runningOn.join(', ')}`).toBeLessThanOrEqual(1);
    const servingLeases = result.fleet.filter((n) => n.lease.some((l) => l.holder === app.name && l.role === 'serving')).map((n) => n.id);
    expect(servingLeases.length, `${app.name} has serving leases on ${servingLeases.join(', ')}`).toBeLessThanOrEqual(1);
    // A serving lease names where the application runs, unless it failed there and an administrator heard (C7).
    for (const leased of servingLeases.filter((id) => !runningOn.includes(id))) {
      expect(alertsFor(result, app.name), `${app.name} holds a serving lease on ${leased} but does not run there, and nobody was alerted`).not.toEqual([]);
    }

    // Served, or an administrator was told.
    const serving = result.fleet.find((n) => n.role === 'serving' && n.state === 'running' && n.applications.includes(app.name));
    if (!serving) {
      expect(alertsFor(result, app.name), `${app.name} has no serving node, so an alert must have been sent`).not.toEqual([]);
      continue;
    }
    // Traffic goes where it runs (A9, C1).
    for (const arn of app.cluster.targetGroupArns) {
      expect(registeredTargets(result, arn), `${app.name}'s target group ${arn.split('/').at(-2)} routes to its serving node only`).toEqual([serving.id]);
    }
    const address = app.cluster.logicalAddress;
    if (address?.kind === 'elastic-ip') {
      expect(elasticIpHolder(result, address.allocationId), `${app.name}'s Elastic IP is on its serving node`).toBe(serving.id);
    }
    if (address?.kind === 'secondary-private-ip') {
      expect(result.network.secondaryIps[address.ipAddress]?.instanceId, `${app.name}'s secondary IP is on its serving node`).toBe(serving.id);
    }
  }
}
