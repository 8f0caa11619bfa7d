// Durations the handlers share, and small workflow helpers used by several steps.
import type { Application } from '../core/config.ts';
import { StepPendingError, StepTimeoutError, type PendingOn } from '../core/errors.ts';
import { z } from 'zod';
import {
  FailureSchema,
  IncidentInputSchema,
  initialState,
  WorkflowStateSchema,
  type Claim,
  type Outcome,
  type TriggerKind,
  type WorkflowState,
} from '../core/workflow-state.ts';
import type { ClusterTarget } from './adapters/targets.ts';

/** The lock on an application outlives the longest execution (the state machine times out at 2 h). */
export const LOCK_LEASE_SECONDS = 2 * 60 * 60 + 15 * 60;
/** A claim being provisioned expires after the longest execution, so a crashed one frees its node. */
export const CLAIM_LEASE_SECONDS = 2 * 60 * 60 + 15 * 60;
/** DynamoDB TTL sweeps an expired claim item a day after its lease (conditions check the lease itself). */
export const TTL_GRACE_SECONDS = 24 * 60 * 60;
/**
 * Join, before registration: slack on top of the run documents' and the readiness command's own
 * timeouts (delivery to the agent, polling backoff). The health-check phase has its own budget,
 * from the target groups (core/load-balancing.ts).
 */
export const JOIN_PREPARE_MARGIN_SECONDS = 60;
/** Slack added to the halt documents' own timeouts before the old node counts as not halting (A8). */
export const HALT_GRACE_SECONDS = 120;

/** A workflow state that carries a claimed node: the steps between select and release need one. */
export const ClaimedStateSchema = WorkflowStateSchema.refine((state) => state.claim !== null, {
  message: 'this step needs a claimed node, but claim is null',
  path: ['claim'],
});

/**
 * What a Catch hands on: a workflow state, or, when the lock step itself failed, the incident
 * it was given with the `failure` (no state was built yet). Notify and finish take both, so a
 * failed lock still alerts administrators and closes its record.
 */
export const CaughtStateSchema = z.union([WorkflowStateSchema, IncidentInputSchema.extend({ failure: FailureSchema })]);
export type CaughtState = z.infer<typeof CaughtStateSchema>;

export function fromCaught(input: CaughtState, now: Date, settleSeconds: number): WorkflowState {
  if ('startedAt' in input) return input;
  return { ...initialState(input, now, settleSeconds), failure: input.failure };
}

export function claimOf(state: WorkflowState): Claim {
  if (!state.claim) throw new Error('claim is null (the input schema should have refused this state)');
  return state.claim;
}

/** What a move to a new node is called: a failover, or a switchover the operator asked for (C6). */
export function movedOutcome(trigger: TriggerKind): Outcome {
  return trigger === 'switchover' || trigger === 'drill' ? 'switched-over' : 'failed-over';
}

export function clusterTarget(app: Application, instanceId: string): ClusterTarget {
  return { targetGroupArns: app.cluster.targetGroupArns, instanceId, port: app.cluster.port };
}

/** Seconds since an ISO time (negative clock skew counts as 0). */
export function secondsSince(iso: string | undefined, now: Date): number {
  if (!iso) return 0;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? 0 : Math.max(0, (now.getTime() - at) / 1000);
}

/** The step's time is up: stillPending would end it with StepTimeoutError. */
export function overdue(budget: { elapsed: number; limit: number }): boolean {
  return budget.elapsed > budget.limit;
}

/**
 * Something this step started is still running: wait for it (`on`: the event that ends it, or
 * when to look again), unless its time is up.
 */
export function stillPending(detail: string, overdue: { elapsed: number; limit: number; what: string } | null, on?: PendingOn): never {
  if (overdue && overdue.elapsed > overdue.limit) {
    throw new StepTimeoutError(`${overdue.what} did not finish within ${overdue.limit} s (${Math.round(overdue.elapsed)} s so far): ${detail}`);
  }
  throw new StepPendingError(detail, on);
}

/** Seconds left of a budget, at least 1 (a wait's timeout: the step polls once when it ends). */
export function remainingSeconds(budget: { elapsed: number; limit: number }): number {
  return Math.max(1, Math.ceil(budget.limit - budget.elapsed));
}

/** Keeps explanations bounded: Step Functions state is limited to 256 KB. */
export const EXPLANATION_LIMIT = 60;
export function explain(state: WorkflowState, ...lines: string[]): string[] {
  return [...state.explanation, ...lines].slice(-EXPLANATION_LIMIT);
}

/**
 * A Catch's `failure` in words: Step Functions puts a Lambda error's JSON ({errorType,
 * errorMessage, trace}) in Cause; the message is what matters.
 */
export function describeFailure(failure: WorkflowState['failure']): string {
  if (!failure) return 'unknown failure';
  let message = failure.Cause ?? '';
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed) message = String((parsed as { errorMessage: unknown }).errorMessage);
  } catch {
    // Not JSON: the cause is the message.
  }
  return message ? `${failure.Error}: ${message}`.slice(0, 1_000) : failure.Error;
}
