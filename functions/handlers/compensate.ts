// CompensateClaim (A13, C7): a step failed. Before traffic moved, the claimed node is taken
// out of the cluster and released (or quarantined when the failure says the node is bad), and
// another node is tried while attempts remain. After traffic moved, the shift is never undone:
// the old node is set aside and administrators are told.
import { afterNodeFailure, describeAlert, type AlertKind } from '../../core/decisions.ts';
import { ErrorNames } from '../../core/errors.ts';
import { WorkflowStateSchema, type WorkflowState } from '../../core/workflow-state.ts';
import { publishPending, raiseAlert } from '../alerting.ts';
import { addressHolder, configuredPrivateIps, moveAddress } from '../adapters/addresses.ts';
import { updateAppState } from '../adapters/app-state.ts';
import { getClaim, isLive, releaseClaim, scanClaims, setAside, type ClaimItem } from '../adapters/claims.ts';
import { advanceDocuments, cancelCommands } from '../adapters/commands.ts';
import { commandDeps } from '../command-deps.ts';
import { describeInstance } from '../adapters/fleet.ts';
import { deregisterTarget, registerTarget, targetHealth } from '../adapters/targets.ts';
import { errorMessage, isThrottling } from '../aws-errors.ts';
import { lazyHandler } from '../deps.ts';
import { isVirtualHost, tagNodeReleased } from '../node-tags.ts';
import { otherTenants } from '../occupancy.ts';
import { clusterTarget, describeFailure, explain, movedOutcome } from '../policy.ts';
import { defineStep, type StepContext } from '../step.ts';

/** Failures that say the node itself is bad: it is quarantined rather than returned. */
const NODE_IS_BAD: ReadonlySet<string> = new Set([ErrorNames.ProvisioningFailed, ErrorNames.JoinFailed]);

