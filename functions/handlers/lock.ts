// LockApplication: one active failover per application (deduplicated by incident), switching
// disabled on the last possible node (C7), cooldown and flap damping, then the incident's record.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Application } from '../../core/config.ts';
import { checkDamping, describeAlert, type AlertKind } from '../../core/decisions.ts';
import { MetricNames } from '../../core/metrics.ts';
import { IncidentInputSchema, initialState, type IncidentInput, type TriggerKind, type WorkflowState } from '../../core/workflow-state.ts';
import { raiseAlert } from '../alerting.ts';
import { acquireLock, type AppStateItem } from '../adapters/app-state.ts';
import { getRecord, updateRecord } from '../adapters/records.ts';
import { lazyHandler } from '../deps.ts';
import { LOCK_LEASE_SECONDS, movedOutcome } from '../policy.ts';
import { whereRuns } from '../pool-view.ts';
import { defineStep, type StepContext } from '../step.ts';

export const makeHandler = defineStep('lock', IncidentInputSchema, async (ctx, input) => {
  const { deps, app, now } = ctx;
  const base = initialState(input, now, app.policy.settleSeconds);
  const lock = await acquireLock(deps.ddb, deps.env.tables.state, {
    app: app.name,
    incidentId: input.incidentId,
    now,
    leaseSeconds: LOCK_LEASE_SECONDS,
  });

  if (!lock.acquired) {
    const why = `${app.name} is already being failed over by incident ${lock.heldBy}; this trigger is folded into it`;
    ctx.log.info('lock held by another incident', { heldBy: lock.heldBy });
    await writeRecord(ctx, input, base.currentNode, { outcome: 'deduplicated', duplicateOf: lock.heldBy, explanation: [why], endedAt: now.toISOString() });
    return { ...base, outcome: 'deduplicated', explanation: [why] };
  }
  if (!lock.reentered) deps.metrics.addMetric(MetricNames.FailoversStarted, MetricUnit.Count, 1);
  if (lock.abandoned) await closeAbandoned(ctx, lock.abandoned, input.incidentId);

  const item = lock.item;
  const currentNode = resolveCurrentNode(app, item, input);
  const state: WorkflowState = { ...base, currentNode };
  const stay = whyStay(ctx, item, input, currentNode);
  await writeRecord(ctx, input, currentNode, {});
  if (stay) {
    ctx.log.info('failover not started', { reason: stay.why });
    const stayed: WorkflowState = { ...state, outcome: 'stayed', explanation: [stay.why] };
    if (!stay.alert) return stayed;
    // The application is failing where it is and nothing will move it: administrators must hear (A14).
    const alert = describeAlert(stay.alert, {
      app: app.name,
      incidentId: input.incidentId,
      trigger: input.trigger.kind,
      node: currentNode ?? undefined,
      currentNode,
      reason: `${input.trigger.reason || input.trigger.source}; not failed over: ${stay.why}`,
    });
    return raiseAlert(ctx, stayed, alert);
  }
  return {
    ...state,
    explanation: [`lock acquired for ${app.name}; it runs on ${currentNode ?? 'no known node'} (${input.trigger.kind} trigger: ${input.trigger.reason || input.trigger.source})`],
  };
});

/** The node the application runs on now: the state table, else the event's node, else its preferred node (C2). */
function resolveCurrentNode(app: Application, item: AppStateItem, input: IncidentInput): string | null {
  if (item.offline) return null;
  return item.currentNode ?? input.fromNode ?? whereRuns(app, item);
}

/** Why no failover starts, and the alert it needs when the application is failing where it stays. */
function whyStay(ctx: StepContext, item: AppStateItem, input: IncidentInput, currentNode: string | null): { why: string; alert?: AlertKind } | null {
  const { app, now } = ctx;
  // A failure event about a node the application has already left (fenced, released) is stale.
  if (input.trigger.kind === 'failure' && input.fromNode && currentNode !== null && input.fromNode !== currentNode) {
    return { why: `the trigger is about ${input.fromNode}, but ${app.name} runs on ${currentNode} now: nothing to fail over` };
  }
  if (item.offline && input.trigger.kind === 'failure' && input.fromNode && item.lastHalt?.node === input.fromNode) {
    return { why: `${app.name} was already halted on ${input.fromNode} (${item.offlineReason ?? 'offline'}); its own failover handles it` };
  }
  if (item.switchingDisabled && input.trigger.kind !== 'switchover') {
    const why = `switching is disabled for ${app.name} (C7: ${item.switchingDisabledReason ?? 'it runs on its last possible node'}); only an operator switchover moves it`;
    return input.trigger.kind === 'failure' ? { why, alert: 'last-possible-node' } : { why };
  }
  const damping = checkDamping({ now, policy: app.policy, history: item.history ?? [], trigger: input.trigger.kind });
  if (!damping.allowed) return { why: `${damping.reason}; a failover is allowed again from ${damping.retryAt}` };
  return null;
}

/**
 * The lock this incident took over had expired: its incident's execution ended without
 * finishing (a step failed past its retries with nothing to catch it, or the execution timed
 * out; the workflow's execution alarms alerted administrators). Its record is closed here.
 */
async function closeAbandoned(ctx: StepContext, incidentId: string, by: string): Promise<void> {
  const { deps, app, now } = ctx;
  const key = { app: app.name, incidentId };
  const record = await getRecord(deps.ddb, deps.env.tables.records, key);
  if (!record || record.outcome) return;
  const kind = (record.trigger as { kind?: TriggerKind } | undefined)?.kind;
  const outcome = record.shiftedAt && kind ? movedOutcome(kind) : 'alerted';
  const line = `incident ${incidentId} never finished: its execution ended without releasing the lock (failed or timed out; the execution alarms alert administrators); incident ${by} took the expired lock over at ${now.toISOString()}`;
  ctx.log.warn('closing an abandoned incident', { abandoned: incidentId, outcome });
  const explanation = Array.isArray(record.explanation) ? (record.explanation as string[]) : [];
  await updateRecord(deps.ddb, deps.env.tables.records, key, { set: { outcome, explanation: [...explanation, line], endedAt: now.toISOString() } });
}

async function writeRecord(ctx: StepContext, input: IncidentInput, fromNode: string | null, extra: Record<string, unknown>): Promise<void> {
  await updateRecord(ctx.deps.ddb, ctx.deps.env.tables.records, input, {
    setIfNotExists: { startedAt: ctx.now.toISOString() },
    set: {
      trigger: input.trigger,
      fromNode: fromNode ?? undefined,
      requestedNode: input.requestedNode,
      ...extra,
    },
  });
}

export const handler = lazyHandler(makeHandler);
