// ProvisionNode: make the claimed node able to run the application. Preempted tenants are
// halted first (A5); then activate (A2), install (A3) or boot-volume (A4). Each run derives
// where it is from AWS itself (instance state, the root-volume task by ClientToken) and from the
// incident's command ledger (SSM command ids), so a retried step continues and never repeats an
// effect. Between runs it waits on events where AWS emits one (a started node's running event,
// a command's end event: the last document's ends provisioning without another run), and
// polls the root-volume task, which has none, when a swap typically ends.
import { instanceKey } from '../../core/awaited-events.ts';
import { findApplication } from '../../core/config.ts';
import { ErrorNames, ProvisioningFailedError, type PendingOn } from '../../core/errors.ts';
import { ServiceDetailTypes } from '../../core/metrics.ts';
import type { Claim, WorkflowState } from '../../core/workflow-state.ts';
import { getAppState, updateAppState } from '../adapters/app-state.ts';
import { forgetPreempted, touchClaim } from '../adapters/claims.ts';
import { advanceDocuments, cancelCommands, commandTag } from '../adapters/commands.ts';
import { describeInstance, type InstanceInfo } from '../adapters/fleet.ts';
import { startInstance } from '../adapters/instances.ts';
import { putServiceEvent } from '../adapters/notify.ts';
import { describeRootVolumeTask, replaceRootVolume, rootVolumeClientToken } from '../adapters/root-volume.ts';
import { deregisterTarget } from '../adapters/targets.ts';
import { errorMessage, errorName, isThrottling } from '../aws-errors.ts';
import { lazyHandler } from '../deps.ts';
import { commandDeps } from '../command-deps.ts';
import { beginFencing } from '../fencing.ts';
import { ClaimedStateSchema, claimOf, clusterTarget, explain, overdue, remainingSeconds, secondsSince, stillPending } from '../policy.ts';
import { whereRuns } from '../pool-view.ts';
import { defineStep, waiting, type StepContext } from '../step.ts';
import { onDocuments, onInstanceState } from '../waits.ts';

const FAILED_TASK_STATES = new Set(['failed', 'failed-detached']);

/**
 * The root-volume task emits no event ("Amazon EventBridge events for Amazon EBS" has none for
 * it; the instance stays running through the reboot). It is looked at first when a swap
 * typically ends (the AWS example of "Replace a root volume": about 20 s, pending then
 * in-progress), then every few seconds. ASSUMPTION: 5 s between later looks.
 */
export const ROOT_VOLUME_FIRST_LOOK_SECONDS = 20;
export const ROOT_VOLUME_LOOK_SECONDS = 5;

/**
 * How long a started node's running event is waited for before the step looks itself (the
 * fallback poll: a lost event costs this much, not the node). The EC2 User Guide ("Amazon EC2
 * instance state changes") gives pending → running no duration. ASSUMPTION: EBS-backed
 * instances reach running in 30-60 s; two minutes is a wide margin. A node still pending then
 * is waited for again, within provisioning's budget.
 */
export const INSTANCE_START_WAIT_SECONDS = 120;

/**
 * After a node's running event, the first look at its SSM Agent comes this long after the event.
 * ASSUMPTION: AWS documents no duration for "running" → agent Online; the OS boots in about
 * 10-20 s (Amazon Linux 2023) and the agent, a boot-time service, registers seconds after. Looks
 * at the agent before that only cost calls and invocations; after it, they come every
 * AGENT_POLL_SECONDS (commands.ts).
 */
export const AGENT_FIRST_LOOK_SECONDS = 20;

