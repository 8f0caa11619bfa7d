// Administrator alerts ride in `pendingAlert` until the notify (or finish) step publishes them.
// There is one slot: raising a second alert publishes the first rather than losing it.
import type { Alert, WorkflowState } from '../core/workflow-state.ts';
import { publishAlert } from './adapters/notify.ts';
import type { StepContext } from './step.ts';

/** Publishes the pending alert, if any, once; it moves to `alerts`. */
export async function publishPending(ctx: StepContext, state: WorkflowState): Promise<WorkflowState> {
  const alert = state.pendingAlert;
  if (!alert) return state;
  const messageId = await publishAlert(ctx.deps.sns, ctx.deps.env.alertTopicArn, alert, state);
  ctx.log.warn('administrators alerted', { alertKind: alert.kind, subject: alert.subject, messageId });
  return { ...state, alerts: [...state.alerts, alert], pendingAlert: null };
}

/** Sets `alert` pending; an alert already pending is published first. */
export async function raiseAlert(ctx: StepContext, state: WorkflowState, alert: Alert): Promise<WorkflowState> {
  const flushed = state.pendingAlert ? await publishPending(ctx, state) : state;
  ctx.log.info('alert raised', { alertKind: alert.kind });
  return { ...flushed, pendingAlert: alert };
}
