// ShiftTrafficAndFence (A9, C1, C5, C9): first the new node must be healthy in every target
// group join registered it in (target health emits no event: the step looks at the groups' own
// health-check interval, and fails the node when the groups' time is up); then, for a failure
// trigger, the old host is stopped before the new node takes the logical address (no split
// brain; its stopped event resumes the step), or, when it cannot be stopped (the stop is
// refused, or hangs in 'stopping'), isolated: its security groups are replaced by the
// application's isolation group; the old node leaves the target groups; the address moves; the
// old node's halt documents start without being waited for; then, in one transaction, the
// claim becomes 'serving' and the state table names the new node.
import { describeAlert } from '../../core/decisions.ts';
import { JoinFailedError } from '../../core/errors.ts';
import { DEFAULT_HEALTH_CHECK, healthCheckBudgetSeconds } from '../../core/load-balancing.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { raiseAlert } from '../alerting.ts';
import { configuredPrivateIps, describeAddress, moveAddress } from '../adapters/addresses.ts';
import { updateAppState } from '../adapters/app-state.ts';
import { commitServing, touchClaim } from '../adapters/claims.ts';
import { advanceDocuments } from '../adapters/commands.ts';
import { commandDeps } from '../command-deps.ts';
import { describeInstance, type InstanceInfo } from '../adapters/fleet.ts';
import { isolateInstance, stopInstance } from '../adapters/instances.ts';
import { updateRecord } from '../adapters/records.ts';
import { deregisterTarget, targetHealth } from '../adapters/targets.ts';
import { errorMessage, errorName, hasName, isThrottling } from '../aws-errors.ts';
import { lazyHandler } from '../deps.ts';
import { isVirtualHost, poolOf, tagNodeRole } from '../node-tags.ts';
import { otherTenants } from '../occupancy.ts';
import { ClaimedStateSchema, claimOf, clusterTarget, explain, secondsSince, stillPending } from '../policy.ts';
import { defineStep, type StepContext } from '../step.ts';
import { onInstanceState } from '../waits.ts';

/**
 * How long a failing old host may take to stop, from the stop request (it starts with
 * provisioning, C9), before it is isolated instead. AWS: a stop takes "a few minutes" at most;
 * an instance "stuck in the stopping state" may have a problem with its underlying host.
 */
export const FENCE_TIMEOUT_SECONDS = 300;

/**
 * stopped: the old host is stopped; isolated: it could not be stopped, so it is cut off (its
 * security groups replaced by the isolation group, when configured), out of the target groups
 * and off the address; halting: its halt documents run.
 */
export type Fence = 'none' | 'stopped' | 'isolated' | 'halting';

