import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEligibility } from '../../core/eligibility.ts';
import type { PoolNode } from '../../core/pool.ts';
import { isMoreCapable, placementOrder, selectNodes } from '../../core/selection.ts';
import { TRIGGER_KINDS } from '../../core/workflow-state.ts';
import { hosted, makeApp, makeConfig, makeHost, makeNode, makeRequest, nodeId } from './fixtures.ts';

const config = makeConfig();
const ids = (nodes: readonly { node: PoolNode }[]) => nodes.map((c) => c.node.nodeId);

describe('selectNodes: idle nodes, tiers and fit (A7, B2)', () => {
  it('A7: prefers an idle node over preempting', () => {
    // Arrange
    const app = makeApp({ priority: 50 });
    const busy = makeNode(1, { hosted: [hosted('batch', 10)] });
    const idle = makeNode(2);

    // Act
    const selection = selectNodes(config, app, makeRequest({ candidates: [busy, idle] }));

    // Assert
    expect(ids(selection.ranked)).toEqual([idle.nodeId, busy.nodeId]);
    expect(selection.ranked[0]?.preempts).toEqual([]);
    expect(selection.decision).toBeNull();
  });

  it('B2: failover tier before backup tier', () => {
    const backup = makeNode(1, { pool: 'spare', tier: 'backup' });
    const failover = makeNode(2, { pool: 'fast', tier: 'failover' });

    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [backup, failover] }));

    expect(ids(selection.ranked)).toEqual([failover.nodeId, backup.nodeId]);
  });

  it('B2: room on a failover-tier virtual-node host comes before an idle backup-tier node', () => {
    const backup = makeNode(1, { pool: 'spare', tier: 'backup' });
    const host = makeHost(2, { hosted: [hosted('other', 90)] });
    const idleFailover = makeNode(3);

    const selection = selectNodes(config, makeApp({ priority: 10 }), makeRequest({ candidates: [backup, host, idleFailover] }));

    expect(ids(selection.ranked)).toEqual([idleFailover.nodeId, host.nodeId, backup.nodeId]);
    expect(selection.ranked[1]?.shared).toBe(true);
  });

  it('B2: takes a backup-tier node when the failover tier has none eligible', () => {
    const brokenFailover = makeNode(1, { healthy: false });
    const backup = makeNode(2, { pool: 'spare', tier: 'backup' });

    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [brokenFailover, backup] }));

    expect(ids(selection.ranked)).toEqual([backup.nodeId]);
  });

  it('A6: prefers the best fit: fewest surplus vCPU, then least surplus memory', () => {
    const app = makeApp({ requirements: { minVcpu: 2, minMemoryMiB: 4_096 } });
    const big = makeNode(1, { facts: { vcpu: 8, memoryMiB: 8_192 } });
    const roomy = makeNode(2, { facts: { vcpu: 2, memoryMiB: 16_384 } });
    const snug = makeNode(3, { facts: { vcpu: 2, memoryMiB: 8_192 } });

    const selection = selectNodes(config, app, makeRequest({ candidates: [big, roomy, snug] }));

    expect(ids(selection.ranked)).toEqual([snug.nodeId, roomy.nodeId, big.nodeId]);
  });

  it('A7: breaks exact ties by node id', () => {
    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [makeNode(9), makeNode(3), makeNode(5)] }));

    expect(ids(selection.ranked)).toEqual([nodeId(3), nodeId(5), nodeId(9)]);
  });

  it('A7: on a performance trigger prefers a more capable idle node over a better fit', () => {
    const current = makeNode(1, { facts: { vcpu: 4, memoryMiB: 16_384 } });
    const same = makeNode(2, { facts: { vcpu: 4, memoryMiB: 16_384 } });
    const stronger = makeNode(3, { facts: { vcpu: 8, memoryMiB: 32_768, instanceType: 'm7i.2xlarge' } });

    const selection = selectNodes(config, makeApp(), makeRequest({ trigger: 'performance', currentNode: current, candidates: [current, same, stronger] }));

    expect(ids(selection.ranked)).toEqual([stronger.nodeId, same.nodeId]);
    expect(selection.ranked[0]?.why).toContain('more capable than current node');
    expect(selection.ranked[1]?.why).toContain('not more capable than current node');
  });

  it('A7: counts more memory at equal vCPU as more capable, ranking it before a weaker node that fits better', () => {
    const current = makeNode(1, { facts: { vcpu: 4, memoryMiB: 16_384 } });
    const moreMemory = makeNode(2, { facts: { vcpu: 4, memoryMiB: 32_768 } });
    const weaker = makeNode(3, { facts: { vcpu: 2, memoryMiB: 65_536 } });

    const selection = selectNodes(config, makeApp(), makeRequest({ trigger: 'performance', currentNode: current, candidates: [weaker, moreMemory] }));

    expect(ids(selection.ranked)).toEqual([moreMemory.nodeId, weaker.nodeId]);
  });

  it('A7: a failure trigger ranks by fit, not by capability', () => {
    const current = makeNode(1, { facts: { vcpu: 4 } });
    const weaker = makeNode(2, { facts: { vcpu: 2 } });
    const stronger = makeNode(3, { facts: { vcpu: 8 } });

    const selection = selectNodes(config, makeApp(), makeRequest({ trigger: 'failure', currentNode: current, candidates: [stronger, weaker] }));

    expect(ids(selection.ranked)).toEqual([weaker.nodeId, stronger.nodeId]);
  });

  it('A7: compares capability by vCPU first, then memory', () => {
    expect(isMoreCapable(makeNode(1, { facts: { vcpu: 8, memoryMiB: 1_024 } }), makeNode(2, { facts: { vcpu: 4, memoryMiB: 65_536 } }))).toBe(true);
    expect(isMoreCapable(makeNode(1, { facts: { vcpu: 4, memoryMiB: 8_192 } }), makeNode(2, { facts: { vcpu: 4, memoryMiB: 8_192 } }))).toBe(false);
  });
});

