// JoinCluster (A9, C3): register the new node in every target group of the application (with
// the application's deregistration delay), run its run documents in order, and wait until
// every group reports it healthy. The logical address moves later, in shift, after fencing.
import { JoinFailedError } from '../../core/errors.ts';
import { touchClaim } from '../adapters/claims.ts';
import { advanceDocuments, cancelCommands } from '../adapters/commands.ts';
import { registerTarget, setDeregistrationDelay, targetHealth } from '../adapters/targets.ts';
import { commandDeps } from '../command-deps.ts';
import { lazyHandler } from '../deps.ts';
import { ClaimedStateSchema, JOIN_TIMEOUT_SECONDS, claimOf, clusterTarget, explain, overdue, secondsSince, stillPending } from '../policy.ts';
import { defineStep } from '../step.ts';

/** Target states that mean "not in the group (any more)": register again. */
const NOT_REGISTERED = new Set(['unused', 'draining']);

export const makeHandler = defineStep('join', ClaimedStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const nodeId = claimOf(state).nodeId;
  const held = await touchClaim(deps.ddb, deps.env.tables.claims, {
    nodeId,
    app: app.name,
    incidentId: state.incidentId,
    mark: 'joinStartedAt',
    now: ctx.now,
    roles: ['claimed'],
  });
  const elapsed = secondsSince(held.joinStartedAt, ctx.now);
  const budget = { elapsed, limit: JOIN_TIMEOUT_SECONDS, what: `joining ${nodeId} to ${app.name}'s cluster` };
  const target = clusterTarget(app, nodeId);

  const before = await targetHealth(deps.elb, target);
  const registered: string[] = [];
  for (const [arn, health] of before) {
    if (!NOT_REGISTERED.has(health.state)) continue;
    await setDeregistrationDelay(deps.elb, arn, app.policy.deregistrationDelaySeconds);
    await registerTarget(deps.elb, arn, target);
    registered.push(arn);
  }

  const context = { app: app.name, incidentId: state.incidentId, fromNode: state.currentNode, toNode: nodeId };
  const commands = commandDeps(ctx, state);
  const run = await advanceDocuments(commands, { instanceId: nodeId, documents: app.run, incidentId: state.incidentId, purpose: 'run', context });
  if (run.status === 'failed') throw new JoinFailedError(run.reason);
  if (run.status === 'pending') {
    if (overdue(budget)) await cancelCommands(commands, (c) => c.instanceId === nodeId && c.purpose === 'run');
    stillPending(`run documents on ${nodeId}: ${run.detail}`, budget);
  }
  if (registered.length > 0) stillPending(`registered ${nodeId} in ${registered.length} target group(s); waiting for health checks`, budget);

  const notHealthy = [...before].filter(([, h]) => h.state !== 'healthy');
  if (notHealthy.length > 0) {
    const detail = notHealthy.map(([arn, h]) => `${arn.split(':').at(-1)}: ${h.state}${h.reason ? ` (${h.reason})` : ''}`).join(', ');
    if (elapsed > JOIN_TIMEOUT_SECONDS && notHealthy.some(([, h]) => h.state === 'unhealthy')) {
      throw new JoinFailedError(`${nodeId} is not healthy in ${app.name}'s target groups after ${Math.round(elapsed)} s: ${detail}`);
    }
    stillPending(`waiting for ${nodeId} to pass health checks: ${detail}`, budget);
  }

  return {
    ...state,
    progress: { ...state.progress, 'join.healthyAt': ctx.now.toISOString() },
    explanation: explain(state, `${nodeId} is healthy in ${app.cluster.targetGroupArns.length} target group(s) of ${app.name} (A9)`),
  };
});

export const handler = lazyHandler(makeHandler);
