// ProvisionNode: make the claimed node able to run the application. Preempted tenants are
// halted first (A5); then activate (A2), install (A3) or boot-volume (A4). Every poll derives
// where it is from AWS itself (instance state, the root-volume task by ClientToken) and from the
// incident's command ledger (SSM command ids), so a retried step continues and never repeats an effect.
import { findApplication } from '../../core/config.ts';
import { ProvisioningFailedError } from '../../core/errors.ts';
import { ServiceDetailTypes } from '../../core/metrics.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { getAppState, updateAppState } from '../adapters/app-state.ts';
import { forgetPreempted, touchClaim } from '../adapters/claims.ts';
import { advanceDocuments, cancelCommands } from '../adapters/commands.ts';
import { describeInstance } from '../adapters/fleet.ts';
import { startInstance } from '../adapters/instances.ts';
import { putServiceEvent } from '../adapters/notify.ts';
import { replaceRootVolume, rootVolumeClientToken } from '../adapters/root-volume.ts';
import { deregisterTarget } from '../adapters/targets.ts';
import { errorMessage, errorName, isThrottling } from '../aws-errors.ts';
import { lazyHandler } from '../deps.ts';
import { commandDeps } from '../command-deps.ts';
import { beginFencing } from '../fencing.ts';
import { ClaimedStateSchema, claimOf, clusterTarget, explain, overdue, secondsSince, stillPending } from '../policy.ts';
import { whereRuns } from '../pool-view.ts';
import { defineStep, type StepContext } from '../step.ts';

const FAILED_TASK_STATES = new Set(['failed', 'failed-detached']);

export const makeHandler = defineStep('provision', ClaimedStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const claim = claimOf(state);
  const nodeId = claim.nodeId;
  const held = await touchClaim(deps.ddb, deps.env.tables.claims, {
    nodeId,
    app: app.name,
    incidentId: state.incidentId,
    mark: 'provisionStartedAt',
    now: ctx.now,
    roles: ['claimed'],
  });
  const provisioning = app.provisioning;
  const budget = { elapsed: secondsSince(held.provisionStartedAt, ctx.now), limit: provisioning.timeoutSeconds, what: `provisioning ${nodeId} (${provisioning.method})` };
  const progress = { ...state.progress };
  const notes: string[] = [];

  // First entry only (the mark was just set): the failed host starts stopping now, not at the shift.
  if (held.provisionStartedAt === ctx.now.toISOString()) await beginFencing(ctx, state, nodeId);

  // A5: tenants of lower priority give way first.
  for (const victim of claim.preempts) {
    const result = await preempt(ctx, state, nodeId, victim);
    if (result !== 'done') stillPending(result, budget);
  }

  const instance = await describeInstance(deps.ec2, nodeId);
  if (!instance || instance.state === 'terminated' || instance.state === 'shutting-down') {
    throw new ProvisioningFailedError(`${nodeId} is ${instance?.state ?? 'gone'}; it cannot be provisioned`);
  }
  if (instance.state === 'stopped') {
    await start(ctx, nodeId);
    untilRunning(nodeId, `starting ${nodeId} (it was stopped)`, budget);
  }
  if (instance.state !== 'running') untilRunning(nodeId, `${nodeId} is ${instance.state}`, budget);

  if (provisioning.method === 'boot-volume') {
    const task = await replaceRootVolume(deps.ec2, {
      instanceId: nodeId,
      source: provisioning.source,
      deleteReplacedRootVolume: provisioning.deleteReplacedRootVolume,
      clientToken: rootVolumeClientToken(state.incidentId, nodeId),
    });
    progress['provision.rootVolumeTask'] = task.taskId;
    if (FAILED_TASK_STATES.has(task.state)) {
      throw new ProvisioningFailedError(`root volume replacement ${task.taskId} on ${nodeId} ended ${task.state}`);
    }
    if (task.state !== 'succeeded') stillPending(`root volume replacement ${task.taskId} on ${nodeId} is ${task.state}`, budget);
    notes.push(`${nodeId} rebooted from ${provisioning.source.imageId} (task ${task.taskId}, A4)`);
  }

  const commands = commandDeps(ctx, state);
  const run = await advanceDocuments(commands, {
    instanceId: nodeId,
    documents: provisioning.documents,
    incidentId: state.incidentId,
    purpose: 'provision',
    context: { app: ctx.app.name, incidentId: state.incidentId, fromNode: state.currentNode, toNode: nodeId },
  });
  if (run.status === 'failed') throw new ProvisioningFailedError(run.reason);
  if (run.status === 'pending') {
    // Giving up on the node: its provisioning command must not go on running there.
    if (overdue(budget)) await cancelCommands(commands, (c) => c.instanceId === nodeId && c.purpose === 'provision');
    stillPending(`provisioning documents on ${nodeId}: ${run.detail}`, budget);
  }
  if (run.status === 'done' && run.commandIds.length > 0) progress['provision.commands'] = run.commandIds.join(',');

  const how = { activate: 'activated (A2)', install: 'installed (A3)', 'boot-volume': 'booted from the new image (A4)' }[provisioning.method];
  return {
    ...state,
    progress,
    explanation: explain(state, ...notes, `${app.name} ${how} on ${nodeId} in ${Math.round(budget.elapsed)} s`),
  };
});

