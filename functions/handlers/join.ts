// JoinCluster (A9, C3): bring the application up on the new node, then add the node to the
// application's cluster, in this order: the run documents; the readiness command (if the
// application has one), retried until it succeeds; only then RegisterTargets in every target
// group (with the application's deregistration delay); then poll until every group reports the
// node healthy. Why the order matters ("Health checks for Application Load Balancer target
// groups"): a newly registered target is healthy after one passing check, but one that fails its
// initial checks turns unhealthy and then needs HealthyThresholdCount passes (5 × 30 s by
// default). A node is never registered while it is still installing or starting.
// The time allowed for the health checks follows from the target groups themselves (load
// balancer type, interval, thresholds). The logical address moves later, in shift, after fencing.
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
  const limit = healthCheckBudgetSeconds(groups);
  const elapsed = secondsSince(registeredAt, ctx.now);
  const budget = { elapsed, limit, what: `${nodeId} passing the health checks of ${app.name}'s target groups` };
  const target = clusterTarget(app, nodeId);

  const before = await targetHealth(deps.elb, target);
  const notInUse = [...before].filter(([, h]) => h.state === 'unused' && h.reason.startsWith(NOT_IN_USE));
  if (notInUse.length > 0) {
    const detail = notInUse.map(([arn, h]) => `${shortName(arn)}: ${h.reason}`).join(', ');
    throw new JoinFailedError(`${nodeId} cannot serve behind ${app.name}'s load balancers (A6): ${detail}`);
  }
  const registered: string[] = [];
  for (const [arn, health] of before) {
    if (!NOT_REGISTERED.has(health.state)) continue;
    await setDeregistrationDelay(deps.elb, arn, app.policy.deregistrationDelaySeconds);
    await registerTarget(deps.elb, arn, target);
    registered.push(arn);
  }
  if (registered.length > 0) stillPending(`registered ${nodeId} in ${registered.length} target group(s); waiting for health checks`, budget);

  const notHealthy = [...before].filter(([, h]) => h.state !== 'healthy');
  if (notHealthy.length > 0) {
    const detail = notHealthy.map(([arn, h]) => `${shortName(arn)}: ${h.state}${h.reason ? ` (${h.reason})` : ''}`).join(', ');
    if (elapsed > limit && notHealthy.some(([, h]) => h.state === 'unhealthy')) {
      throw new JoinFailedError(`${nodeId} is not healthy in ${app.name}'s target groups ${Math.round(elapsed)} s after registration (allowed ${limit} s): ${detail}`);
    }
    stillPending(`waiting for ${nodeId} to pass health checks: ${detail}`, budget);
  }

  return {
    ...state,
    progress: { ...state.progress, 'join.healthyAt': ctx.now.toISOString() },
    explanation: explain(state, `${nodeId} is healthy in ${app.cluster.targetGroupArns.length} target group(s) of ${app.name} (A9)`),
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
    stillPending(`run documents on ${nodeId}: ${run.detail}`, budget);
  }

  const readiness = app.cluster.readinessCommand;
  if (!readiness) return;
  const attempt = held.readinessAttempt ?? 1;
  const check = await advanceDocuments(commands, { instanceId: nodeId, documents: [readiness], incidentId: state.incidentId, purpose: `ready#${attempt}`, context });
  if (check.status === 'pending') {
    if (overdue(budget)) await cancelCommands(commands, (c) => c.instanceId === nodeId && c.purpose === `ready#${attempt}`);
    stillPending(`readiness check ${attempt} on ${nodeId}: ${check.detail}`, budget);
  }
  if (check.status === 'failed') {
    if (elapsed > limit) throw new JoinFailedError(`${app.name} is not ready on ${nodeId} after ${Math.round(elapsed)} s (allowed ${limit} s); ${check.reason}`);
    await nextReadinessAttempt(deps.ddb, deps.env.tables.claims, { nodeId, app: app.name, incidentId: state.incidentId, failedAttempt: attempt });
    stillPending(`${app.name} not ready yet on ${nodeId} (${check.reason}); checking again`, null);
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