/** progress keys: when the node was seen running (its running event), and the root-volume task it runs. */
const RUNNING_SINCE = 'provision.runningSince';
const ROOT_VOLUME_TASK = 'provision.rootVolumeTask';

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
  // First entry only (the mark was just set): the failed host starts stopping beside provisioning, not at the shift.
  const firstEntry = held.provisionStartedAt === ctx.now.toISOString();
  const how = { activate: 'activated (A2)', install: 'installed (A3)', 'boot-volume': 'booted from the new image (A4)' }[provisioning.method];
  const done = (ending = `in ${Math.round(budget.elapsed)} s`): WorkflowState => ({
    ...state,
    progress: withoutKeys(progress, [RUNNING_SINCE]),
    explanation: explain(state, ...notes, `${app.name} ${how} on ${nodeId} ${ending}`),
  });

  try {
    // A5: tenants of lower priority give way first.
    for (const victim of claim.preempts) {
      const result = await preempt(ctx, state, nodeId, victim);
      if (result !== 'done') stillPending(result.detail, budget, result.on);
    }

    // What this provisioning has already seen of the node, kept in the state across its waits:
    // the node running (its running event, or an earlier run of the step) or the root-volume
    // task it started. Then the node is not described again on every look: a node that stops
    // meanwhile fails its task or never gets its agent Online, and provisioning's budget ends it.
    const runningEvent = resumed(ctx, nodeId, 'running');
    const seenRunning = progress[RUNNING_SINCE] ?? runningEvent?.at;
    const rootVolumeTask = progress[ROOT_VOLUME_TASK];
    if (!seenRunning && !rootVolumeTask) {
      // The first look, and the one after a wait that ended without the running event: a fresh
      // read, unless the selection's own read of the node is seconds old (first run only).
      const instance = (firstEntry ? fromSelection(claim, ctx.now) : null) ?? (await describeInstance(deps.ec2, nodeId));
      if (!instance || instance.state === 'terminated' || instance.state === 'shutting-down') {
        throw new ProvisioningFailedError(`${nodeId} is ${instance?.state ?? 'gone'}; it cannot be provisioned`);
      }
      if (instance.state === 'stopped') {
        await start(ctx, nodeId);
        untilRunning(nodeId, `starting ${nodeId} (it was stopped)`, budget, ctx.now);
      }
      if (instance.state !== 'running') untilRunning(nodeId, `${nodeId} is ${instance.state}`, budget, new Date(held.provisionStartedAt ?? ctx.now));
    }
    const later = (detail: string, on: PendingOn): WorkflowState => {
      if (overdue(budget)) stillPending(detail, budget, on);
      return waiting(ctx, { ...state, progress }, detail, on);
    };

    if (provisioning.method === 'boot-volume') {
      // One CreateReplaceRootVolumeTask (its answer carries the task's state), then one
      // DescribeReplaceRootVolumeTasks per later look, by the id kept in the state. Without the
      // id (a crash lost it), Create again: the ClientToken gets the same task back, never a second swap.
      const known = rootVolumeTask ? await describeRootVolumeTask(deps.ec2, rootVolumeTask) : null;
      const task =
        known ??
        (await replaceRootVolume(deps.ec2, {
          instanceId: nodeId,
          source: provisioning.source,
          deleteReplacedRootVolume: provisioning.deleteReplacedRootVolume,
          clientToken: rootVolumeClientToken(state.incidentId, nodeId),
        }));
      progress[ROOT_VOLUME_TASK] = task.taskId;
      if (FAILED_TASK_STATES.has(task.state)) {
        throw new ProvisioningFailedError(`root volume replacement ${task.taskId} on ${nodeId} ended ${task.state}`);
      }
      if (task.state !== 'succeeded') {
        const started = Date.parse(task.startTime ?? '') || ctx.now.getTime();
        const firstLook = started + ROOT_VOLUME_FIRST_LOOK_SECONDS * 1000;
        const until = new Date(ctx.now.getTime() < firstLook ? firstLook : ctx.now.getTime() + ROOT_VOLUME_LOOK_SECONDS * 1000);
        return later(`root volume replacement ${task.taskId} on ${nodeId} is ${task.state}`, { until });
      }
      notes.push(`${nodeId} rebooted from ${provisioning.source.imageId} (task ${task.taskId}, A4)`);
    } else if (runningEvent && !progress[RUNNING_SINCE] && provisioning.documents.length > 0) {
      // The node started just now (its running event resumed the step): its OS boots and its SSM
      // Agent registers before a command can be sent, and no event says when (commands.ts). The
      // first look at the agent comes when that typically is done, not at once.
      progress[RUNNING_SINCE] = runningEvent.at;
      const firstLook = new Date(Math.max(ctx.now.getTime(), Date.parse(runningEvent.at) + AGENT_FIRST_LOOK_SECONDS * 1000));
      return later(`${nodeId} is running since ${runningEvent.at}; its SSM Agent is looked at once it has typically registered`, { until: firstLook });
    }
    if (seenRunning) progress[RUNNING_SINCE] = seenRunning;

    const commands = commandDeps(ctx, state);
    const documents = provisioning.documents;
    const run = await advanceDocuments(commands, {
      instanceId: nodeId,
      documents,
      incidentId: state.incidentId,
      purpose: 'provision',
      context: { app: ctx.app.name, incidentId: state.incidentId, fromNode: state.currentNode, toNode: nodeId },
    });
    if (run.status === 'failed') throw new ProvisioningFailedError(run.reason);
    if (run.status === 'pending') {
      // Giving up on the node: its provisioning command must not go on running there.
      if (overdue(budget)) await cancelCommands(commands, (c) => c.instanceId === nodeId && c.purpose === 'provision');
      const detail = `provisioning documents on ${nodeId}: ${run.detail}`;
      if (run.commandId !== null && run.index === documents.length - 1 && !overdue(budget)) {
        // The last document: its Success event ends provisioning (anything else fails the node),
        // so the workflow goes straight on to join, with nothing left for this step to do.
        progress['provision.commands'] = [...(await commandIds(commands, nodeId, documents.length - 1, state.incidentId)), run.commandId].join(',');
        return waiting(ctx, done(`once SSM reports ${run.commandId} done`), detail, onDocuments(run, nodeId, { budget, then: 'next', failWith: ErrorNames.ProvisioningFailed }));
      }
      return later(detail, onDocuments(run, nodeId, { budget }));
    }
    if (run.status === 'done' && run.commandIds.length > 0) progress['provision.commands'] = run.commandIds.join(',');
    return done();
  } finally {
    // After the provisioning call (the critical path), on the first entry only.
    if (firstEntry) await beginFencing(ctx, state, nodeId);
  }
});

