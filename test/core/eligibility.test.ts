import { describe, expect, it } from 'vitest';
import { assessNode, checkEligibility, instanceFamily, type EligibilityContext } from '../../core/eligibility.ts';
import type { TargetGroupFacts } from '../../core/load-balancing.ts';
import { hosted, makeApp, makeHost, makeNode } from './fixtures.ts';

const ctx = (overrides: Partial<EligibilityContext> = {}): EligibilityContext => ({
  triedNodes: [],
  trigger: 'failure',
  currentNode: null,
  ...overrides,
});

describe('checkEligibility: hardware (A6)', () => {
  it('A6: accepts an idle node that meets every requirement', () => {
    // Arrange
    const app = makeApp({ requirements: { minVcpu: 4, minMemoryMiB: 16_384 } });
    const node = makeNode(1);

    // Act
    const reasons = checkEligibility(app, node, ctx());

    // Assert
    expect(reasons).toEqual([]);
  });

  it('A6: rejects a node with too few vCPU', () => {
    const app = makeApp({ requirements: { minVcpu: 8 } });
    const node = makeNode(1, { facts: { vcpu: 4 } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['vCPU 4 < required 8']);
  });

  it('A6: rejects a node with too little memory', () => {
    const app = makeApp({ requirements: { minMemoryMiB: 8_192 } });
    const node = makeNode(1, { facts: { memoryMiB: 4_096 } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['memory 4096 MiB < required 8192 MiB']);
  });

  it('A6: rejects a node whose architecture the application does not support', () => {
    const app = makeApp({ requirements: { architecture: 'arm64' } });
    const node = makeNode(1, { facts: { architectures: ['x86_64'] } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['architecture x86_64 does not support required arm64']);
  });

  it('A6: rejects an instance family outside the allowed families', () => {
    const app = makeApp({ requirements: { instanceFamilies: ['c7i', 'r7i'] } });
    const node = makeNode(1, { facts: { instanceType: 'm7i.xlarge' } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['instance family m7i not in allowed families c7i, r7i']);
  });

  it('A6: accepts a node whose family (the part before the dot) is allowed', () => {
    const app = makeApp({ requirements: { instanceFamilies: ['m7i'] } });
    const node = makeNode(1, { facts: { instanceType: 'm7i.2xlarge' } });

    expect(checkEligibility(app, node, ctx())).toEqual([]);
  });

  it('A6: rejects an instance type outside the allowed types', () => {
    const app = makeApp({ requirements: { instanceTypes: ['m7i.2xlarge'] } });
    const node = makeNode(1, { facts: { instanceType: 'm7i.xlarge' } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['instance type m7i.xlarge not in allowed types m7i.2xlarge']);
  });

  it('A6: rejects a node missing a required feature, naming each missing one', () => {
    const app = makeApp({ requirements: { features: ['gpu', 'nvme', 'efa'] } });
    const node = makeNode(1, { facts: { features: ['nvme'] } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['missing required feature gpu', 'missing required feature efa']);
  });

  it('A6: lists every reason a node fails, not just the first', () => {
    const app = makeApp({ requirements: { minVcpu: 8, minMemoryMiB: 32_768 } });
    const node = makeNode(1, { healthy: false });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['vCPU 4 < required 8', 'memory 16384 MiB < required 32768 MiB', 'EC2 status checks failing']);
  });

  it('A6: takes the instance family from the part before the dot', () => {
    expect(instanceFamily('c7gn.16xlarge')).toBe('c7gn');
  });
});

describe('checkEligibility: node condition (A6, A13)', () => {
  it.each(['stopping', 'shutting-down', 'terminated'] as const)('A6: rejects a node that is %s', (state) => {
    const reasons = checkEligibility(makeApp(), makeNode(1, { state }), ctx());

    expect(reasons).toEqual([`instance is ${state}`]);
  });

  it.each(['running', 'stopped', 'pending'] as const)('A2: accepts a %s node (a stopped node is activated)', (state) => {
    expect(checkEligibility(makeApp(), makeNode(1, { state }), ctx())).toEqual([]);
  });

  it('A6: rejects a node failing its status checks', () => {
    expect(checkEligibility(makeApp(), makeNode(1, { healthy: false }), ctx())).toEqual(['EC2 status checks failing']);
  });

  it('A13: rejects a quarantined node, with the quarantine reason', () => {
    const node = makeNode(1, { quarantine: 'provisioning timed out' });

    expect(checkEligibility(makeApp(), node, ctx())).toEqual(['quarantined: provisioning timed out']);
  });

  it('A13: rejects a node already tried in this incident', () => {
    const node = makeNode(1);

    expect(checkEligibility(makeApp(), node, ctx({ triedNodes: [node.nodeId] }))).toEqual(['already tried in this incident']);
  });

  it('A1: rejects the node the application runs on now', () => {
    const node = makeNode(1);

    expect(checkEligibility(makeApp(), node, ctx({ currentNode: node }))).toEqual(['is the node web runs on now']);
  });

  it('A1: rejects a node that already hosts this application', () => {
    const node = makeHost(1, { hosted: [hosted('web', 50)] });

    expect(checkEligibility(makeApp(), node, ctx())).toEqual(['already hosts web']);
  });
});

describe('checkEligibility: load balancer Availability Zones (A6, A9)', () => {
  const TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef';
  const group = (name: string, zones: string[][]): TargetGroupFacts => ({
    targetGroupArn: TG.replace('/web/', `/${name}/`),
    name,
    loadBalancers: zones.map((z, i) => ({ arn: `arn:lb/${name}-${i}`, name: `${name}-lb${i}`, type: 'application', availabilityZones: z })),
    healthCheckIntervalSeconds: 30,
    healthyThresholdCount: 5,
    unhealthyThresholdCount: 2,
  });

  it('A6, ELB rule "a target in an Availability Zone that is not enabled for the load balancer is unused": rejects a node in a zone the load balancer does not enable, saying which', () => {
    const app = makeApp();
    const node = makeNode(1, { availabilityZone: 'eu-west-1c' });

    const reasons = checkEligibility(app, node, ctx({ targetGroups: [group('web', [['eu-west-1a', 'eu-west-1b']])] }));

    expect(reasons).toEqual([
      'Availability Zone eu-west-1c is not enabled on load balancer web-lb0 (eu-west-1a, eu-west-1b) of target group web: its target would stay unused',
    ]);
  });

  it('A6: accepts a node in a zone that one of the target group’s load balancers enables', () => {
    const app = makeApp();
    const node = makeNode(1, { availabilityZone: 'eu-west-1c' });

    expect(checkEligibility(app, node, ctx({ targetGroups: [group('web', [['eu-west-1a'], ['eu-west-1c']])] }))).toEqual([]);
  });

  it('A6: every target group must reach the node: one line per group whose load balancers leave the zone out', () => {
    const app = makeApp();
    const node = makeNode(1, { availabilityZone: 'eu-west-1b' });

    const reasons = checkEligibility(app, node, ctx({ targetGroups: [group('web', [['eu-west-1b']]), group('api', [['eu-west-1a']])] }));

    expect(reasons).toEqual([expect.stringMatching(/^Availability Zone eu-west-1b is not enabled on load balancer api-lb0 .* of target group api/)]);
  });

  it('A6: checks nothing when the zones are not known (no load balancer facts, a group with no load balancer, or a node of unknown zone)', () => {
    const app = makeApp();
    expect(checkEligibility(app, makeNode(1, { availabilityZone: 'eu-west-1c' }), ctx())).toEqual([]);
    expect(checkEligibility(app, makeNode(1, { availabilityZone: 'eu-west-1c' }), ctx({ targetGroups: [group('web', [])] }))).toEqual([]);
    expect(checkEligibility(app, makeNode(1, { availabilityZone: null }), ctx({ targetGroups: [group('web', [['eu-west-1a']])] }))).toEqual([]);
  });
});

describe('checkEligibility: dedicated nodes and preemption (A5)', () => {
  it('A5: accepts a dedicated node running a lower-priority application, preempting it', () => {
    const batch = hosted('batch', 10);
    const node = makeNode(1, { hosted: [batch] });

    const assessment = assessNode(makeApp({ priority: 50 }), node, ctx());

    expect(assessment).toMatchObject({ eligible: true, preempts: [batch], stays: [] });
  });

  it('A5: rejects a dedicated node running an application of equal priority', () => {
    const node = makeNode(1, { hosted: [hosted('api', 50)] });

    const reasons = checkEligibility(makeApp({ priority: 50 }), node, ctx());

    expect(reasons).toEqual(["runs api (priority 50), not lower than web's priority 50"]);
  });

  it('A5: rejects a dedicated node running a higher-priority application', () => {
    const node = makeNode(1, { hosted: [hosted('db', 90)] });

    expect(checkEligibility(makeApp({ priority: 50 }), node, ctx())).toHaveLength(1);
  });
});

describe('checkEligibility: virtual-node hosts (B1)', () => {
  it('B1: accepts a host with a free slot and enough spare capacity, sharing it', () => {
    // 16 vCPU * 0.9 = 14.4 usable; 2 + 4 taken → 8.4 spare ≥ 8
    const node = makeHost(1, { hosted: [hosted('a', 90, 2, 4_096), hosted('b', 90, 4, 8_192)] });
    const app = makeApp({ requirements: { minVcpu: 8, minMemoryMiB: 8_192 } });

    const assessment = assessNode(app, node, ctx());

    expect(assessment).toMatchObject({ eligible: true, preempts: [], stays: node.hosted });
  });

  it('B1: rejects a host whose slots are all taken by applications it cannot preempt', () => {
    const node = makeHost(1, { maxApplications: 2, hosted: [hosted('a', 90), hosted('b', 90)] });

    const reasons = checkEligibility(makeApp({ priority: 50 }), node, ctx());

    expect(reasons).toEqual(['hosts 2 of at most 2 applications']);
  });

  it('B1: keeps the reserved fraction for the host itself', () => {
    // 16 vCPU * (1 - 0.25) = 12 usable, 6 taken: 6 spare < 7 even though 16 - 6 = 10 would fit
    const node = makeHost(1, { reservedFraction: 0.25, hosted: [hosted('a', 90, 6, 1_024)] });
    const app = makeApp({ requirements: { minVcpu: 7 } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['spare vCPU 6 < required 7']);
  });

  it('B1: rejects a host without enough spare memory', () => {
    // 65536 * 0.9 = 58982.4 usable, 50000 taken
    const node = makeHost(1, { hosted: [hosted('a', 90, 1, 50_000)] });
    const app = makeApp({ requirements: { minMemoryMiB: 16_384 } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['spare memory 8982.4 MiB < required 16384 MiB']);
  });

  it('A5: on a full host, preempts only as many lower-priority tenants as needed, lowest priority first', () => {
    const low = hosted('low', 5, 6, 1_024);
    const mid = hosted('mid', 20, 6, 1_024);
    const node = makeHost(1, { hosted: [mid, low, hosted('top', 90, 2, 1_024)] });
    // 14.4 usable - 14 taken = 0.4 spare; halting 'low' frees 6
    const app = makeApp({ priority: 50, requirements: { minVcpu: 4 } });

    const assessment = assessNode(app, node, ctx());

    expect(assessment).toMatchObject({ eligible: true, preempts: [low] });
    expect(assessment.eligible && assessment.stays.map((h) => h.app)).toEqual(['mid', 'top']);
  });

  it('A5: ignores tenants that would be preempted when counting spare capacity', () => {
    const node = makeHost(1, { maxApplications: 2, hosted: [hosted('low', 5, 12, 1_024), hosted('top', 90, 2, 1_024)] });
    const app = makeApp({ priority: 50, requirements: { minVcpu: 10 } });

    const assessment = assessNode(app, node, ctx());

    expect(assessment).toMatchObject({ eligible: true, preempts: [{ app: 'low' }] });
  });

  it('B1: says when even preempting lower-priority tenants would not make room', () => {
    const node = makeHost(1, { hosted: [hosted('low', 5, 2, 1_024), hosted('top', 90, 12, 1_024)] });
    const app = makeApp({ priority: 50, requirements: { minVcpu: 4 } });

    const reasons = checkEligibility(app, node, ctx());

    expect(reasons).toEqual(['spare vCPU 2.4 < required 4 (even after preempting lower-priority applications)']);
  });

  it('B1: still checks the host hardware itself', () => {
    const node = makeHost(1, { facts: { vcpu: 16, architectures: ['arm64'], instanceType: 'm7g.4xlarge' } });

    expect(checkEligibility(makeApp(), node, ctx())).toEqual(['architecture arm64 does not support required x86_64']);
  });
});
