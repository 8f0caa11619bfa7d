// C9 (safety): fencing can fail. The failed host's stop can hang in 'stopping' (StopInstances API
// reference: "If your instance appears stuck in the stopping state, there might be an issue with
// the underlying host computer"; a force stop may or may not get it out) or be refused. The
// application must still fail over, the old host must be isolated (out of the target groups, off
// the logical address, its security groups replaced by a group with no rules), administrators
// must hear of it, and the application must never answer on two nodes. And a pool node that
// never reaches 'running' while it is provisioned is quarantined, not handed back to the pool.
import { describe, expect, it } from 'vitest';
import type { SimulatedFleet } from '../../../local/fleet/index.ts';
import type { ProgressEvent, SimulationOptions, SimulationResult } from '../../../local/runtime/simulation.ts';
import { activate, alertsFor, allocationId, app, elasticIpHolder, incidentsOf, node, nodeId, nodeOf, registeredTargets, scenario, servingNodes, targetGroupArn } from '../fixtures.ts';
import type { Run } from '../harness.ts';

const ISOLATION_SG = 'sg-0150000000000c9f1';
const LOAD_BALANCER = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ledger/0000000000000c90';

/** ledger: installed with SSM, an Elastic IP, halt documents, an isolation security group. */
const ledger = (detection: 'status-checks' | 'target-health') =>
  app('ledger', {
    cluster: { targetGroupArns: [targetGroupArn('ledger')], logicalAddress: { kind: 'elastic-ip', allocationId: allocationId('ledger') }, isolationSecurityGroupId: ISOLATION_SG },
    detection: { failure: { statusChecks: true, ...(detection === 'target-health' ? { targetHealth: { loadBalancerArn: LOAD_BALANCER } } : {}) } },
  });

/**
 * Watches the run as it goes, after every step and trigger: the logical address (the Elastic IP)
 * answers on at most one node; and once it answers on another node, the old host `from` never
 * runs ledger while it can still be reached (running or stopping, and not cut off by the
 * isolation security group).
 */
function watchSplitBrain(from: string): { options: Omit<SimulationOptions, 'dynamoEndpoint'>; violations: string[]; samples: () => number; fleet: () => SimulatedFleet } {
  let fleet: SimulatedFleet | undefined;
  let samples = 0;
  const violations: string[] = [];
  const onProgress = (_event: ProgressEvent) => {
    if (!fleet) return;
    samples++;
    const snapshot = fleet.snapshot();
    const routed = snapshot.elasticIps.filter((a) => a.allocationId === allocationId('ledger') && a.routed).map((a) => a.instanceId!);
    if (routed.length > 1) violations.push(`${snapshot.at}: the Elastic IP answers on ${routed.join(' and ')}`);
    if (routed.length === 0 || routed.includes(from)) return;
    const old = snapshot.instances.find((i) => i.instanceId === from)!;
    const reachable = ['running', 'stopping'].includes(old.state) && !(old.securityGroups.length === 1 && old.securityGroups[0] === ISOLATION_SG);
    if (reachable && old.appsRunning.includes('ledger')) violations.push(`${snapshot.at}: the address is on ${routed[0]} while ledger still runs on ${from}, which can still be reached`);
  };
  return {
    options: { beforeRun: ({ fleet: f }) => void (fleet = f), onProgress },
    violations,
    samples: () => samples,
    fleet: () => fleet!,
  };
}

function quarantineAlert(result: SimulationResult, old: string): string {
  const alert = result.notifications.find((n) => n.subject === `rapid-failover: ledger: node ${old} quarantined`);
  expect(alert, `an alert that ${old} was quarantined`).toBeDefined();
  return alert!.message;
}

/** The application moved to `to`: traffic and address followed, and never answered on two nodes. */
function expectFailedOverWithoutSplitBrain(result: SimulationResult, watch: ReturnType<typeof watchSplitBrain>, from: string, to: string) {
  expect(incidentsOf(result, 'ledger').filter((i) => i.outcome !== 'deduplicated')).toEqual([
    expect.objectContaining({ trigger: 'failure', outcome: 'failed-over', fromNode: from, toNode: to }),
  ]);
  expect(servingNodes(result, 'ledger')).toEqual([to]);
  expect(registeredTargets(result, targetGroupArn('ledger'))).toEqual([to]);
  expect(elasticIpHolder(result, allocationId('ledger'))).toBe(to);
  expect(watch.samples()).toBeGreaterThan(10);
  expect(watch.violations).toEqual([]);
}

