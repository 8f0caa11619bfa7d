// The invariants helper itself: a consistent result passes, and each kind of violation the
// workflow suite relies on it to catch makes it fail. No runtime needed: results are built by hand.
import { describe, expect, it } from 'vitest';
import type { SimulationResult } from '../../local/runtime/simulation.ts';
import { allocationId, app, node, nodeId, scenario, targetGroupArn } from './fixtures.ts';
import { expectInvariants } from './invariants.ts';

const s = scenario({
  name: 'invariants',
  applications: [app('ledger')],
  instances: [node(1, { runs: ['ledger'] }), node(2), node(3)],
  timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
});

/** ledger failed over from node 1 (quarantined) to node 2; node 3 is free. */
function consistent(): SimulationResult {
  return {
    scenario: 'invariants',
    incidents: [],
    fleet: [
      { id: nodeId(1), type: 'm7i.xlarge', state: 'stopped', role: 'quarantined', applications: [], assignedTo: [], lease: [{ holder: 'ledger', role: 'quarantined', incidentId: 'i1', expiresAt: null, reason: 'it failed' }] },
      { id: nodeId(2), type: 'm7i.xlarge', state: 'running', role: 'serving', applications: ['ledger'], assignedTo: ['ledger'], lease: [{ holder: 'ledger', role: 'serving', incidentId: 'i1', expiresAt: null }] },
      { id: nodeId(3), type: 'm7i.xlarge', state: 'running', role: 'free', applications: [], assignedTo: [], lease: [] },
    ],
    notifications: [],
    serviceEvents: [],
    network: {
      targetGroups: [{ arn: targetGroupArn('ledger'), name: 'ledger', targets: [{ id: nodeId(2), port: 80, state: 'healthy' }, { id: nodeId(1), port: 80, state: 'draining' }] }],
      elasticIps: [{ allocationId: allocationId('ledger'), publicIp: '198.51.100.10', instanceId: nodeId(2), routed: true }],
      secondaryIps: {},
    },
    unexpected: [],
    locksHeld: [],
    metrics: {},
    virtualSeconds: 400,
    wallMs: 1,
    apiCalls: { total: 0, byService: {}, byCommand: {} },
  };
}

function broken(change: (r: SimulationResult) => void): SimulationResult {
  const result = consistent();
  change(result);
  return result;
}

describe('expectInvariants', () => {
  it('passes a consistent result', () => {
    expect(() => expectInvariants(consistent(), s)).not.toThrow();
  });

  it.each([
    ['a lock left held', (r: SimulationResult) => (r.locksHeld = ['ledger: i1'])],
    ['a run that did not settle before its deadline', (r: SimulationResult) => (r.virtualSeconds = 30 + 3_600)],
    ['a node missing from the report', (r: SimulationResult) => r.fleet.pop()],
    ['a node left claimed', (r: SimulationResult) => (r.fleet[2]!.role = 'claimed')],
    ['a quarantine without a reason', (r: SimulationResult) => delete r.fleet[0]!.lease[0]!.reason],
    [
      'a dedicated node claimed twice',
      (r: SimulationResult) => r.fleet[2]!.lease.push({ holder: 'a', role: 'claimed', incidentId: 'x', expiresAt: null }, { holder: 'b', role: 'claimed', incidentId: 'y', expiresAt: null }),
    ],
    ['an application served from two nodes', (r: SimulationResult) => r.fleet[2]!.applications.push('ledger')],
    ['an application without a host and without an alert', (r: SimulationResult) => (r.fleet[1]!.applications = [])],
    ['traffic still sent to the old node', (r: SimulationResult) => (r.network.targetGroups[0]!.targets[1]!.state = 'healthy')],
    ['the logical address left behind', (r: SimulationResult) => (r.network.elasticIps[0]!.instanceId = nodeId(1))],
  ])('fails on %s', (_what, change) => {
    expect(() => expectInvariants(broken(change), s)).toThrow();
  });

  it('accepts an application without a host when an administrator was alerted', () => {
    const result = broken((r) => {
      r.fleet[1] = { ...r.fleet[1]!, role: 'free', applications: [], lease: [] };
      r.notifications.push({ at: '2030-01-01T00:05:00.000Z', subject: 'rapid-failover: ledger: no eligible node to fail over to', message: '' });
    });

    expect(() => expectInvariants(result, s)).not.toThrow();
  });
});