describe('selectNodes: virtual-node hosts (B1)', () => {
  it('B1: offers hosts with spare capacity after idle nodes, marked shared', () => {
    const host = makeHost(1, { hosted: [hosted('other', 90)] });
    const idle = makeNode(2);

    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [host, idle] }));

    expect(ids(selection.ranked)).toEqual([idle.nodeId, host.nodeId]);
    expect(selection.ranked.map((c) => c.shared)).toEqual([false, true]);
    expect(selection.ranked[1]?.why).toContain('(B1)');
  });

  it('B1: packs into the host where the application fits most tightly', () => {
    const app = makeApp({ requirements: { minVcpu: 2, minMemoryMiB: 2_048 } });
    const loose = makeHost(1, { hosted: [hosted('a', 90, 2, 2_048)] });
    const tight = makeHost(2, { hosted: [hosted('b', 90, 10, 2_048)] });

    const selection = selectNodes(config, app, makeRequest({ candidates: [loose, tight] }));

    expect(ids(selection.ranked)).toEqual([tight.nodeId, loose.nodeId]);
  });

  it('B1: an empty virtual-node host counts as idle, not shared', () => {
    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [makeHost(1)] }));

    expect(selection.ranked[0]).toMatchObject({ shared: false, preempts: [] });
  });
});

describe('selectNodes: preemption (A5, A7)', () => {
  it('A5: when nothing is idle, takes a node from a lower-priority application and lists it to halt', () => {
    const batch = hosted('batch', 10);
    const node = makeNode(1, { hosted: [batch] });

    const selection = selectNodes(config, makeApp({ priority: 50 }), makeRequest({ candidates: [node] }));

    expect(selection.ranked[0]?.preempts).toEqual([batch]);
    expect(selection.ranked[0]?.why).toContain('preempts batch (priority 10)');
  });

  it('A7: preempts the lowest-priority application first', () => {
    const reports = makeNode(1, { hosted: [hosted('reports', 30)] });
    const batch = makeNode(2, { hosted: [hosted('batch', 10)] });

    const selection = selectNodes(config, makeApp({ priority: 50 }), makeRequest({ candidates: [reports, batch] }));

    expect(ids(selection.ranked)).toEqual([batch.nodeId, reports.nodeId]);
  });

  it('B1: prefers sharing a host over preempting', () => {
    const shared = makeHost(1, { hosted: [hosted('api', 90)] });
    const preempt = makeNode(2, { hosted: [hosted('batch', 10)] });

    const selection = selectNodes(config, makeApp({ priority: 50 }), makeRequest({ candidates: [preempt, shared] }));

    expect(ids(selection.ranked)).toEqual([shared.nodeId, preempt.nodeId]);
  });

  it('A5: never preempts an application of equal or higher priority', () => {
    const node = makeNode(1, { hosted: [hosted('peer', 50)] });

    const selection = selectNodes(config, makeApp({ priority: 50 }), makeRequest({ candidates: [node] }));

    expect(selection.ranked).toEqual([]);
    expect(selection.rejected).toEqual([{ nodeId: node.nodeId, reasons: ["runs peer (priority 50), not lower than web's priority 50"] }]);
  });
});