/** A start EC2 refuses (InsufficientInstanceCapacity, UnauthorizedOperation...) means the node cannot be brought up: try another (A13). */
async function start(ctx: StepContext, nodeId: string): Promise<void> {
  try {
    await startInstance(ctx.deps.ec2, nodeId);
  } catch (error) {
    if (isThrottling(error)) throw error;
    throw new ProvisioningFailedError(`${nodeId} never reached running: StartInstances refused: ${errorName(error)}: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * Waiting for the node to be running. A node that is still not running when provisioning's time
 * is up failed as a node (it went back to stopped, or hangs in pending): it is quarantined, not
 * handed back to the pool as if it were fine.
 */
function untilRunning(nodeId: string, detail: string, budget: { elapsed: number; limit: number; what: string }): never {
  if (budget.elapsed > budget.limit) {
    throw new ProvisioningFailedError(`${nodeId} never reached running within ${budget.limit} s (${Math.round(budget.elapsed)} s so far): ${detail}`);
  }
  return stillPending(detail, null);
}

/**
 * Takes the node out of a lower-priority application's target groups and halts the application
 * there with its own halt documents, then marks it
 * offline and announces 'Service Down' so its own failover policy takes over (A5, C8).
 * Returns 'done' or what it is waiting for.
 */
async function preempt(ctx: StepContext, state: WorkflowState, nodeId: string, victimName: string): Promise<'done' | string> {
  const { deps } = ctx;
  const victim = findApplication(deps.env.config, victimName);
  const victimState = await getAppState(deps.ddb, deps.env.tables.state, victimName);
  const stillThere = victim ? whereRuns(victim, victimState) === nodeId : false;
  if (victim && stillThere) {
    // Out of the victim's cluster first: its clients must not reach the node it is leaving (A8).
    await deregisterTarget(deps.elb, clusterTarget(victim, nodeId));
    const run = await advanceDocuments(commandDeps(ctx, state), {
      instanceId: nodeId,
      documents: victim.halt,
      incidentId: state.incidentId,
      purpose: `preempt:${victimName}`,
    });
    if (run.status === 'pending') return `halting preempted ${victimName} on ${nodeId}: ${run.detail}`;
    if (run.status === 'failed') ctx.log.warn('halt documents of a preempted application failed; taking the node anyway (A5)', { victim: victimName, reason: run.reason });
    await putServiceEvent(deps.events, deps.env.eventBusName, ServiceDetailTypes.Down, {
      app: victimName,
      node: nodeId,
      reason: 'preempted',
      preemptedBy: ctx.app.name,
      incidentId: state.incidentId,
    });
    const at = ctx.now.toISOString();
    await updateAppState(
      deps.ddb,
      deps.env.tables.state,
      victimName,
      {
        set: {
          offline: true,
          offlineSince: at,
          offlineReason: `preempted on ${nodeId} by ${ctx.app.name} (incident ${state.incidentId})`,
          lastHalt: { node: nodeId, at, incidentId: state.incidentId, disposition: 'preempted' },
          updatedAt: at,
        },
        remove: ['currentNode'],
      },
      (x) => `attribute_not_exists(${x.name('currentNode')}) OR ${x.name('currentNode')} = ${x.value(nodeId)}`,
    );
    ctx.log.info('preempted a lower-priority application', { victim: victimName, nodeId });
  }
  await forgetPreempted(deps.ddb, deps.env.tables.claims, nodeId, victimName, state.incidentId);
  return 'done';
}

export const handler = lazyHandler(makeHandler);
