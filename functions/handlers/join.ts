// JoinCluster (A9, C3): bring the application up on the new node, then add the node to the
// application's cluster, in this order: the run documents; the readiness command (if the
// application has one), retried until it succeeds; only then RegisterTargets in every target
// group (with the application's deregistration delay). Why the order matters ("Health checks
// for Application Load Balancer target groups"): a newly registered target is healthy after one
// passing check, but one that fails its initial checks turns unhealthy and then needs
// HealthyThresholdCount passes (5 × 30 s by default). A node is never registered while it is
// still installing or starting. The documents' end events resume the step (no polling).
// Join ends at registration: target health emits no event, so the workflow waits one health-check
// interval of the target groups (read with DescribeTargetGroups) and shift confirms the node
// healthy, looking again at the groups' own interval, before it moves traffic; the time allowed
// follows from the groups too (load balancer type, interval, thresholds). The logical address
// moves later, in shift, after fencing.
import type { Application } from '../../core/config.ts';
import { JoinFailedError } from '../../core/errors.ts';
import { healthCheckBudgetSeconds } from '../../core/load-balancing.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { nextReadinessAttempt, touchClaim, type ClaimItem } from '../adapters/claims.ts';
import { advanceDocuments, cancelCommands } from '../adapters/commands.ts';
import { describeTargetGroups } from '../adapters/load-balancers.ts';
import { registerTarget, setDeregistrationDelay, targetHealth } from '../adapters/targets.ts';
import { commandDeps } from '../command-deps.ts';
import { lazyHandler } from '../deps.ts';
import { ClaimedStateSchema, JOIN_PREPARE_MARGIN_SECONDS, claimOf, clusterTarget, explain, overdue, secondsSince, stillPending } from '../policy.ts';
import { defineStep, type StepContext } from '../step.ts';
import { onDocuments } from '../waits.ts';

/** A readiness check that failed is tried again after this long. ASSUMPTION: an application starting takes seconds; the check itself takes SSM's delivery and its run. */
export const READINESS_RETRY_SECONDS = 2;

/** Target states that mean "not in the group (any more)": register again. */
const NOT_REGISTERED = new Set(['unused', 'draining']);
/** AWS's reason for a target no load balancer node sends traffic to (its zone is not enabled): registering again changes nothing. */
const NOT_IN_USE = 'Target.NotInUse';

export const makeHandler = defineStep('join', ClaimedStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const nodeId = claimOf(state).nodeId;
  const claim = { nodeId, app: app.name, incidentId: state.incidentId, now: ctx.now, roles: ['claimed' as const] };
  const held = await touchClaim(deps.ddb, deps.env.tables.claims, { ...claim, mark: 'joinStartedAt' });

  let registeredAt = held.joinRegisteredAt;
  if (!registeredAt) {
    await prepareApplication(ctx, state, held);
    registeredAt = (await touchClaim(deps.ddb, deps.env.tables.claims, { ...claim, mark: 'joinRegisteredAt' })).joinRegisteredAt;
  }

  const groups = await describeTargetGroups(deps.elb, app.cluster.targetGroupArns, ctx.now);
  const target = clusterTarget(app, nodeId);
  const before = await targetHealth(deps.elb, target);
  const notInUse = [...before].filter(([, h]) => h.state === 'unused' && h.reason.startsWith(NOT_IN_USE));
  if (notInUse.length > 0) {
    const detail = notInUse.map(([arn, h]) => `${shortName(arn)}: ${h.reason}`).join(', ');
    throw new JoinFailedError(`${nodeId} cannot serve behind ${app.name}'s load balancers (A6): ${detail}`);
  }
  let registered = 0;
  for (const [arn, health] of before) {
    if (!NOT_REGISTERED.has(health.state)) continue;
    await setDeregistrationDelay(deps.elb, arn, app.policy.deregistrationDelaySeconds);
    await registerTarget(deps.elb, arn, target);
    registered++;
  }
  // Registered once the application answered (joinRegisteredAt); a re-registration now starts its checks again.
  const at = registered > 0 ? ctx.deps.clock() : new Date(registeredAt ?? ctx.now);
  const firstInterval = Math.min(...groups.map((g) => g.healthCheckIntervalSeconds));
  return {
    ...state,
    registered: {
      at: at.toISOString(),
      firstCheckAt: new Date(at.getTime() + firstInterval * 1000).toISOString(),
      budgetSeconds: healthCheckBudgetSeconds(groups),
      groups: groups.map((g) => ({ targetGroupArn: g.targetGroupArn, intervalSeconds: g.healthCheckIntervalSeconds, healthyThreshold: g.healthyThresholdCount })),
    },
    progress: { ...state.progress, 'join.registeredAt': at.toISOString() },
    explanation: explain(state, `${nodeId} registered in ${app.cluster.targetGroupArns.length} target group(s) of ${app.name} (A9); first health check in ${firstInterval} s`),
  };
});