describe('selectNodes: placement (C2, C7)', () => {
  const preferred = nodeId(10);
  const first = nodeId(11);
  const last = nodeId(12);
  const placed = makeApp({ placement: { preferredNode: preferred, possibleNodes: [first, last] } });

  it('C2: tries the preferred node, then the possible nodes in listed order, before other nodes', () => {
    const candidates = [makeNode(1), makeNode(12), makeNode(11), makeNode(10)];

    const selection = selectNodes(config, placed, makeRequest({ candidates }));

    expect(ids(selection.ranked)).toEqual([preferred, first, last, nodeId(1)]);
    expect(selection.ranked[0]?.why).toContain('preferred node (C2)');
  });

  it('C2: skips an ineligible preferred node and says why', () => {
    const candidates = [makeNode(10, { quarantine: 'disk failure' }), makeNode(11)];

    const selection = selectNodes(config, placed, makeRequest({ candidates }));

    expect(ids(selection.ranked)).toEqual([first]);
    expect(selection.rejected).toContainEqual({ nodeId: preferred, reasons: ['quarantined: disk failure'] });
  });

  it('C2: reports a listed node that no pool holds', () => {
    const selection = selectNodes(config, placed, makeRequest({ candidates: [makeNode(11), makeNode(12)] }));

    expect(selection.rejected).toEqual([{ nodeId: preferred, reasons: ['not found among the pool nodes (untagged, or in no pool)'] }]);
  });

  it('C7: marks only the last possible node as lastPossibleNode', () => {
    const selection = selectNodes(config, placed, makeRequest({ candidates: [makeNode(10), makeNode(11), makeNode(12), makeNode(1)] }));

    expect(selection.ranked.map((c) => c.lastPossibleNode)).toEqual([false, false, true, false]);
    expect(selection.ranked[2]?.why).toContain('(C7)');
  });

  it('C2: lists the preferred node once even when it is also a possible node', () => {
    const app = makeApp({ placement: { preferredNode: first, possibleNodes: [first, last] } });

    expect(placementOrder(app)).toEqual([first, last]);
  });
});

describe('selectNodes: switchover to a named node (C6)', () => {
  it('C6: considers only the requested node', () => {
    const requested = makeNode(5, { facts: { vcpu: 64 } });

    const selection = selectNodes(config, makeApp(), makeRequest({ trigger: 'switchover', requestedNode: requested.nodeId, candidates: [makeNode(1), requested] }));

    expect(ids(selection.ranked)).toEqual([requested.nodeId]);
    expect(selection.rejected).toEqual([]);
  });

  it('C6: alerts when the requested node is not eligible', () => {
    const requested = makeNode(5, { state: 'terminated' });

    const selection = selectNodes(config, makeApp(), makeRequest({ trigger: 'switchover', requestedNode: requested.nodeId, candidates: [makeNode(1), requested] }));

    expect(selection.decision).toBe('alert');
    expect(selection.why).toContain(`requested node ${requested.nodeId}`);
    expect(selection.rejected).toEqual([{ nodeId: requested.nodeId, reasons: ['instance is terminated'] }]);
  });

  it('C6: alerts when the requested node is in no pool', () => {
    const selection = selectNodes(config, makeApp(), makeRequest({ trigger: 'switchover', requestedNode: nodeId(77), candidates: [makeNode(1)] }));

    expect(selection.decision).toBe('alert');
    expect(selection.rejected).toEqual([{ nodeId: nodeId(77), reasons: ['not found among the pool nodes (untagged, or in no pool)'] }]);
  });
});

describe('selectNodes: pools (A5)', () => {
  it('A5: only draws from the pools the application may use', () => {
    const app = makeApp({ pools: ['spare'] });
    const fast = makeNode(1, { pool: 'fast' });
    const spare = makeNode(2, { pool: 'spare', tier: 'backup' });

    const selection = selectNodes(config, app, makeRequest({ candidates: [fast, spare] }));

    expect(ids(selection.ranked)).toEqual([spare.nodeId]);
    expect(selection.rejected).toEqual([{ nodeId: fast.nodeId, reasons: ["pool fast is not one of web's pools (spare)"] }]);
  });

  it('A5: rejects a node from a pool the config does not know', () => {
    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [makeNode(1, { pool: 'elsewhere' })] }));

    expect(selection.rejected[0]?.reasons).toEqual(["pool elsewhere is not one of web's pools (fast, spare)"]);
  });
});

