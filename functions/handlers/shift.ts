// ShiftTrafficAndFence (C1, C5, C9): for a failure trigger the old host is stopped before the
// new node takes the logical address (no split brain); the old node leaves the target groups;
// the address moves; the old node's halt documents start without being waited for; then, in
// one transaction, the claim becomes 'serving' and the state table names the new node.
import { describeAlert } from '../../core/decisions.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { raiseAlert } from '../alerting.ts';
import { configuredPrivateIps, describeAddress, moveAddress } from '../adapters/addresses.ts';
import { updateAppState } from '../adapters/app-state.ts';
import { commitServing, touchClaim } from '../adapters/claims.ts';
import { advanceDocuments } from '../adapters/commands.ts';
import { commandDeps } from '../command-deps.ts';
import { describeInstance } from '../adapters/fleet.ts';
import { stopInstance } from '../adapters/instances.ts';
import { updateRecord } from '../adapters/records.ts';
import { deregisterTarget } from '../adapters/targets.ts';
import { errorMessage, hasName, isThrottling } from '../aws-errors.ts';
import { lazyHandler } from '../deps.ts';
import { isVirtualHost, tagNodeRole } from '../node-tags.ts';
import { otherTenants } from '../occupancy.ts';
import { ClaimedStateSchema, claimOf, explain, secondsSince, stillPending } from '../policy.ts';
import { defineStep, type StepContext } from '../step.ts';

/** How long a failing old host may take to stop before it counts as isolated (deregistered, address gone). */
export const FENCE_TIMEOUT_SECONDS = 300;

/** stopped: the old host is stopped; isolated: out of the target groups and off the address, not stopped; halting: its halt documents run. */
export type Fence = 'none' | 'stopped' | 'isolated' | 'halting';

export const makeHandler = defineStep('shift', ClaimedStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const claim = claimOf(state);
  const newNode = claim.nodeId;
  const held = await touchClaim(deps.ddb, deps.env.tables.claims, {
    nodeId: newNode,
    app: app.name,
    incidentId: state.incidentId,
    mark: 'shiftStartedAt',
    now: ctx.now,
    roles: ['claimed', 'serving'],
  });
  const old = state.currentNode !== null && state.currentNode !== newNode ? state.currentNode : null;
  const notes: string[] = [];
  let fence: Fence = 'none';

  if (old) {
    const others = await otherTenants(ctx, old);
    if (state.trigger.kind === 'failure' && others.length === 0) {
      fence = await fenceByStopping(ctx, old, secondsSince(held.shiftStartedAt, ctx.now));
      notes.push(fence === 'stopped' ? `fenced: ${old} is stopped (C1, no split brain)` : `fenced: ${old} could not be stopped; isolated from traffic and address`);
    } else if (others.length > 0) {
      notes.push(`${old} also hosts ${others.join(', ')}: halted, not stopped`);
    }
    await deregisterTarget(deps.elb, { targetGroupArns: app.cluster.targetGroupArns, instanceId: old, port: app.cluster.port });
  }

  const address = app.cluster.logicalAddress;
  if (address) {
    const moved = await moveAddress(deps.ec2, address, newNode, configuredPrivateIps(deps.env.config));
    notes.push(`${describeAddress(address)} ${moved ? 'moved to' : 'already on'} ${newNode} (C1)`);
  }

  if (old && fence !== 'stopped') {
    fence = fence === 'isolated' ? fence : 'halting';
    await startHalting(ctx, state, old);
  }

  await commitServing(deps.ddb, deps.env.tables, { nodeId: newNode, app: app.name, incidentId: state.incidentId, now: ctx.now });
  const record = await updateRecord(deps.ddb, deps.env.tables.records, state, {
    setIfNotExists: { shiftedAt: ctx.now.toISOString() },
    set: { toNode: newNode },
  });
  await tagNodeRole(ctx, { nodeId: newNode, host: isVirtualHost(deps.env.config, claim.pool), role: 'serving', incidentId: state.incidentId });
  ctx.log.info('traffic shifted', { from: old, to: newNode, fence });

  let next: WorkflowState = {
    ...state,
    progress: { ...state.progress, 'shift.shiftedAt': String(record.shiftedAt ?? ctx.now.toISOString()), 'shift.fence': fence },
    explanation: explain(state, ...notes, `${app.name} now served by ${newNode}${old ? ` instead of ${old}` : ''}`),
  };
  if (claim.lastPossibleNode) next = await disableSwitching(ctx, next, newNode);
  else await enableSwitching(ctx, newNode);
  return next;
});