/** Errors StopInstances answers when the host cannot be stopped by us ("Error codes for the Amazon EC2 API"). */
const STOP_REFUSED = ['UnauthorizedOperation', 'IncorrectInstanceState', 'UnsupportedOperation'] as const;

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
  // A shift that ran to the end already (a retry) finds the claim serving: the node was healthy then.
  const healthyIn = held.role === 'claimed' ? await confirmHealthy(ctx, state, newNode) : null;
  const old = state.currentNode !== null && state.currentNode !== newNode ? state.currentNode : null;
  const notes: string[] = healthyIn === null ? [] : [`${newNode} is healthy in ${healthyIn} target group(s) of ${app.name} (A9)`];
  const progress: Record<string, string> = {};
  let fence: Fence = 'none';

  if (old) {
    const others = await otherTenants(ctx, old);
    if (state.trigger.kind === 'failure' && others.length === 0) {
      // The stop was requested when provisioning began (fencing.ts); measured from there.
      const requestedAt = new Date(held.provisionStartedAt ?? held.shiftStartedAt ?? ctx.now);
      const stop = await fenceByStopping(ctx, old, secondsSince(requestedAt.toISOString(), ctx.now), requestedAt);
      if (stop.stopped) {
        fence = 'stopped';
        notes.push(`fenced: ${old} is stopped (C1, no split brain)`);
        // What release needs of the stopped host (its pool, by its tags), so it need not describe it again.
        if (stop.instance) progress['shift.oldPool'] = poolOf(deps.env.config, stop.instance)?.name ?? '';
      } else {
        // Cut off before the address moves: the address then never answers beside a reachable old host.
        fence = 'isolated';
        const isolation = await isolate(ctx, old, stop.securityGroupIds);
        notes.push(`fenced: ${old} could not be stopped (${stop.why}); isolated: ${isolation}`);
        progress['shift.fenceProblem'] = `not stopped: ${stop.why}; isolated (${isolation})`;
      }
    } else if (others.length > 0) {
      notes.push(`${old} also hosts ${others.join(', ')}: halted, not stopped`);
    }
    await deregisterTarget(deps.elb, { targetGroupArns: app.cluster.targetGroupArns, instanceId: old, port: app.cluster.port });
  }

  const address = app.cluster.logicalAddress;
  if (address) {
    // The selection's read of the node's interface holds only for a node this incident holds
    // alone: on a virtual-node host (B1), shared or not when it was claimed, other tenants'
    // shifts associate their Elastic IPs meanwhile, so EC2 is asked.
    const alone = !claim.shared && !isVirtualHost(deps.env.config, claim.pool);
    const moved = await moveAddress(deps.ec2, address, newNode, configuredPrivateIps(deps.env.config), alone ? claim.network : undefined, { sharedHost: !alone });
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
    progress: { ...state.progress, ...progress, 'shift.shiftedAt': String(record.shiftedAt ?? ctx.now.toISOString()), 'shift.fence': fence },
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

/** stopped: `instance` is the host as the read that found it stopped saw it (null: EC2 no longer knows it). */
type StopOutcome = { stopped: true; instance: InstanceInfo | null } | { stopped: false; why: string; securityGroupIds: string[] };

/**
 * Stops the failing old host (force: it is failing already) and waits until it is stopped. A
 * stop EC2 refuses, or one still in 'stopping' FENCE_TIMEOUT_SECONDS after it was requested,
 * gives up stopping: the caller isolates the host instead. While it is stopping, the stop is
 * sent again with Force (StopInstances API reference: for an instance "stuck in the stopping
 * state ... use the StopInstances operation together with the Force parameter").
 */
async function fenceByStopping(ctx: StepContext, old: string, elapsed: number, requestedAt: Date): Promise<StopOutcome> {
  // A fresh read, kept on purpose (C1, no split brain): the address moves only once EC2 itself
  // says the host is stopped, never on what an earlier step or an event said.
  const instance = await describeInstance(ctx.deps.ec2, old);
  if (!instance || ['stopped', 'terminated', 'shutting-down'].includes(instance.state)) return { stopped: true, instance };
  if (instance.state !== 'running' && elapsed > FENCE_TIMEOUT_SECONDS) {
    ctx.log.warn('old host did not stop in time; isolating it', { old, state: instance.state, elapsed });
    return { stopped: false, why: `still ${instance.state} ${Math.round(elapsed)} s after the stop was requested`, securityGroupIds: instance.securityGroupIds };
  }
  if (instance.state === 'running' || instance.state === 'stopping') {
    try {
      await stopInstance(ctx.deps.ec2, old, true);
    } catch (error) {
      // Not ours to stop (IAM stops pool and placed nodes only), or in no state to stop: isolate instead.
      if (!hasName(error, ...STOP_REFUSED)) throw error;
      ctx.log.warn('could not stop the old host; isolating it instead', { old, error: errorMessage(error) });
      return { stopped: false, why: `StopInstances refused: ${errorName(error)}`, securityGroupIds: instance.securityGroupIds };
    }
  }
  // Its stopped event resumes the step; without one, the step looks again when the fence's time is up.
  return stillPending(`fencing: waiting for ${old} to stop (it is ${instance.state})`, null, onInstanceState(old, ['stopped'], requestedAt, Math.max(1, Math.ceil(FENCE_TIMEOUT_SECONDS - elapsed))));
}

/**
 * A9: the new node passes the health checks of every group join registered it in. Target health
 * has no event, so the next look comes when a check that could make it healthy has run: one
 * interval later for a target still `initial`, HealthyThresholdCount intervals for one that
 * turned `unhealthy` ("Health checks for Application Load Balancer target groups"). Past the time
 * the groups allow (core/load-balancing.ts), an unhealthy node fails (JoinFailedError).
 */
async function confirmHealthy(ctx: StepContext, state: WorkflowState, nodeId: string): Promise<number> {
  const { deps, app } = ctx;
  const registered = state.registered ?? registrationByDefaults(ctx, state);
  const health = await targetHealth(deps.elb, clusterTarget(app, nodeId));
  const notHealthy = [...health].filter(([, h]) => h.state !== 'healthy');
  if (notHealthy.length === 0) return health.size;
  const elapsed = secondsSince(registered.at, ctx.now);
  const limit = registered.budgetSeconds;
  const detail = notHealthy.map(([arn, h]) => `${arn.split(':').at(-1)}: ${h.state}${h.reason ? ` (${h.reason})` : ''}`).join(', ');
  if (elapsed > limit && notHealthy.some(([, h]) => h.state === 'unhealthy')) {
    throw new JoinFailedError(`${nodeId} is not healthy in ${app.name}'s target groups ${Math.round(elapsed)} s after registration (allowed ${limit} s): ${detail}`);
  }
  const nextLook = Math.min(
    ...notHealthy.map(([arn, h]) => {
      const group = registered.groups.find((g) => g.targetGroupArn === arn);
      const interval = group?.intervalSeconds ?? 30;
      return h.state === 'unhealthy' ? interval * (group?.healthyThreshold ?? 1) : interval;
    }),
  );
  return stillPending(`waiting for ${nodeId} to pass health checks: ${detail}`, { elapsed, limit, what: `${nodeId} passing the health checks of ${app.name}'s target groups` }, { afterSeconds: nextLook });
}

/**
 * For a state without join's registration (an execution from before join recorded it): ELB's
 * default health-check settings, asked of no one (shift's role stays without the target-group
 * reads join makes; at 1,000 applications its policy is near IAM's size limit).
 */
function registrationByDefaults(ctx: StepContext, state: WorkflowState): NonNullable<WorkflowState['registered']> {
  const at = state.progress['join.registeredAt'] ?? ctx.now.toISOString();
  return {
    at,
    firstCheckAt: at,
    budgetSeconds: healthCheckBudgetSeconds([]),
    groups: ctx.app.cluster.targetGroupArns.map((targetGroupArn) => ({
      targetGroupArn,
      intervalSeconds: DEFAULT_HEALTH_CHECK.healthCheckIntervalSeconds,
      healthyThreshold: DEFAULT_HEALTH_CHECK.healthyThresholdCount,
    })),
  };
}

/**
 * Cuts the old host off: its security groups become the application's isolation group alone
 * (no rules: no new connection in or out; EC2 "Security group connection tracking": connections
 * already tracked are not interrupted at once). Returns what was done, for the record and the alert.
 */
async function isolate(ctx: StepContext, old: string, securityGroupIds: string[]): Promise<string> {
  const base = 'out of the target groups, off the logical address';
  const group = ctx.app.cluster.isolationSecurityGroupId;
  if (!group) return `${base}; not network-isolated (no cluster.isolationSecurityGroupId)`;
  try {
    await isolateInstance(ctx.deps.ec2, old, group);
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn('could not replace the old host\'s security groups', { old, error: errorMessage(error) });
    return `${base}; its security groups could not be replaced by ${group}: ${errorName(error)}`;
  }
  const before = securityGroupIds.filter((id) => id !== group);
  return `${base}, security groups replaced by ${group}${before.length > 0 ? ` (were ${before.join(', ')})` : ''}`;
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