export const makeHandler = defineStep('compensate', WorkflowStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const failure = describeFailure(state.failure);
  const nodeId = state.claim?.nodeId ?? (await findOwnClaim(ctx, state))?.nodeId ?? null;
  const item = nodeId ? await getClaim(deps.ddb, deps.env.tables.claims, nodeId, app.name) : null;
  const ours = item !== null && item.incidentId === state.incidentId;
  ctx.log.warn('compensating', { failure, nodeId, claimRole: item?.role });

  if (nodeId && ours && item.role === 'serving') return afterShift(ctx, state, nodeId, failure);
  if (!nodeId) {
    // Nothing was claimed: no node failed, the workflow did. Stop and tell someone.
    const alert = describeAlert('workflow-error', { app: app.name, incidentId: state.incidentId, trigger: state.trigger.kind, currentNode: state.currentNode, reason: failure });
    return raiseAlert(ctx, { ...state, explanation: explain(state, `failed before a node was claimed: ${failure}`) }, alert);
  }

  const lines: string[] = [];
  let quarantined: string | null = null;
  if (ours) {
    await deregisterTarget(deps.elb, clusterTarget(app, nodeId));
    lines.push(...(await cancelOnGivenUpNode(ctx, state, nodeId)));
    lines.push(...(await haltOnGivenUpNode(ctx, state, nodeId)));
    lines.push(...(await restoreOldNode(ctx, state, nodeId)));
    const bad = state.failure !== undefined && NODE_IS_BAD.has(state.failure.Error);
    const host = isVirtualHost(deps.env.config, item.pool);
    // The host's serving role stays while it still hosts others (their status checks stay watched).
    const othersStay = host && (await otherTenants(ctx, nodeId)).length > 0;
    if (bad) {
      await setAside(deps.ddb, deps.env.tables.claims, {
        nodeId,
        app: app.name,
        incidentId: state.incidentId,
        role: 'quarantined',
        reason: `could not bring ${app.name} online (incident ${state.incidentId}): ${failure}`,
        now: ctx.now,
        priority: app.priority,
        vcpu: app.requirements.minVcpu,
        memoryMiB: app.requirements.minMemoryMiB,
      });
      await tagNodeReleased(ctx, { nodeId, host, role: 'quarantined', othersStay });
      lines.push(`${nodeId} quarantined: ${failure}`);
      quarantined = nodeId;
    } else {
      await releaseClaim(deps.ddb, deps.env.tables.claims, { nodeId, app: app.name, incidentId: state.incidentId, nowSeconds: ctx.nowSeconds });
      await tagNodeReleased(ctx, { nodeId, host, role: 'free', othersStay });
      lines.push(`${nodeId} taken out of the cluster and returned to the pool: ${failure}`);
    }
  } else {
    lines.push(`${nodeId}: our lease is gone (another incident holds it now); leaving it alone: ${failure}`);
  }

  let next: WorkflowState = {
    ...state,
    claim: null,
    triedNodes: [...new Set([...state.triedNodes, nodeId])],
    explanation: explain(state, ...lines),
  };
  delete next.failure;
  // Administrators hear of every quarantine, as when the old node is quarantined on release; now,
  // since the run goes on (a pending alert would end it at the next Choice).
  if (quarantined) next = await publishPending(ctx, await raiseAlert(ctx, next, alertOf(ctx, next, 'quarantine', failure, quarantined)));

  // C7: the last possible node could not take the application: stop switching and say so.
  const lastPossible = state.claim?.lastPossibleNode ?? item?.lastPossibleNode ?? false;
  if (lastPossible) {
    const reason = `the last of ${app.name}'s possible nodes (${nodeId}) failed: ${failure}`;
    await updateAppState(deps.ddb, deps.env.tables.state, app.name, {
      set: { switchingDisabled: true, switchingDisabledReason: reason, updatedAt: ctx.now.toISOString() },
    });
    return raiseAlert(ctx, { ...next, failure: state.failure }, alertOf(ctx, next, 'last-possible-node', reason, nodeId));
  }

  const decision = afterNodeFailure({ attempt: state.attempt, maxAttempts: app.policy.maxAttempts });
  if (decision === 'retry') {
    ctx.log.info('trying another node', { attempt: state.attempt, maxAttempts: app.policy.maxAttempts });
    // Anything still pending is published now: a pending alert would end the run at the next Choice.
    return publishPending(ctx, { ...next, explanation: explain(next, `attempt ${state.attempt} of ${app.policy.maxAttempts} failed; trying another node (A13)`) });
  }
  return raiseAlert(ctx, { ...next, failure: state.failure }, alertOf(ctx, next, 'attempts-exhausted', failure, nodeId));
});

function alertOf(ctx: StepContext, state: WorkflowState, kind: AlertKind, reason: string, node: string) {
  return describeAlert(kind, {
    app: ctx.app.name,
    incidentId: state.incidentId,
    trigger: state.trigger.kind,
    node,
    currentNode: state.currentNode,
    reason,
    triedNodes: state.triedNodes,
  });
}

/** The claim a failed select made before its answer was lost. */
async function findOwnClaim(ctx: StepContext, state: WorkflowState): Promise<ClaimItem | null> {
  const claims = await scanClaims(ctx.deps.ddb, ctx.deps.env.tables.claims);
  for (const { holders } of claims.values()) {
    const mine = holders.find((h) => h.holder === ctx.app.name && h.incidentId === state.incidentId && h.role === 'claimed' && isLive(h, ctx.nowSeconds));
    if (mine) return mine;
  }
  return null;
}

/**
 * Commands this incident started on the node being given up (provisioning, run documents, a
 * preempted tenant's halt) and that still run are cancelled: nothing keeps installing on a node
 * that goes back to the pool or into quarantine.
 */
async function cancelOnGivenUpNode(ctx: StepContext, state: WorkflowState, nodeId: string): Promise<string[]> {
  try {
    const cancelled = await cancelCommands(commandDeps(ctx, state), (c) => c.instanceId === nodeId && c.purpose !== HALT_GIVEN_UP);
    if (cancelled.length > 0) ctx.log.info('cancelled commands still running on the node given up', { nodeId, cancelled });
    return cancelled.length > 0 ? [`cancelled ${cancelled.length} command(s) still running on ${nodeId}: ${cancelled.join(', ')}`] : [];
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn('could not cancel the commands still running on the node given up', { nodeId, error: errorMessage(error) });
    return [];
  }
}