/** C7 ends when the application leaves its last possible node (an operator switchover): failures move it again. */
async function enableSwitching(ctx: StepContext, node: string): Promise<void> {
  // Conditional: only an application whose switching was disabled is touched.
  const enabled = await updateAppState(
    ctx.deps.ddb,
    ctx.deps.env.tables.state,
    ctx.app.name,
    { set: { switchingDisabled: false, updatedAt: ctx.now.toISOString() }, remove: ['switchingDisabledReason'] },
    (x) => `${x.name('switchingDisabled')} = ${x.value(true)}`,
  );
  if (enabled) ctx.log.info('switching enabled again', { node });
}

/** Stops the failing old host (force: it is failing already). Waits until it is stopped, or gives up stopping after a while. */
async function fenceByStopping(ctx: StepContext, old: string, elapsed: number): Promise<Fence> {
  const instance = await describeInstance(ctx.deps.ec2, old);
  if (!instance || ['stopped', 'terminated', 'shutting-down'].includes(instance.state)) return 'stopped';
  if (elapsed > FENCE_TIMEOUT_SECONDS) {
    ctx.log.warn('old host did not stop in time; continuing with it isolated', { old, state: instance.state });
    return 'isolated';
  }
  if (instance.state === 'running') {
    try {
      await stopInstance(ctx.deps.ec2, old, true);
    } catch (error) {
      // Not a pool node (IAM stops pool nodes only) or in no state to stop: isolate instead.
      if (!hasName(error, 'UnauthorizedOperation', 'IncorrectInstanceState', 'UnsupportedOperation')) throw error;
      ctx.log.warn('could not stop the old host; isolating it instead', { old, error: errorMessage(error) });
      return 'isolated';
    }
  }
  return stillPending(`fencing: waiting for ${old} to stop (it is ${instance.state})`, null);
}

/** C9: the old node's halt documents start now and finish off the critical path (release waits for them). */
async function startHalting(ctx: StepContext, state: WorkflowState, old: string): Promise<void> {
  if (ctx.app.halt.length === 0) return;
  try {
    const run = await advanceDocuments(commandDeps(ctx, state), { instanceId: old, documents: ctx.app.halt, incidentId: state.incidentId, purpose: 'halt' });
    if (run.status === 'failed') ctx.log.warn('halt documents failed on the old node', { old, reason: run.reason });
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn('could not start the halt documents on the old node', { old, error: errorMessage(error) });
  }
}

/** C7: the application reached the last node of its sequenced list: no automatic switching from here. */
async function disableSwitching(ctx: StepContext, state: WorkflowState, node: string): Promise<WorkflowState> {
  const reason = `${ctx.app.name} runs on ${node}, the last of its possible nodes (incident ${state.incidentId})`;
  await updateAppState(ctx.deps.ddb, ctx.deps.env.tables.state, ctx.app.name, {
    set: { switchingDisabled: true, switchingDisabledReason: reason, updatedAt: ctx.now.toISOString() },
  });
  const alert = describeAlert('last-possible-node', { app: ctx.app.name, incidentId: state.incidentId, trigger: state.trigger.kind, node, currentNode: node });
  return raiseAlert(ctx, { ...state, explanation: explain(state, `switching disabled: ${reason} (C7)`) }, alert);
}

export const handler = lazyHandler(makeHandler);