/**
 * Returns once the run documents have succeeded and the readiness command (if any) has passed;
 * otherwise throws: StepPendingError to poll again, JoinFailedError when a run document failed
 * or the application was not ready in time.
 */
async function prepareApplication(ctx: StepContext, state: WorkflowState, held: ClaimItem): Promise<void> {
  const { deps, app } = ctx;
  const nodeId = claimOf(state).nodeId;
  const elapsed = secondsSince(held.joinStartedAt, ctx.now);
  const limit = prepareBudgetSeconds(app);
  const budget = { elapsed, limit, what: `starting ${app.name} on ${nodeId}` };
  const context = { app: app.name, incidentId: state.incidentId, fromNode: state.currentNode, toNode: nodeId };

  const commands = commandDeps(ctx, state);
  const run = await advanceDocuments(commands, { instanceId: nodeId, documents: app.run, incidentId: state.incidentId, purpose: 'run', context });
  if (run.status === 'failed') throw new JoinFailedError(run.reason);
  if (run.status === 'pending') {
    // Giving up on the node: its run documents must not go on running there.
    if (overdue(budget)) await cancelCommands(commands, (c) => c.instanceId === nodeId && c.purpose === 'run');
    stillPending(`run documents on ${nodeId}: ${run.detail}`, budget, onDocuments(run, nodeId, { budget }));
  }

  const readiness = app.cluster.readinessCommand;
  if (!readiness) return;
  const attempt = held.readinessAttempt ?? 1;
  const check = await advanceDocuments(commands, { instanceId: nodeId, documents: [readiness], incidentId: state.incidentId, purpose: `ready#${attempt}`, context });
  if (check.status === 'pending') {
    if (overdue(budget)) await cancelCommands(commands, (c) => c.instanceId === nodeId && c.purpose === `ready#${attempt}`);
    // Any end resumes the step (a failed check is tried again, not a failed node).
    stillPending(`readiness check ${attempt} on ${nodeId}: ${check.detail}`, budget, onDocuments(check, nodeId, { budget }));
  }
  if (check.status === 'failed') {
    if (elapsed > limit) throw new JoinFailedError(`${app.name} is not ready on ${nodeId} after ${Math.round(elapsed)} s (allowed ${limit} s); ${check.reason}`);
    await nextReadinessAttempt(deps.ddb, deps.env.tables.claims, { nodeId, app: app.name, incidentId: state.incidentId, failedAttempt: attempt });
    stillPending(`${app.name} not ready yet on ${nodeId} (${check.reason}); checking again`, null, { afterSeconds: READINESS_RETRY_SECONDS });
  }
}

/** The run documents' and the readiness command's own timeouts, plus slack. */
function prepareBudgetSeconds(app: Application): number {
  const documents = [...app.run, ...(app.cluster.readinessCommand ? [app.cluster.readinessCommand] : [])];
  return documents.reduce((total, document) => total + document.timeoutSeconds, 0) + JOIN_PREPARE_MARGIN_SECONDS;
}

/** 'arn:…:targetgroup/web/0123…' → 'targetgroup/web/0123…'. */
function shortName(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}

export const handler = lazyHandler(makeHandler);
