// SelectAndClaimNode: gather the pool (EC2 + claims + application state), let the core rank
// the eligible nodes (A5-A7, B1, B2, C2, C6), and claim the best one that can still be had.
// No node: stay on the current one (performance trigger) or alert (A14).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeAlert } from '../../core/decisions.ts';
import { LeaseLostError } from '../../core/errors.ts';
import { MetricNames } from '../../core/metrics.ts';
import type { Candidate, PoolNode, Selection } from '../../core/pool.ts';
import { selectNodes } from '../../core/selection.ts';
import type { Claim, WorkflowState } from '../../core/workflow-state.ts';
import { WorkflowStateSchema } from '../../core/workflow-state.ts';
import { raiseAlert } from '../alerting.ts';
import { getClaim, isLive, occupies, takeClaim, type ClaimItem, type NodeClaims } from '../adapters/claims.ts';
import { lazyHandler } from '../deps.ts';
import { isVirtualHost, tagNodeRole } from '../node-tags.ts';
import { CLAIM_LEASE_SECONDS, TTL_GRACE_SECONDS, explain } from '../policy.ts';
import type { PoolMember } from '../adapters/fleet.ts';
import { checkCandidates, isFree, readPool, viewPool } from '../pool-view.ts';
import { defineStep, type StepContext } from '../step.ts';

/** Rejections spelled out in the explanation; the rest are counted. */
const REJECTIONS_EXPLAINED = 12;
/** Candidates spelled out, best first; the rest are counted (a pool of thousands would push everything else out of the explanation). */
const CANDIDATES_EXPLAINED = 12;

/**
 * Selections per step when claims on virtual-node hosts are lost to concurrent incidents. Every
 * lost race is another incident's claim: in a storm (a dozen incidents racing for a few hosts)
 * a contender may lose many times while room is left, and giving up then alerts for nothing.
 */
const SELECTION_ROUNDS = 20;

export const makeHandler = defineStep('select', WorkflowStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const tables = deps.env.tables;

  if (state.claim) {
    // Re-entry with the claim already in the state: keep it if it is still ours.
    const held = await getClaim(deps.ddb, tables.claims, state.claim.nodeId, app.name);
    if (held && held.incidentId === state.incidentId && held.role === 'claimed' && isLive(held, ctx.nowSeconds)) return state;
    throw new LeaseLostError(`the claim on ${state.claim.nodeId} is no longer held by ${state.incidentId}`);
  }

  const pool = await readPool(deps, app);
  const { claims } = pool;

  // A retried select whose answer was lost (the step threw after claiming) finds its own claim.
  const mine = [...claims.values()].flatMap((c) => c.holders).find((h) => isOurs(h, state, app.name, ctx.nowSeconds));
  if (mine) {
    await tagClaimed(ctx, state, mine);
    return {
      ...state,
      claim: toClaim(mine, pool.members, pool.readAt),
      attempt: state.attempt + 1,
      explanation: explain(state, `re-entered: ${mine.nodeId} is already claimed by this incident`),
    };
  }

  let view = pool;
  const lines: string[] = [];
  for (let round = 1; ; round++) {
    // Ranked first as if every node were healthy, then the status checks of the candidates that
    // could be claimed (checkCandidates), then ranked again with what they said.
    const unchecked = await viewPool(deps, view, state.currentNode, ctx.nowSeconds, state.trigger.kind, { statusChecks: false });
    const request = {
      trigger: state.trigger.kind,
      currentNode: unchecked.currentNode,
      triedNodes: state.triedNodes,
      requestedNode: state.requestedNode,
      targetGroups: view.targetGroups,
      ...view.appFacts,
    };
    const first = selectNodes(deps.env.config, app, { ...request, candidates: unchecked.nodes });
    const { nodes, checked } = await checkCandidates(deps, unchecked.nodes, first.ranked.map((c) => c.node.nodeId));
    const selection = selectNodes(deps.env.config, app, { ...request, candidates: nodes });
    lines.push(...explainSelection(selection));
    ctx.log.info('selection', { round, why: selection.why, ranked: selection.ranked.map((c) => c.node.nodeId), rejected: selection.rejected.length });

    const free = nodes.filter(isFree);
    let reselect = false;
    for (const candidate of selection.ranked) {
      // Beyond the candidates checked (100 running ones ranked before it, all lost): not claimed unchecked; select afresh.
      if (candidate.node.state === 'running' && !checked.has(candidate.node.nodeId)) {
        reselect = round < SELECTION_ROUNDS;
        lines.push(`${checked.size} checked candidates taken by other incidents first; ${reselect ? 'reading the pool again' : 'giving up'}`);
        break;
      }
      const taken = await claimCandidate(ctx, state, candidate, view.claims.get(candidate.node.nodeId));
      if (!taken) {
        // A virtual-node host (B1) changes with every tenant's claim: losing the race on it does
        // not mean it is full. Read the pool again and select afresh while rounds remain.
        reselect = candidate.node.maxApplications > 1 && round < SELECTION_ROUNDS;
        lines.push(
          `${candidate.node.nodeId}: claimed by another incident first (lost the race); ${reselect ? 'reading the pool again' : 'trying the next candidate'}`,
        );
        if (reselect) break;
        continue;
      }
      await tagClaimed(ctx, state, taken);
      deps.metrics.addMetric(MetricNames.FreePoolNodes, MetricUnit.Count, free.filter((n) => n.nodeId !== candidate.node.nodeId).length);
      lines.push(`claimed ${candidate.node.nodeId} (attempt ${state.attempt + 1} of ${app.policy.maxAttempts})`);
      return { ...state, claim: toClaim(taken, view.members, view.readAt), attempt: state.attempt + 1, explanation: explain(state, ...lines) };
    }
    if (reselect) {
      view = await readPool(deps, app);
      continue;
    }
    return noNode(ctx, state, selection, free, lines);
  }
});

