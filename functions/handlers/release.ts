// ReleaseOldNode (A8, C4): wait for the old node's halt documents, then give the node back to
// the pool, or quarantine it when it failed (with a reason and an alert), or keep it stopped
// for inspection when the policy says so. The state item records the halt for the watchdog.
import { describeAlert } from '../../core/decisions.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { raiseAlert } from '../alerting.ts';
import { updateAppState } from '../adapters/app-state.ts';
import { releaseClaim, setAside } from '../adapters/claims.ts';
import { advanceDocuments, cancelCommands } from '../adapters/commands.ts';
import { commandDeps } from '../command-deps.ts';
import { describeInstance, statusChecksPass } from '../adapters/fleet.ts';
import { stopInstance } from '../adapters/instances.ts';
import { lazyHandler } from '../deps.ts';
import { isVirtualHost, poolOf, tagNodeReleased } from '../node-tags.ts';
import { otherTenants } from '../occupancy.ts';
import { ClaimedStateSchema, HALT_GRACE_SECONDS, claimOf, explain, secondsSince, stillPending } from '../policy.ts';
import { defineStep, type StepContext } from '../step.ts';
import { onDocuments } from '../waits.ts';

export type Disposition = 'none' | 'returned' | 'quarantined' | 'retained' | 'left-on-host';

export const makeHandler = defineStep('release', ClaimedStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const newNode = claimOf(state).nodeId;
  const old = state.currentNode !== null && state.currentNode !== newNode ? state.currentNode : null;
  if (!old) {
    return { ...state, progress: { ...state.progress, 'release.disposition': 'none' }, explanation: explain(state, 'no old node to release') };
  }

  // Shift found the host stopped moments ago (C1) and noted its pool: no need to describe it
  // again. Otherwise (not fenced by a stop: a performance trigger, a shared host, isolation),
  // whether it still runs decides what release does, so EC2 is asked.
  const fencedPool = state.progress['shift.fence'] === 'stopped' ? state.progress['shift.oldPool'] : undefined;
  const instance = fencedPool === undefined ? await describeInstance(deps.ec2, old) : null;
  const running = instance?.state === 'running';
  const others = await otherTenants(ctx, old);
  const pool = fencedPool === undefined ? (instance ? poolOf(deps.env.config, instance) : null) : (deps.env.config.pools.find((p) => p.name === fencedPool) ?? null);
  const host = others.length > 0 || isVirtualHost(deps.env.config, pool?.name);

  // C3/C9: the halt documents shift started, in order, to the end.
  const problems: string[] = [];
  if (running && app.halt.length > 0 && state.progress['shift.fence'] !== 'stopped') {
    const commands = commandDeps(ctx, state);
    const run = await advanceDocuments(commands, { instanceId: old, documents: app.halt, incidentId: state.incidentId, purpose: 'halt' });
    const limit = app.halt.reduce((sum, doc) => sum + doc.timeoutSeconds, 0) + HALT_GRACE_SECONDS;
    const elapsed = secondsSince(state.progress['shift.shiftedAt'], ctx.now);
    if (run.status === 'failed') problems.push(run.reason);
    if (run.status === 'pending') {
      if (elapsed <= limit) stillPending(`halting ${app.name} on ${old}: ${run.detail}`, null, onDocuments(run, old, { budget: { elapsed, limit } }));
      await cancelCommands(commands, (c) => c.instanceId === old && c.purpose === 'halt');
      problems.push(`halt documents did not finish within ${limit} s`);
    }
  }
  if (running && !(await statusChecksPass(deps.ec2, [old])).get(old)) problems.push('EC2 status checks impaired');
  if (state.trigger.kind === 'failure' && !host) problems.push(`it failed: ${state.trigger.reason || state.trigger.source}`);
  // C9: a host that could not be stopped is only isolated: a person must look at it.
  const fenceProblem = state.progress['shift.fenceProblem'];
  if (fenceProblem) problems.push(fenceProblem);

  const disposition = await dispose(ctx, state, { old, host, othersStay: others.length > 0, running, problems, tagged: pool !== null });
  const at = ctx.now.toISOString();
  await updateAppState(deps.ddb, deps.env.tables.state, app.name, {
    set: { lastHalt: { node: old, at, incidentId: state.incidentId, disposition }, updatedAt: at },
  });

  const next: WorkflowState = {
    ...state,
    progress: { ...state.progress, 'release.disposition': disposition },
    explanation: explain(state, describeDisposition(old, disposition, problems, app.policy.returnOldNodeToPool)),
  };
  if (disposition !== 'quarantined') return next;
  const alert = describeAlert('quarantine', {
    app: app.name,
    incidentId: state.incidentId,
    trigger: state.trigger.kind,
    node: old,
    currentNode: newNode,
    reason: problems.join('; '),
  });
  return raiseAlert(ctx, next, alert);
});

async function dispose(
  ctx: StepContext,
  state: WorkflowState,
  input: { old: string; host: boolean; othersStay: boolean; running: boolean; problems: string[]; tagged: boolean },
): Promise<Disposition> {
  const { deps, app } = ctx;
  const { old, host } = input;
  const aside = (role: 'quarantined' | 'retained', reason: string) =>
    setAside(deps.ddb, deps.env.tables.claims, {
      nodeId: old,
      app: app.name,
      incidentId: state.incidentId,
      role,
      reason,
      now: ctx.now,
      priority: app.priority,
      vcpu: app.requirements.minVcpu,
      memoryMiB: app.requirements.minMemoryMiB,
    });
  const tag = async (role: 'free' | 'quarantined' | 'retained') => {
    if (input.tagged) await tagNodeReleased(ctx, { nodeId: old, host, role, othersStay: input.othersStay });
  };

  if (input.problems.length > 0) {
    await aside('quarantined', `${app.name} left ${old} (incident ${state.incidentId}): ${input.problems.join('; ')}`);
    await tag('quarantined');
    return 'quarantined';
  }
  if (host) {
    await releaseClaim(deps.ddb, deps.env.tables.claims, { nodeId: old, app: app.name, nowSeconds: ctx.nowSeconds });
    await tag('free');
    return 'left-on-host';
  }
  if (app.policy.returnOldNodeToPool) {
    await releaseClaim(deps.ddb, deps.env.tables.claims, { nodeId: old, app: app.name, nowSeconds: ctx.nowSeconds });
    await tag('free');
    return 'returned';
  }
  if (input.running) await stopInstance(deps.ec2, old, false);
  await aside('retained', `policy.returnOldNodeToPool is false: ${old} is kept stopped for inspection after incident ${state.incidentId}`);
  await tag('retained');
  return 'retained';
}

function describeDisposition(old: string, disposition: Disposition, problems: string[], returnToPool: boolean): string {
  switch (disposition) {
    case 'returned':
      return `${old} returned to the pool (A8)`;
    case 'left-on-host':
      return `${old} is a shared host: the application was halted there, the host keeps its other tenants`;
    case 'quarantined':
      return `${old} quarantined: ${problems.join('; ')}`;
    case 'retained':
      return `${old} stopped and kept out of the pool (policy.returnOldNodeToPool=${returnToPool})`;
    case 'none':
      return 'no old node to release';
  }
}

export const handler = lazyHandler(makeHandler);