/**
 * How old the selection's read of the node may be for provisioning's first run to act on it
 * without describing the node again. The claim is this incident's alone (a conditional write),
 * so only something outside the control plane could change the node's state meanwhile; if it
 * did, the action taken fails safely: a start of a running node does nothing and its running
 * event is waited for no longer than INSTANCE_START_WAIT_SECONDS, a root-volume swap or a
 * command to a node that is not running is refused or never delivered, and provisioning's budget
 * then hands the node back (A13). In a storm this is one DescribeInstances per failover fewer
 * against EC2's request bucket (bench/README, section 4).
 */
export const SELECTION_READ_FRESH_SECONDS = 10;

function fromSelection(claim: Claim, now: Date): Pick<InstanceInfo, 'state'> | null {
  const seen = claim.seenState;
  if (!seen || (now.getTime() - Date.parse(seen.at)) / 1000 > SELECTION_READ_FRESH_SECONDS) return null;
  return { state: seen.state };
}

/** The node's instance state event that resumed this run of the step, if that is what resumed it. */
function resumed(ctx: StepContext, nodeId: string, state: string): { at: string } | undefined {
  const r = ctx.resumed;
  return r?.key === instanceKey(nodeId) && r.status === state && r.at ? { at: r.at } : undefined;
}

function withoutKeys(progress: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(progress).filter(([key]) => !keys.includes(key)));
}

/** The command ids the ledger holds for the first `count` provisioning documents (already done). */
async function commandIds(commands: ReturnType<typeof commandDeps>, nodeId: string, count: number, incidentId: string): Promise<string[]> {
  if (count === 0) return [];
  const tags = Array.from({ length: count }, (_, index) => commandTag(incidentId, 'provision', index, nodeId));
  const entries = await commands.ledger.read(tags);
  return tags.flatMap((tag) => (entries.get(tag)?.commandId ? [entries.get(tag)!.commandId!] : []));
}

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
function untilRunning(nodeId: string, detail: string, budget: { elapsed: number; limit: number; what: string }, since: Date): never {
  if (budget.elapsed > budget.limit) {
    throw new ProvisioningFailedError(`${nodeId} never reached running within ${budget.limit} s (${Math.round(budget.elapsed)} s so far): ${detail}`);
  }
  // Its running event (or stopped: a start that failed) resumes the step; if none comes by the time a start takes (or the budget ends), the step looks once more.
  return stillPending(detail, null, onInstanceState(nodeId, ['running', 'stopped'], since, Math.min(INSTANCE_START_WAIT_SECONDS, remainingSeconds(budget))));
}

/**
 * Takes the node out of a lower-priority application's target groups and halts the application
 * there with its own halt documents, then marks it
 * offline and announces 'Service Down' so its own failover policy takes over (A5, C8).
 * Returns 'done' or what it is waiting for.
 */
async function preempt(ctx: StepContext, state: WorkflowState, nodeId: string, victimName: string): Promise<'done' | { detail: string; on: PendingOn }> {
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
    if (run.status === 'pending') return { detail: `halting preempted ${victimName} on ${nodeId}: ${run.detail}`, on: onDocuments(run, nodeId) };
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