describe('selectNodes: no eligible node (A14)', () => {
  const noNode = () => makeRequest({ currentNode: makeNode(1), candidates: [makeNode(2, { healthy: false })] });

  it('A14: stays on the current node on a performance trigger', () => {
    const selection = selectNodes(config, makeApp(), { ...noNode(), trigger: 'performance' });

    expect(selection.decision).toBe('stay');
    expect(selection.why).toContain(`keeping web on ${nodeId(1)}`);
    expect(selection.why).toContain('EC2 status checks failing');
  });

  it.each(['failure', 'switchover', 'drill'] as const)('A14: alerts administrators on a %s trigger', (trigger) => {
    const selection = selectNodes(config, makeApp(), { ...noNode(), trigger });

    expect(selection.decision).toBe('alert');
    expect(selection.why).toContain('alerting administrators');
  });

  it('A14: alerts when the pools are empty', () => {
    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [] }));

    expect(selection).toMatchObject({ ranked: [], rejected: [], decision: 'alert' });
    expect(selection.why).toContain('among 0 nodes');
  });

  it('A14: summarizes at most three rejections and counts the rest', () => {
    const candidates = [1, 2, 3, 4, 5].map((n) => makeNode(n, { healthy: false }));

    const selection = selectNodes(config, makeApp(), makeRequest({ candidates }));

    expect(selection.rejected).toHaveLength(5);
    expect(selection.why).toContain('2 more rejected');
  });
});

describe('selectNodes: properties (A6, A7)', () => {
  const nodeArb = fc
    .record({
      vcpu: fc.constantFrom(1, 2, 4, 8, 16),
      memoryMiB: fc.constantFrom(1_024, 4_096, 16_384, 65_536),
      backup: fc.boolean(),
      healthy: fc.boolean(),
      virtual: fc.boolean(),
      tenants: fc.array(fc.record({ priority: fc.integer({ min: 0, max: 100 }), vcpu: fc.integer({ min: 1, max: 4 }) }), { maxLength: 3 }),
    });
  const nodesArb = fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 999 }), nodeArb), { selector: ([n]) => n, maxLength: 8 }).map((entries) =>
    entries.map(([n, r]) =>
      (r.virtual ? makeHost : makeNode)(n, {
        pool: r.backup ? 'spare' : 'fast',
        tier: r.backup ? 'backup' : 'failover',
        healthy: r.healthy,
        facts: { vcpu: r.vcpu, memoryMiB: r.memoryMiB },
        hosted: r.tenants.slice(0, r.virtual ? 3 : 1).map((t, i) => hosted(`t${i}`, t.priority, t.vcpu, 512)),
      }),
    ),
  );
  const requirementsArb = fc.record({ minVcpu: fc.constantFrom(1, 2, 4), minMemoryMiB: fc.constantFrom(512, 4_096) });

  it('A6: ranks exactly the eligible nodes, each with a why; rejects the rest, each with reasons', () => {
    fc.assert(
      fc.property(nodesArb, requirementsArb, fc.constantFrom(...TRIGGER_KINDS), (nodes, requirements, trigger) => {
        const app = makeApp({ priority: 50, requirements });
        const request = makeRequest({ trigger, candidates: nodes });

        const selection = selectNodes(config, app, request);

        const eligible = nodes.filter((n) => checkEligibility(app, n, request).length === 0).map((n) => n.nodeId);
        expect(ids(selection.ranked).sort()).toEqual([...eligible].sort());
        expect(selection.ranked.every((c) => c.why.length > 0)).toBe(true);
        expect(selection.rejected.every((r) => r.reasons.length > 0)).toBe(true);
        expect(selection.ranked.length + selection.rejected.length).toBe(nodes.length);
        expect(selection.decision === null).toBe(selection.ranked.length > 0);
      }),
    );
  });

  it('A7: the ranking does not depend on the order the nodes are listed in', () => {
    fc.assert(
      fc.property(nodesArb, requirementsArb, (nodes, requirements) => {
        const app = makeApp({ priority: 50, requirements });

        const forward = selectNodes(config, app, makeRequest({ candidates: nodes }));
        const backward = selectNodes(config, app, makeRequest({ candidates: [...nodes].reverse() }));

        expect(ids(backward.ranked)).toEqual(ids(forward.ranked));
      }),
    );
  });
});

describe('selectNodes: input hygiene', () => {
  it('A6: evaluates a node listed twice only once', () => {
    const node = makeNode(1);

    const selection = selectNodes(config, makeApp(), makeRequest({ candidates: [node, node] }));

    expect(ids(selection.ranked)).toEqual([node.nodeId]);
  });
});
