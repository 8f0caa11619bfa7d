// NotifyAdministrators: publish the pending alert (what happened, what to do) to the alert
// topic. Reached from a Catch with no alert prepared, it reports the workflow error itself
// (from the lock step's Catch it gets the incident, not yet a workflow state).
import { describeAlert } from '../../core/decisions.ts';
import { publishPending } from '../alerting.ts';
import { lazyHandler } from '../deps.ts';
import { CaughtStateSchema, describeFailure, explain, fromCaught } from '../policy.ts';
import { defineStep } from '../step.ts';

export const makeHandler = defineStep('notify', CaughtStateSchema, async (ctx, input) => {
  const state = fromCaught(input, ctx.now, ctx.app.policy.settleSeconds);
  if (state.pendingAlert) {
    const published = await publishPending(ctx, state);
    return { ...published, outcome: published.outcome ?? 'alerted' };
  }
  if (!state.failure) return state;
  const failure = describeFailure(state.failure);
  const alert = describeAlert('workflow-error', {
    app: ctx.app.name,
    incidentId: state.incidentId,
    trigger: state.trigger.kind,
    currentNode: state.currentNode,
    reason: failure,
    triedNodes: state.triedNodes,
  });
  const published = await publishPending(ctx, { ...state, pendingAlert: alert, explanation: explain(state, `the workflow stopped with an error: ${failure}`) });
  return { ...published, outcome: published.outcome ?? 'alerted' };
});

export const handler = lazyHandler(makeHandler);
