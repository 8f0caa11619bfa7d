// VerifyPerformance (A15): after the settle window, is performance on the new node still
// below the threshold (M of N, A10)? If so and attempts remain, fail over again to a third node.
import { afterVerify, evaluateThreshold } from '../../core/decisions.ts';
import { WorkflowStateSchema } from '../../core/workflow-state.ts';
import { publishPending } from '../alerting.ts';
import { getAppState } from '../adapters/app-state.ts';
import { readPerformance } from '../adapters/metrics-source.ts';
import { lazyHandler } from '../deps.ts';
import { explain, movedOutcome } from '../policy.ts';
import { defineStep } from '../step.ts';

export const makeHandler = defineStep('verify', WorkflowStateSchema, async (ctx, state) => {
  const { deps, app } = ctx;
  const done = movedOutcome(state.trigger.kind);
  const newNode = state.claim?.nodeId ?? null;
  const perf = app.detection.performance;
  if (!newNode || !perf) {
    return { ...state, outcome: done, explanation: explain(state, 'nothing to verify: no performance metric configured, or no new node') };
  }

  const datapoints = await readPerformance(deps.cloudwatch, perf, newNode, ctx.now);
  const evaluation = evaluateThreshold(perf, datapoints);
  const verdict = afterVerify({
    trigger: state.trigger.kind,
    stillDegraded: evaluation.breaching,
    attempt: state.attempt,
    maxAttempts: app.policy.maxAttempts,
  });
  const measured = `${perf.metricName} on ${newNode}: ${evaluation.badDatapoints} of the last ${Math.min(datapoints.length, perf.evaluationPeriods)} datapoints ${perf.comparison} ${perf.threshold} (alarm at ${perf.datapointsToAlarm})`;
  ctx.log.info('verified performance', { newNode, ...evaluation, verdict });

  const appState = verdict === 'failover-again' ? await getAppState(deps.ddb, deps.env.tables.state, app.name) : null;
  if (verdict === 'done' || appState?.switchingDisabled) {
    const why = verdict === 'done' ? (evaluation.breaching ? 'still degraded, but no attempts remain' : 'performance recovered') : 'switching is disabled (C7)';
    return { ...state, outcome: done, explanation: explain(state, `${measured}: ${why}`) };
  }

  // A15: the new node becomes the current one and the search starts again without the nodes tried.
  const old = state.currentNode;
  const triedNodes = [...new Set([...state.triedNodes, ...(old ? [old] : []), newNode])];
  const flushed = await publishPending(ctx, state);
  return {
    ...flushed,
    currentNode: newNode,
    triedNodes,
    claim: null,
    explanation: explain(state, `${measured}: still degraded; failing over again (A15, attempt ${state.attempt + 1} of ${app.policy.maxAttempts} next)`),
  };
});

export const handler = lazyHandler(makeHandler);
