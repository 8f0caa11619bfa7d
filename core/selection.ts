// Which pool node an application fails over to, best first (A5, A7, B1, B2, C2, C6), and
// what to do when there is none (A14). Pure and deterministic: the same request gives the
// same ranking whatever order the adapters listed the nodes in.
import { poolsFor, tierRank, type Application, type Config } from './config.ts';
import { lastPossibleNodeReached } from './decisions.ts';
import { assessNode, compareText, formatAmount, isVirtualNodeHost, type Placement } from './eligibility.ts';
import type { Candidate, PoolNode, Rejection, Selection, SelectionRequest } from './pool.ts';

/** Kinds of candidate, in the order they are offered. */
const GROUP_RANK = { placement: 0, idle: 1, shared: 2, preempt: 3 } as const;
type Group = keyof typeof GROUP_RANK;

type SortKey = readonly (number | string)[];

interface RankedCandidate {
  candidate: Candidate;
  key: SortKey;
}

export function selectNodes(config: Config, app: Application, request: SelectionRequest): Selection {
  const allowedPools = poolsFor(config, app).map((pool) => pool.name);
  const considered = consideredNodes(request);
  const rejected: Rejection[] = missingNodes(app, request, considered);
  const eligible: RankedCandidate[] = [];
  for (const node of considered) {
    const outcome = evaluateNode(app, node, request, allowedPools);
    if ('reasons' in outcome) rejected.push(outcome);
    else eligible.push(outcome);
  }
  const ranked = eligible.sort((a, b) => compareKeys(a.key, b.key)).map((entry) => entry.candidate);
  const decision = ranked.length > 0 ? null : noNodeDecision(request);
  return { ranked, rejected, decision, why: summarize(app, request, considered.length, ranked, rejected, decision) };
}

/** C6: an operator switchover to a named node considers only that node. Duplicates are dropped. */
function consideredNodes(request: SelectionRequest): PoolNode[] {
  const unique = new Map<string, PoolNode>();
  for (const node of request.candidates) {
    if (!unique.has(node.nodeId)) unique.set(node.nodeId, node);
  }
  const nodes = [...unique.values()];
  return request.requestedNode === undefined ? nodes : nodes.filter((node) => node.nodeId === request.requestedNode);
}

/** Nodes the operator or the placement names that the pools do not hold: say so rather than stay silent. */
function missingNodes(app: Application, request: SelectionRequest, considered: readonly PoolNode[]): Rejection[] {
  const named = request.requestedNode !== undefined ? [request.requestedNode] : placementOrder(app);
  const found = new Set(considered.map((node) => node.nodeId));
  return named
    .filter((nodeId) => !found.has(nodeId) && nodeId !== request.currentNode?.nodeId)
    .map((nodeId) => ({ nodeId, reasons: ['not found among the pool nodes (untagged, or in no pool)'] }));
}

function evaluateNode(
  app: Application,
  node: PoolNode,
  request: SelectionRequest,
  allowedPools: readonly string[],
): RankedCandidate | Rejection {
  const poolReasons = allowedPools.includes(node.pool)
    ? []
    : [`pool ${node.pool} is not one of ${app.name}'s pools (${allowedPools.join(', ') || 'none'})`];
  const assessment = assessNode(app, node, request);
  if (!assessment.eligible) return { nodeId: node.nodeId, reasons: [...poolReasons, ...assessment.reasons] };
  if (poolReasons.length > 0) return { nodeId: node.nodeId, reasons: poolReasons };
  return rankCandidate(app, node, assessment, request);
}

function rankCandidate(app: Application, node: PoolNode, placement: Placement, request: SelectionRequest): RankedCandidate {
  const group = groupOf(app, node, placement);
  const candidate: Candidate = {
    node,
    preempts: placement.preempts,
    shared: placement.stays.length > 0,
    lastPossibleNode: lastPossibleNodeReached(app, node.nodeId),
    why: explain(app, node, placement, group, request),
  };
  return { candidate, key: sortKey(app, node, placement, group, request) };
}

function groupOf(app: Application, node: PoolNode, placement: Placement): Group {
  if (placementOrder(app).includes(node.nodeId)) return 'placement';
  if (placement.preempts.length > 0) return 'preempt';
  return placement.stays.length > 0 ? 'shared' : 'idle';
}

/** C2: the preferred node, then the possible nodes in their listed order. */
export function placementOrder(app: Application): string[] {
  const { preferredNode, possibleNodes } = app.placement;
  const order = preferredNode === undefined ? [...possibleNodes] : [preferredNode, ...possibleNodes];
  return [...new Set(order)];
}