const HALT_GIVEN_UP = 'halt-given-up';

/**
 * Provision and join may already have started the application on the node being given up: its
 * halt documents start there, so it never runs in two places and no node goes back to the pool
 * (or into quarantine) still running it. Started, not waited for: compensate does not poll.
 */
async function haltOnGivenUpNode(ctx: StepContext, state: WorkflowState, nodeId: string): Promise<string[]> {
  if (ctx.app.halt.length === 0) return [];
  try {
    const run = await advanceDocuments(commandDeps(ctx, state), { instanceId: nodeId, documents: ctx.app.halt, incidentId: state.incidentId, purpose: HALT_GIVEN_UP });
    if (run.status === 'failed') ctx.log.warn('halt documents failed on the node given up', { nodeId, reason: run.reason });
    return run.status === 'failed' ? [] : [`${ctx.app.name}'s halt documents started on ${nodeId}`];
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn('could not start the halt documents on the node given up', { nodeId, error: errorMessage(error) });
    return [];
  }
}

/**
 * A shift that failed half-way (address moved, old node deregistered) is rolled back while the
 * old node still runs and was not fenced: the application keeps its host.
 */
async function restoreOldNode(ctx: StepContext, state: WorkflowState, claimed: string): Promise<string[]> {
  const { deps, app } = ctx;
  const old = state.currentNode;
  if (!old || old === claimed || state.trigger.kind === 'failure') return [];
  const lines: string[] = [];
  try {
    const instance = await describeInstance(deps.ec2, old);
    if (instance?.state !== 'running') return [];
    const address = app.cluster.logicalAddress;
    if (address && (await addressHolder(deps.ec2, address)) === claimed) {
      await moveAddress(deps.ec2, address, old, configuredPrivateIps(deps.env.config));
      lines.push(`logical address moved back to ${old}`);
    }
    const target = clusterTarget(app, old);
    for (const [arn, health] of await targetHealth(deps.elb, target)) {
      if (health.state === 'unused' || health.state === 'draining') {
        await registerTarget(deps.elb, arn, target);
        lines.push(`${old} registered again in ${arn.split(':').at(-1)}`);
      }
    }
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn('could not restore the old node', { old, error: errorMessage(error) });
  }
  return lines;
}

/** Traffic already runs on the new node: keep it there; set the old node aside and alert. */
async function afterShift(ctx: StepContext, state: WorkflowState, newNode: string, failure: string): Promise<WorkflowState> {
  const { deps, app } = ctx;
  const old = state.currentNode !== null && state.currentNode !== newNode ? state.currentNode : null;
  const lines = [`traffic already runs on ${newNode}; the shift stands: ${failure}`];
  if (old) {
    await setAside(deps.ddb, deps.env.tables.claims, {
      nodeId: old,
      app: app.name,
      incidentId: state.incidentId,
      role: 'quarantined',
      reason: `releasing it after ${app.name} moved to ${newNode} failed (incident ${state.incidentId}): ${failure}`,
      now: ctx.now,
      priority: app.priority,
      vcpu: app.requirements.minVcpu,
      memoryMiB: app.requirements.minMemoryMiB,
    });
    lines.push(`${old} quarantined until someone checks it`);
  }
  const next: WorkflowState = { ...state, outcome: state.outcome ?? movedOutcome(state.trigger.kind), explanation: explain(state, ...lines) };
  // The alert says where the application runs now: the new node.
  const alert = alertOf(ctx, { ...next, currentNode: newNode }, old ? 'quarantine' : 'workflow-error', failure, old ?? newNode);
  return raiseAlert(ctx, next, alert);
}

export const handler = lazyHandler(makeHandler);
