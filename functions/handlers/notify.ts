// NotifyAdministrators: publish the pending alert (what happened, what to do) to the alert
// topic. Reached from a Catch with no alert prepared, it reports the workflow error itself.
import { describeAlert } from '../../core/decisions.ts';
import { WorkflowStateSchema } from '../../core/workflow-state.ts';
import { publishPending } from '../alerting.ts';
import { lazyHandler } from '../deps.ts';
import { describeFailure } from '../policy.ts';
import { defineStep } from '../step.ts';

export const makeHandler = defineStep('notify', WorkflowStateSchema, async (ctx, state) => {
  const pending =
    state.pendingAlert ??
    (state.failure
      ? describeAlert('workflow-error', {
          app: ctx.app.name,
          incidentId: state.incidentId,
          trigger: state.trigger.kind,
          currentNode: state.currentNode,
          reason: describeFailure(state.failure),
          triedNodes: state.triedNodes,
        })
      : null);
  if (!pending) return state;
  const published = await publishPending(ctx, { ...state, pendingAlert: pending });
  return { ...published, outcome: published.outcome ?? 'alerted' };
});

export const handler = lazyHandler(makeHandler);
