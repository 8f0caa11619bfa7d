// FinishIncident: settle the outcome, write the failover record (nodes, attempts, alerts, RTO),
// add the incident to the application's history (flap damping), announce Service Up / Down to
// the other groups (C8), count the metrics, publish any alert still pending, and release the
// lock if this incident holds it. No alarm is touched: detection follows the serving tag (shift).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { MetricNames, ServiceDetailTypes } from '../../core/metrics.ts';
import type { Outcome, WorkflowState } from '../../core/workflow-state.ts';
import { publishPending } from '../alerting.ts';
import { getAppState, releaseLock, updateAppState, withHistoryEntry } from '../adapters/app-state.ts';
import { putServiceEvent } from '../adapters/notify.ts';
import { getRecord, updateRecord } from '../adapters/records.ts';
import { errorMessage, isThrottling } from '../aws-errors.ts';
import { lazyHandler } from '../deps.ts';
import { CaughtStateSchema, describeFailure, fromCaught, movedOutcome } from '../policy.ts';
import { whereRuns } from '../pool-view.ts';
import { defineStep, type StepContext } from '../step.ts';

const MOVED: readonly Outcome[] = ['failed-over', 'switched-over'];

export const makeHandler = defineStep('finish', CaughtStateSchema, async (ctx, input) => {
  const { deps, app } = ctx;
  const state = fromCaught(input, ctx.now, app.policy.settleSeconds);
  const tables = deps.env.tables;
  const [appState, record] = await Promise.all([getAppState(deps.ddb, tables.state, app.name), getRecord(deps.ddb, tables.records, state)]);
  const serving = whereRuns(app, appState);
  // A shift happened in this incident (shift stamps the record): the serving node is the new one.
  // A later hop that found no better node (A15 then A14) does not undo that move.
  const movedTo = record?.shiftedAt && serving ? serving : null;
  const alerts = [...state.alerts, ...(state.pendingAlert ? [state.pendingAlert] : [])];
  // No outcome yet and nothing moved: reached from a Catch (notify itself failed); if an alert
  // went out (or goes out below), that is what happened.
  const unsettled: Outcome = alerts.length > 0 ? 'alerted' : 'stayed';
  const outcome: Outcome =
    movedTo && (state.outcome === null || state.outcome === 'stayed') ? movedOutcome(state.trigger.kind) : (state.outcome ?? unsettled);
  const rtoSeconds = movedTo && record?.shiftedAt ? rto(state.trigger.observedAt, record.shiftedAt) : null;

  await updateRecord(deps.ddb, tables.records, state, {
    set: {
      outcome,
      toNode: serving ?? undefined,
      fromNode: record?.fromNode ?? undefined,
      attempts: state.attempt,
      triedNodes: state.triedNodes,
      alerts,
      explanation: state.explanation,
      endedAt: ctx.now.toISOString(),
      rtoSeconds: rtoSeconds ?? undefined,
      failure: state.failure ? describeFailure(state.failure) : undefined,
    },
  });
  await updateAppState(deps.ddb, tables.state, app.name, {
    set: {
      history: withHistoryEntry(appState?.history, { incidentId: state.incidentId, startedAt: state.startedAt, outcome }),
      updatedAt: ctx.now.toISOString(),
    },
  });

  // The lock goes before anything that may fail: a stuck finish must not block the next incident.
  const released = await releaseLock(deps.ddb, tables.state, app.name, state.incidentId);

  // Best effort: the record already says what happened; a missing event is logged.
  const previous = typeof record?.fromNode === 'string' ? record.fromNode : null;
  await bestEffort(ctx, 'announce the service state', () => announce(ctx, state, { outcome, serving, movedTo, previous }));

  if (MOVED.includes(outcome)) deps.metrics.addMetric(MetricNames.FailoversSucceeded, MetricUnit.Count, 1);
  if (outcome === 'alerted') deps.metrics.addMetric(MetricNames.FailoversFailed, MetricUnit.Count, 1);
  if (rtoSeconds !== null) deps.metrics.addMetric(MetricNames.RtoSeconds, MetricUnit.Seconds, rtoSeconds);
  deps.metrics.addMetadata('app', app.name);
  deps.metrics.addMetadata('incidentId', state.incidentId);
  ctx.log.info('incident finished', { outcome, serving, rtoSeconds, lockReleased: released });

  // Last: administrators must hear; if publishing fails the step is retried and everything above converges.
  const published = await publishPending(ctx, state);
  return { ...published, outcome };
});

/** C8: the other groups hear when the application is up on a new node, or has no host. */
async function announce(
  ctx: StepContext,
  state: WorkflowState,
  input: { outcome: Outcome; serving: string | null; movedTo: string | null; previous: string | null },
): Promise<void> {
  const { deps, app } = ctx;
  const base = { app: app.name, incidentId: state.incidentId, trigger: state.trigger.kind, outcome: input.outcome };
  if (input.movedTo) {
    await putServiceEvent(deps.events, deps.env.eventBusName, ServiceDetailTypes.Up, { ...base, node: input.movedTo, previousNode: input.previous });
    return;
  }
  const down = input.serving === null || (input.outcome === 'alerted' && state.trigger.kind === 'failure');
  if (down) {
    await putServiceEvent(deps.events, deps.env.eventBusName, ServiceDetailTypes.Down, {
      ...base,
      node: input.serving,
      reason: input.serving === null ? 'no node serves the application' : `the failover failed and ${input.serving} has failed`,
    });
  }
}

async function bestEffort(ctx: StepContext, what: string, call: () => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.error(`could not ${what}`, { error: errorMessage(error) });
  }
}

function rto(observedAt: string, shiftedAt: string): number | null {
  const seconds = (Date.parse(shiftedAt) - Date.parse(observedAt)) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.round(seconds * 1000) / 1000) : null;
}

export const handler = lazyHandler(makeHandler);
