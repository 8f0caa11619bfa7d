// The one wrapper every workflow step runs in: parse the input (malformed → ValidationError,
// nothing touched), put the incident on every log line, map throttling to AwsThrottledError,
// turn "still pending" into the wait the workflow's Choice routes on (an event to be resumed
// by, or a time to run again), record the step's timing in the failover record once the step
// is done (not per invocation), flush metrics, and check that what the step returns is still
// a WorkflowState.
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { z } from 'zod';
import { describeIssues, findApplication, type Application } from '../core/config.ts';
import { ErrorNames, StepPendingError, ValidationError, type PendingOn } from '../core/errors.ts';
import { overrunSeconds } from '../core/failover-bound.ts';
import { MetricNames } from '../core/metrics.ts';
import { WorkflowStateSchema, type IncidentInput, type StepName, type Wait, type WorkflowState } from '../core/workflow-state.ts';
import { errorMessage, errorName, toNamedError } from './aws-errors.ts';
import type { Deps } from './deps.ts';
import { recordStepTiming } from './adapters/records.ts';

export interface StepContext {
  deps: Deps;
  step: StepName;
  app: Application;
  /** The clock when the invocation began. */
  now: Date;
  nowSeconds: number;
  log: Logger;
  /** What ended the step's last wait (the Await state's result), if it waited. */
  resumed: WorkflowState['resumed'];
}

export type StepHandler = (event: unknown) => Promise<WorkflowState>;

const LOG_KEYS = ['incidentId', 'app', 'step'];

/** Steps the workflow runs again after a wait (each is followed by a Choice on `$.wait`). */
export const WAITING_STEPS: ReadonlySet<StepName> = new Set(['provision', 'join', 'shift', 'release']);
/** A pending step that names nothing to wait for runs again after this long. */
export const DEFAULT_POLL_SECONDS = 2;
/** progress key under which a step that waits keeps its first start until it is done. */
const timingKey = (step: StepName) => `timing.${step}`;

/** Validates `event` against `schema`; the error names every problem and where it is. */
export function parseInput<T>(schema: z.ZodType<T>, event: unknown, what: string): T {
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw new ValidationError(`${what}: ${describeIssues(parsed.error.issues).join('; ')}`);
  return parsed.data;
}

export function flushMetrics(deps: Deps): void {
  if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
}

export function defineStep<I extends IncidentInput>(
  step: StepName,
  schema: z.ZodType<I>,
  run: (ctx: StepContext, input: I) => Promise<WorkflowState>,
): (deps: Deps) => StepHandler {
  return (deps) => async (event) => {
    const input = parseInput(schema, event, `${step}: input is not a valid ${step === 'lock' ? 'incident' : 'workflow state'}`);
    const app = findApplication(deps.env.config, input.app);
    if (!app) throw new ValidationError(`${step}: unknown application '${input.app}' (not in the control plane's config)`);
    // A wait and its result belong to the step that waited: no step sees another's.
    const { wait: _wait, resumed, ...fresh } = input as I & Pick<WorkflowState, 'wait' | 'resumed'>;
    const now = deps.clock();
    const ctx: StepContext = { deps, step, app, now, nowSeconds: Math.floor(now.getTime() / 1000), log: deps.logger, resumed };
    // Every step visit says how far the failover is past the longest it can take: an alarm pages on a stuck one.
    if ('startedAt' in input && typeof input.startedAt === 'string') {
      deps.metrics.addMetric(MetricNames.FailoverOverrunSeconds, MetricUnit.Seconds, overrunSeconds(app, input.startedAt, now));
    }
    deps.logger.appendKeys({ incidentId: input.incidentId, app: input.app, step });
    const firstStart = startedBefore(fresh, step) ?? now;
    try {
      const next = WorkflowStateSchema.parse(await run(ctx, fresh as I));
      // Done, or done but for an event the workflow waits on before the next step (then 'next').
      if (!next.wait || next.wait.event?.then === 'next') {
        await recordTiming(deps, input, step, firstStart, null);
        return withoutTiming(next, step);
      }
      return withTiming(next, step, firstStart);
    } catch (error) {
      const named = toNamedError(error);
      if (named instanceof StepPendingError && WAITING_STEPS.has(step)) {
        deps.logger.info('step waits', { detail: named.message, on: named.pendingOn });
        const waiting = { ...(fresh as unknown as WorkflowState), wait: toWait(step, named, deps.clock()) };
        return WorkflowStateSchema.parse(withTiming(waiting, step, firstStart));
      }
      const failed = errorName(named);
      deps.logger.error('step failed', { errorName: failed, error: named as Error });
      await recordTiming(deps, input, step, firstStart, failed);
      throw named;
    } finally {
      flushMetrics(deps);
      deps.logger.removeKeys(LOG_KEYS);
    }
  };
}

function startedBefore(state: IncidentInput, step: StepName): Date | null {
  const at = (state as Partial<WorkflowState>).progress?.[timingKey(step)];
  return at ? new Date(at) : null;
}

function withTiming(state: WorkflowState, step: StepName, firstStart: Date): WorkflowState {
  return { ...state, progress: { ...state.progress, [timingKey(step)]: firstStart.toISOString() } };
}

function withoutTiming(state: WorkflowState, step: StepName): WorkflowState {
  if (!(timingKey(step) in state.progress)) return state;
  const { [timingKey(step)]: _, ...progress } = state.progress;
  return { ...state, progress };
}

/** The wait a pending step asks for, as the workflow state carries it. */
export function toWait(step: StepName, pending: StepPendingError, now: Date): Wait {
  return waitFor(step, pending.message, pending.pendingOn ?? { afterSeconds: DEFAULT_POLL_SECONDS }, now);
}

/**
 * The state a step returns when it waits but keeps what it learnt (a task id, the progress so
 * far), or when it is done but for an event the workflow waits on (`then: 'next'`).
 */
export function waiting(ctx: StepContext, state: WorkflowState, detail: string, on: PendingOn): WorkflowState {
  return { ...state, wait: waitFor(ctx.step, detail, on, ctx.deps.clock()) };
}

export function waitFor(step: StepName, message: string, on: PendingOn, now: Date): Wait {
  const detail = message.slice(0, 2_000);
  if ('event' in on) {
    const { key, since, expect, failWith, then, timeoutSeconds } = on.event;
    return {
      step,
      detail,
      event: {
        key,
        since: since.toISOString(),
        expect: [...expect],
        ...(failWith ? { failWith } : {}),
        then: then ?? 'again',
        timeoutSeconds: Math.max(1, Math.min(31_536_000, Math.ceil(timeoutSeconds))),
      },
    };
  }
  const until = 'until' in on ? on.until : new Date(now.getTime() + on.afterSeconds * 1000);
  return { step, detail, until: until.toISOString() };
}

/** Audit only, once per step (not per invocation): a failed timing write is logged, never allowed to fail the step. */
async function recordTiming(deps: Deps, input: IncidentInput, step: StepName, startedAt: Date, error: string | null): Promise<void> {
  try {
    await recordStepTiming(deps.ddb, deps.env.tables.records, input, {
      step,
      startedAt,
      endedAt: deps.clock(),
      error: error === ErrorNames.StepPending ? null : error,
    });
  } catch (timingError) {
    deps.logger.warn('could not record step timing', { error: errorMessage(timingError) });
  }
}
