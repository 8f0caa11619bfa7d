// The longest a failover of one application can take, from its config: what the workflow's steps
// allow themselves before they give up (the handlers enforce these limits), added up over every
// attempt the policy allows. An execution running past it is stuck, not slow: the steps report how
// far past it they are (MetricNames.FailoverOverrunSeconds) and an alarm pages administrators.
import type { Application } from './config.ts';
import { DEFAULT_HEALTH_CHECK, healthCheckBudgetSeconds, type LoadBalancerType } from './load-balancing.ts';

/**
 * One visit of a workflow step: its Lambda runs at most its timeout (60 s, lib/rapid-failover.ts).
 * ASSUMPTION: Step Functions' own transitions and the retries of a throttled call (up to 2 min
 * with the workflow's backoff) fit in the same minute on average; a run that needs many of them
 * overruns by minutes, which the alarm reports.
 */
export const STEP_VISIT_SECONDS = 60;
/** The join step's slack before registration (functions/policy.ts JOIN_PREPARE_MARGIN_SECONDS). */
export const JOIN_PREPARE_MARGIN_SECONDS = 60;
/** Slack on the halt documents (functions/policy.ts HALT_GRACE_SECONDS). */
export const HALT_GRACE_SECONDS = 120;
/** How long the shift step waits for the old host to stop before it isolates it (functions/handlers/shift.ts FENCE_TIMEOUT_SECONDS). */
export const FENCE_TIMEOUT_SECONDS = 300;
/** Task states one attempt can visit: select, provision, join, shift, release, verify, compensate; the settle window is counted apart. */
const STEP_VISITS_PER_ATTEMPT = 7;
/** Visited once per execution: lock, notify, finish. */
const STEP_VISITS_PER_EXECUTION = 3;

export interface FailoverBound {
  app: string;
  /** The whole execution: every attempt, and lock, notify and finish once. */
  seconds: number;
  /** One attempt on one node. */
  perAttemptSeconds: number;
  attempts: number;
  /** How the attempt adds up, for the synth-time explanation. */
  terms: Record<'provision' | 'prepare' | 'healthChecks' | 'fence' | 'halt' | 'settle' | 'steps', number>;
}

/**
 * maxAttempts × (provisioning.timeoutSeconds + the join step's budget (run documents' and the
 * readiness command's timeoutSeconds + 60 s, then the health-check budget of the target groups) +
 * the fence wait (300 s) + the halt documents' timeoutSeconds + 120 s + settleSeconds + 7 step
 * visits of 60 s) + 3 step visits. Each attempt may end in a release and a settle window (a
 * performance failover that is still degraded tries the next node, A15) or in compensation.
 *
 * The health-check budget is the one the join step computes (core/load-balancing.ts) with the
 * settings ELB gives a target group by default (interval 30 s, 5 healthy and 2 unhealthy checks):
 * the config does not hold the target groups' own settings, which the join step reads at run
 * time. A target group that checks more slowly makes legitimate failovers overrun this bound.
 */
export function failoverBound(app: Application): FailoverBound {
  const documents = (list: ReadonlyArray<{ timeoutSeconds: number }>) => list.reduce((sum, d) => sum + d.timeoutSeconds, 0);
  const loadBalancer = app.detection.failure.targetHealth?.loadBalancerArn;
  const type: LoadBalancerType | undefined = loadBalancer?.includes(':loadbalancer/net/') ? 'network' : loadBalancer ? 'application' : undefined;
  const groups = app.cluster.targetGroupArns.map((arn) => ({
    targetGroupArn: arn,
    name: arn,
    loadBalancers: type ? [{ arn: loadBalancer!, name: loadBalancer!, type, availabilityZones: [] }] : [],
    ...DEFAULT_HEALTH_CHECK,
  }));
  const terms = {
    provision: app.provisioning.timeoutSeconds,
    prepare: documents(app.run) + (app.cluster.readinessCommand?.timeoutSeconds ?? 0) + JOIN_PREPARE_MARGIN_SECONDS,
    healthChecks: healthCheckBudgetSeconds(groups),
    fence: FENCE_TIMEOUT_SECONDS,
    halt: documents(app.halt) + HALT_GRACE_SECONDS,
    settle: app.policy.settleSeconds,
    steps: STEP_VISITS_PER_ATTEMPT * STEP_VISIT_SECONDS,
  };
  const perAttemptSeconds = Object.values(terms).reduce((a, b) => a + b, 0);
  const attempts = app.policy.maxAttempts;
  return { app: app.name, seconds: attempts * perAttemptSeconds + STEP_VISITS_PER_EXECUTION * STEP_VISIT_SECONDS, perAttemptSeconds, attempts, terms };
}

/** How far a failover that started at `startedAt` is past its bound at `now` (0 while within it). */
export function overrunSeconds(app: Application, startedAt: string, now: Date): number {
  const started = Date.parse(startedAt);
  if (Number.isNaN(started)) return 0;
  return Math.max(0, Math.round((now.getTime() - started) / 1000 - failoverBound(app).seconds));
}