/** A14: nothing could be claimed: stay on the current node (performance trigger) or alert. */
async function noNode(ctx: StepContext, state: WorkflowState, selection: Selection, free: readonly PoolNode[], lines: string[]): Promise<WorkflowState> {
  const { deps, app } = ctx;
  deps.metrics.addMetric(MetricNames.FreePoolNodes, MetricUnit.Count, free.length);
  const decision = selection.decision ?? (state.trigger.kind === 'performance' ? 'stay' : 'alert');
  const why = selection.ranked.length > 0 ? `every eligible node was claimed by another incident first; ${selection.why}` : selection.why;
  if (decision === 'stay') {
    return { ...state, outcome: 'stayed', explanation: explain(state, ...lines, `staying on ${state.currentNode ?? 'the current node'} (A14)`) };
  }
  const alert = describeAlert('no-eligible-node', {
    app: app.name,
    incidentId: state.incidentId,
    trigger: state.trigger.kind,
    currentNode: state.currentNode,
    reason: why,
    triedNodes: state.triedNodes,
  });
  return raiseAlert(ctx, { ...state, explanation: explain(state, ...lines) }, alert);
}

function isOurs(item: ClaimItem, state: WorkflowState, app: string, nowSeconds: number): boolean {
  return item.holder === app && item.incidentId === state.incidentId && item.role === 'claimed' && isLive(item, nowSeconds);
}

function explainSelection(selection: Selection): string[] {
  const lines = [selection.why];
  selection.ranked.slice(0, CANDIDATES_EXPLAINED).forEach((c, i) => lines.push(`candidate ${i + 1}: ${c.node.nodeId}: ${c.why}`));
  if (selection.ranked.length > CANDIDATES_EXPLAINED) lines.push(`${selection.ranked.length - CANDIDATES_EXPLAINED} more eligible nodes`);
  for (const r of selection.rejected.slice(0, REJECTIONS_EXPLAINED)) lines.push(`rejected ${r.nodeId}: ${r.reasons.join('; ')}`);
  if (selection.rejected.length > REJECTIONS_EXPLAINED) lines.push(`${selection.rejected.length - REJECTIONS_EXPLAINED} more nodes rejected`);
  return lines;
}

async function claimCandidate(ctx: StepContext, state: WorkflowState, candidate: Candidate, seen: NodeClaims | undefined): Promise<ClaimItem | null> {
  const { app, nowSeconds, now } = ctx;
  const node: PoolNode = candidate.node;
  const leaseExpiresAt = nowSeconds + CLAIM_LEASE_SECONDS;
  const item: ClaimItem = {
    nodeId: node.nodeId,
    holder: app.name,
    incidentId: state.incidentId,
    role: 'claimed',
    priority: app.priority,
    vcpu: app.requirements.minVcpu,
    memoryMiB: app.requirements.minMemoryMiB,
    pool: node.pool,
    instanceType: node.facts.instanceType,
    preempts: candidate.preempts.map((p) => p.app),
    shared: candidate.shared,
    lastPossibleNode: candidate.lastPossibleNode,
    leaseExpiresAt,
    ttl: leaseExpiresAt + TTL_GRACE_SECONDS,
    claimedAt: now.toISOString(),
  };
  const snapshot = seen ?? { node: null, holders: [] };
  const victims = new Set(candidate.preempts.map((p) => p.app));
  const preempted = snapshot.holders.filter((h) => victims.has(h.holder) && occupies(h, nowSeconds));
  const won = await takeClaim(ctx.deps.ddb, ctx.deps.env.tables.claims, {
    claim: item,
    seen: snapshot,
    preempted,
    maxApplications: node.maxApplications,
    nowSeconds,
  });
  return won ? item : null;
}

/** The claim the workflow carries, with the node's primary network interface as this read of the pool saw it (shift moves the address with it). */
function toClaim(item: ClaimItem, members: readonly PoolMember[], readAt: Date): Claim {
  const instance = members.find((m) => m.instance.instanceId === item.nodeId)?.instance;
  return {
    ...(instance?.primaryEniId ? { network: { primaryEniId: instance.primaryEniId, primaryIpAssociated: instance.primaryIpAssociated } } : {}),
    ...(instance ? { seenState: { state: instance.state, at: readAt.toISOString() } } : {}),
    nodeId: item.nodeId,
    pool: item.pool ?? '(unknown)',
    instanceType: item.instanceType ?? 'unknown',
    preempts: item.preempts ?? [],
    shared: item.shared ?? false,
    lastPossibleNode: item.lastPossibleNode ?? false,
    leaseExpiresAt: item.leaseExpiresAt,
  };
}

async function tagClaimed(ctx: StepContext, state: WorkflowState, item: ClaimItem): Promise<void> {
  const host = isVirtualHost(ctx.deps.env.config, item.pool);
  await tagNodeRole(ctx, { nodeId: item.nodeId, host, role: 'claimed', incidentId: state.incidentId });
}

export const handler = lazyHandler(makeHandler);
