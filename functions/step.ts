// The one wrapper every workflow step runs in: parse the input (malformed → ValidationError,
// nothing touched), put the incident on every log line, map throttling to AwsThrottledError,
// record the step's first start / last end in the failover record, flush metrics, and check
// that what the step returns is still a WorkflowState.
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { z } from 'zod';
import { describeIssues, findApplication, type Application } from '../core/config.ts';
import { ErrorNames, ValidationError } from '../core/errors.ts';
import { overrunSeconds } from '../core/failover-bound.ts';
import { MetricNames } from '../core/metrics.ts';
import { WorkflowStateSchema, type IncidentInput, type StepName, type WorkflowState } from '../core/workflow-state.ts';
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
}

export type StepHandler = (event: unknown) => Promise<WorkflowState>;

const LOG_KEYS = ['incidentId', 'app', 'step'];

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
    const now = deps.clock();
    const ctx: StepContext = { deps, step, app, now, nowSeconds: Math.floor(now.getTime() / 1000), log: deps.logger };
    // Every step visit says how far the failover is past the longest it can take: an alarm pages on a stuck one.
    if ('startedAt' in input && typeof input.startedAt === 'string') {
      deps.metrics.addMetric(MetricNames.FailoverOverrunSeconds, MetricUnit.Seconds, overrunSeconds(app, input.startedAt, now));
    }
    deps.logger.appendKeys({ incidentId: input.incidentId, app: input.app, step });
    let failed: string | null = null;
    try {
      const next = await run(ctx, input);
      return WorkflowStateSchema.parse(next);
    } catch (error) {
      const named = toNamedError(error);
      failed = errorName(named);
      if (failed === ErrorNames.StepPending) deps.logger.info('step pending', { detail: errorMessage(named) });
      else deps.logger.error('step failed', { errorName: failed, error: named as Error });
      throw named;
    } finally {
      await recordTiming(deps, input, step, now, failed);
      flushMetrics(deps);
      deps.logger.removeKeys(LOG_KEYS);
    }
  };
}

/** Audit only: a failed timing write is logged, never allowed to fail (or delay the retry of) the step. */
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