export function fencingCases(run: Run): void {
  describe('C9: fencing the failed host can fail', () => {
    it('C9 stuck in stopping (a force stop does not help): ledger fails over; the old host is isolated (security groups replaced), quarantined, and administrators are alerted', async () => {
      const s = scenario({
        name: 'fence-stuck-stopping',
        applications: [ledger('status-checks')],
        instances: [node(1, { runs: ['ledger'] }), node(2)],
        timeline: [
          { at: 0, event: 'stuck-stopping', node: nodeId(1) },
          { at: 30, event: 'instance-failed', node: nodeId(1) },
        ],
      });
      const watch = watchSplitBrain(nodeId(1));

      const result = await run(s, watch.options);

      expectFailedOverWithoutSplitBrain(result, watch, nodeId(1), nodeId(2));
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident!.explanation.join('\n')).toMatch(new RegExp(`fenced: ${nodeId(1)} could not be stopped \\(still stopping .*\\); isolated: .*security groups replaced by ${ISOLATION_SG}`));
      // The host never stopped; it is cut off and set aside for a person to look at.
      const old = watch.fleet().snapshot().instances.find((i) => i.instanceId === nodeId(1))!;
      expect(old).toMatchObject({ state: 'stopping', securityGroups: [ISOLATION_SG] });
      expect(nodeOf(result, nodeId(1)).role).toBe('quarantined');
      expect(quarantineAlert(result, nodeId(1))).toMatch(new RegExp(`not stopped: still stopping .*; isolated .*${ISOLATION_SG}`));
    });

    it('C9 stuck in stopping, and a later force stop gets it out (Methods for stopping an instance: force stop): the host is stopped before the address moves, and keeps its security groups', async () => {
      const s = scenario({
        name: 'fence-force-stop',
        applications: [ledger('status-checks')],
        instances: [node(1, { runs: ['ledger'] }), node(2)],
        timeline: [
          { at: 0, event: 'stuck-stopping', node: nodeId(1), forceStopWorks: true },
          { at: 30, event: 'instance-failed', node: nodeId(1) },
        ],
      });
      const watch = watchSplitBrain(nodeId(1));

      const result = await run(s, watch.options);

      expectFailedOverWithoutSplitBrain(result, watch, nodeId(1), nodeId(2));
      expect(incidentsOf(result, 'ledger')[0]!.explanation.join('\n')).toContain(`fenced: ${nodeId(1)} is stopped`);
      const old = watch.fleet().snapshot().instances.find((i) => i.instanceId === nodeId(1))!;
      expect(old.state).toBe('stopped');
      expect(old.securityGroups).not.toContain(ISOLATION_SG);
      expect(nodeOf(result, nodeId(1)).role).toBe('quarantined');
    });

    it('C9 stop refused (UnauthorizedOperation) on a host whose process died: ledger fails over; the old host is isolated and halted, never answering beside the new one; administrators are alerted', async () => {
      const s = scenario({
        name: 'fence-stop-refused',
        applications: [ledger('target-health')],
        instances: [node(1, { runs: ['ledger'] }), node(2)],
        timeline: [
          { at: 0, event: 'stop-refused', node: nodeId(1), error: 'UnauthorizedOperation' },
          { at: 30, event: 'health-check-failing', node: nodeId(1) },
        ],
      });
      const watch = watchSplitBrain(nodeId(1));

      const result = await run(s, watch.options);

      expectFailedOverWithoutSplitBrain(result, watch, nodeId(1), nodeId(2));
      expect(incidentsOf(result, 'ledger')[0]!.explanation.join('\n')).toMatch(
        new RegExp(`fenced: ${nodeId(1)} could not be stopped \\(StopInstances refused: UnauthorizedOperation\\); isolated: .*security groups replaced by ${ISOLATION_SG}`),
      );
      const old = watch.fleet().snapshot().instances.find((i) => i.instanceId === nodeId(1))!;
      // Still running (nobody may stop it), but cut off, and ledger halted there.
      expect(old).toMatchObject({ state: 'running', securityGroups: [ISOLATION_SG], appsRunning: [] });
      expect(nodeOf(result, nodeId(1)).role).toBe('quarantined');
      expect(quarantineAlert(result, nodeId(1))).toMatch(/not stopped: StopInstances refused: UnauthorizedOperation; isolated/);
    });
  });

  describe('a pool node that never reaches running is quarantined, not returned (A13)', () => {
    const provisioning = { ...activate('ledger'), timeoutSeconds: 120 };
    const nodes = () => [node(1, { runs: ['ledger'] }), node(2, { state: 'stopped', installed: ['ledger'] }), node(3, { state: 'stopped', installed: ['ledger'] })];

    it.each([
      ['goes pending, then back to stopped, every time (Server.InternalError)', { event: 'provisioning-fails', how: 'start-fails' } as const, /never reached running within 120 s/],
      ['its start is refused with InsufficientInstanceCapacity', { event: 'start-refused', error: 'InsufficientInstanceCapacity' } as const, /never reached running: StartInstances refused: InsufficientInstanceCapacity/],
    ])('A13: the first node tried %s: it is quarantined with the reason and an alert, and the next node takes over', async (_how, fault, reason) => {
      const s = scenario({
        name: 'never-running',
        applications: [app('ledger', { provisioning })],
        instances: nodes(),
        timeline: [
          { at: 0, node: nodeId(2), ...fault },
          { at: 30, event: 'instance-failed', node: nodeId(1) },
        ],
      });

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'ledger');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(3), attempts: 2 });
      const bad = nodeOf(result, nodeId(2));
      expect(bad.role).toBe('quarantined');
      expect(bad.state).not.toBe('running');
      expect(bad.lease.find((l) => l.role === 'quarantined')?.reason).toMatch(reason);
      expect(alertsFor(result, 'ledger')).toContain(`rapid-failover: ledger: node ${nodeId(2)} quarantined`);
      expect(result.notifications.find((n) => n.subject === `rapid-failover: ledger: node ${nodeId(2)} quarantined`)!.message).toMatch(reason);
    });
  });
}