function sortKey(app: Application, node: PoolNode, placement: Placement, group: Group, request: SelectionRequest): SortKey {
  const fit = [tierRank(node.tier), placement.surplus.vcpu, placement.surplus.memoryMiB];
  // B2: free capacity in the failover tier (idle nodes, then room on virtual-node hosts) comes
  // before any in the backup tier, which takes over only what the failover tier cannot.
  const freeCapacity = [GROUP_RANK.idle, tierRank(node.tier), GROUP_RANK[group]];
  switch (group) {
    case 'placement':
      return [GROUP_RANK.placement, placementOrder(app).indexOf(node.nodeId), node.nodeId];
    case 'idle':
      // A7: on a performance trigger, a node no stronger than the current one comes last in its tier.
      return [...freeCapacity, capabilityPenalty(node, request), ...fit, node.nodeId];
    case 'shared':
      // B1: pack into the host where the application fits most tightly.
      return [...freeCapacity, 0, ...fit, node.nodeId];
    case 'preempt':
      // A5/A7: disturb the least important applications, and as few of them as possible.
      return [GROUP_RANK.preempt, highestPriority(placement), placement.preempts.length, ...fit, node.nodeId];
  }
}

/** 0 when the node suits the trigger, 1 when a performance trigger would gain nothing from it. */
function capabilityPenalty(node: PoolNode, request: SelectionRequest): number {
  if (request.trigger !== 'performance' || request.currentNode === null) return 0;
  return isMoreCapable(node, request.currentNode) ? 0 : 1;
}

/** A7: strictly more vCPU, or as many vCPU and strictly more memory. */
export function isMoreCapable(node: PoolNode, than: PoolNode): boolean {
  const a = node.facts;
  const b = than.facts;
  return a.vcpu > b.vcpu || (a.vcpu === b.vcpu && a.memoryMiB > b.memoryMiB);
}

function highestPriority(placement: Placement): number {
  return Math.max(...placement.preempts.map((hosted) => hosted.priority));
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return compareText(String(x), String(y));
  }
  return 0;
}

function explain(app: Application, node: PoolNode, placement: Placement, group: Group, request: SelectionRequest): string {
  const parts = [group === 'placement' ? placementWhy(app, node.nodeId) : `${node.tier}-tier node in pool ${node.pool}`];
  if (placement.preempts.length > 0) {
    parts.push(`preempts ${placement.preempts.map((h) => `${h.app} (priority ${h.priority})`).join(', ')}, lower than ${app.priority} (A5)`);
  }
  if (placement.stays.length > 0) {
    parts.push(`virtual-node host shared with ${placement.stays.map((h) => h.app).join(', ')}, ${placement.stays.length + 1} of ${node.maxApplications} slots used after placement (B1)`);
  } else if (placement.preempts.length === 0) {
    parts.push(isVirtualNodeHost(node) ? `idle virtual-node host (${node.maxApplications} slots)` : 'idle');
  }
  const comparison = capabilityWhy(node, request);
  if (comparison) parts.push(comparison);
  parts.push(`${formatAmount(placement.surplus.vcpu)} vCPU / ${formatAmount(placement.surplus.memoryMiB)} MiB to spare`);
  return parts.join('; ');
}

function placementWhy(app: Application, nodeId: string): string {
  if (app.placement.preferredNode === nodeId) return 'preferred node (C2)';
  const { possibleNodes } = app.placement;
  const position = `possible node ${possibleNodes.indexOf(nodeId) + 1} of ${possibleNodes.length}`;
  return lastPossibleNodeReached(app, nodeId) ? `last ${position}: switching stops here (C7)` : `${position} (C2)`;
}

function capabilityWhy(node: PoolNode, request: SelectionRequest): string | null {
  const current = request.currentNode;
  if (request.trigger !== 'performance' || current === null) return null;
  const verdict = isMoreCapable(node, current) ? 'more capable than' : 'not more capable than';
  return `${verdict} current node ${current.nodeId} (${node.facts.instanceType} vs ${current.facts.instanceType}) (A7)`;
}

/** A14: a performance problem keeps the application where it is; anything else needs a human. */
function noNodeDecision(request: SelectionRequest): 'stay' | 'alert' {
  return request.trigger === 'performance' ? 'stay' : 'alert';
}

/** How many rejections the summary spells out; the rest are in `rejected`. */
const SUMMARY_REJECTIONS = 3;

function summarize(
  app: Application,
  request: SelectionRequest,
  consideredCount: number,
  ranked: readonly Candidate[],
  rejected: readonly Rejection[],
  decision: Selection['decision'],
): string {
  const first = ranked[0];
  if (first !== undefined) {
    return `${ranked.length} of ${consideredCount} nodes eligible for ${app.name}; best ${first.node.nodeId}: ${first.why}`;
  }
  const scope = request.requestedNode === undefined ? `among ${consideredCount} nodes` : `on requested node ${request.requestedNode} (C6)`;
  const action =
    decision === 'stay'
      ? `keeping ${app.name} on ${request.currentNode?.nodeId ?? 'its current node'} (performance trigger, A14)`
      : `alerting administrators (${request.trigger} trigger, A14)`;
  const details = rejected.slice(0, SUMMARY_REJECTIONS).map((r) => `${r.nodeId}: ${r.reasons.join(', ')}`);
  if (rejected.length > SUMMARY_REJECTIONS) details.push(`${rejected.length - SUMMARY_REJECTIONS} more rejected`);
  const because = details.length > 0 ? ` (${details.join('; ')})` : '';
  return `no eligible node for ${app.name} ${scope}${because}; ${action}`;
}
