// Waits on events, end to end (the synthesized workflow's Await states, the callback Lambda, the
// token store in DynamoDB Local, the fleet's EC2 and SSM events through the template's rules):
// a lost event costs time, never the failover (the wait's timeout, then the step polls once);
// an event that comes before its token is stored still resumes the step (store, then check); a
// duplicated event resumes it once. EventBridge delivers AWS service events "on a best effort
// basis" (Systems Manager's event reference), at least once.
import type { HandlerExecutionContext, InitializeHandler, InitializeHandlerArguments, MetadataBearer } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import type { ServiceEvent, SimulatedFleet } from '../../../local/fleet/index.ts';
import type { ProgressEvent } from '../../../local/runtime/simulation.ts';
import { waitStates } from '../../../lib/workflow.ts';
import { States } from '../../../lib/workflow.ts';
import { activate, app, incidentsOf, node, nodeId, scenario, servingNodes } from '../fixtures.ts';
import type { Run } from '../harness.ts';

const AWAIT_PROVISION = waitStates(States.Provision).await;
const AWAIT_SHIFT = waitStates(States.Shift).await;

/** The SSM event that ends the provisioning command (activate: one document) on `node`. */
const provisionCommandEnds = (node: string) => (event: ServiceEvent) =>
  event['detail-type'] === 'EC2 Command Invocation Status-change Notification' && event.detail['instance-id'] === node && event.detail.status === 'Success';

/** A recorder of what the run did: task events per state, and the callback's answers. */
function recorder() {
  const tasks: Array<{ state: string; phase: string; at: number; error?: string }> = [];
  const callbacks: string[] = [];
  const onProgress = (event: ProgressEvent) => {
    if (event.task) tasks.push({ state: event.task.state, phase: event.task.phase, at: event.at.getTime(), ...(event.task.error ? { error: event.task.error } : {}) });
    if (event.kind === 'callback') callbacks.push(event.text);
  };
  const starts = (state: string) => tasks.filter((t) => t.state === state && (t.phase === 'start' || t.phase === 'retry'));
  return { onProgress, tasks, callbacks, starts };
}

export function eventCases(run: Run): void {
  describe('waits on events (SSM command status, EC2 instance state): lost, early, duplicated', () => {
    const failover = (name: string, extra: { stoppedNode?: boolean } = {}) =>
      scenario({
        name,
        applications: [app('ledger', { provisioning: activate('ledger'), run: [] })],
        instances: [node(1, { runs: ['ledger'] }), node(2, { installed: ['ledger'], ...(extra.stoppedNode ? { state: 'stopped' as const } : {}) })],
        timeline: [{ at: 0, event: 'instance-failed', node: nodeId(1) }],
      });

    it('A2/A3: the SSM Success event of the activation command resumes the workflow: provisioning is not polled', async () => {
      const r = recorder();
      const result = await run(failover('event-resumes'), { onProgress: r.onProgress });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2), attempts: 1 });
      expect(r.starts(States.Provision)).toHaveLength(1);
      expect(r.starts(AWAIT_PROVISION)).toHaveLength(1);
      expect(r.callbacks.filter((c) => c.includes(`:${nodeId(2)} resumed`))).toHaveLength(1);
    });

    it('a lost SSM event: the Await state times out (when provisioning’s 600 s are up: the command’s own allowance, 120 + 600 + 60 s, is longer), provisioning polls once, finds the command done and goes on; the failover costs time, not the failover', async () => {
      const r = recorder();
      const result = await run(failover('ssm-event-lost'), {
        onProgress: r.onProgress,
        beforeRun: ({ fleet }: { fleet: SimulatedFleet }) => {
          fleet.faults.loseEvents(provisionCommandEnds(nodeId(2)));
        },
      });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2), attempts: 1 });
      expect(servingNodes(result, 'ledger')).toEqual([nodeId(2)]);
      expect(r.tasks.find((t) => t.state === AWAIT_PROVISION && t.phase === 'error')?.error).toBe('States.Timeout');
      // The fallback poll (a second ProvisionNode run) found the command done.
      expect(r.starts(States.Provision)).toHaveLength(2);
      const awaited = r.tasks.filter((t) => t.state === AWAIT_PROVISION).map((t) => t.at);
      expect(Math.max(...awaited) - Math.min(...awaited)).toBeGreaterThanOrEqual(590_000);
      expect(incident!.rtoSeconds).toBeGreaterThan(600);
    });

    it('a lost EC2 event (a started node\'s running event): provisioning looks once more when a start is overdue (120 s, not its whole 600 s budget), finds the node running and goes on', async () => {
      const r = recorder();
      const result = await run(failover('ec2-event-lost', { stoppedNode: true }), {
        onProgress: r.onProgress,
        beforeRun: ({ fleet }: { fleet: SimulatedFleet }) => {
          fleet.faults.loseEvents((e) => e['detail-type'] === 'EC2 Instance State-change Notification' && e.detail['instance-id'] === nodeId(2) && e.detail.state === 'running');
        },
      });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2), attempts: 1 });
      expect(servingNodes(result, 'ledger')).toEqual([nodeId(2)]);
      expect(r.tasks.filter((t) => t.state === AWAIT_PROVISION && t.phase === 'error').map((t) => t.error)).toEqual(['States.Timeout']);
      // The fallback poll found it running and sent the activation, whose event resumed the workflow.
      expect(r.starts(States.Provision)).toHaveLength(2);
      expect(incident!.rtoSeconds).toBeLessThan(300);
    });

    it('a lost EC2 event (the fenced host\'s stopped event): shift looks once more when the fence’s time is up, finds it stopped and moves traffic', async () => {
      const r = recorder();
      // Health checks every 5 s: the new node is healthy before the old host has stopped, so shift waits for the stop.
      const s = { ...failover('fence-event-lost'), latency: { elbv2: { healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 } } };
      const result = await run(s, {
        onProgress: r.onProgress,
        beforeRun: ({ fleet }: { fleet: SimulatedFleet }) => {
          fleet.faults.loseEvents((e) => e['detail-type'] === 'EC2 Instance State-change Notification' && e.detail['instance-id'] === nodeId(1) && e.detail.state === 'stopped');
        },
      });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2) });
      expect(r.tasks.find((t) => t.state === AWAIT_SHIFT && t.phase === 'error')?.error).toBe('States.Timeout');
      expect(incident!.explanation.join('\n')).toContain(`fenced: ${nodeId(1)} is stopped`);
    });

    it('an event that comes before its token is stored (the Await state\'s Lambda is slow): stored first, the token finds it and resumes at once (store, then check)', async () => {
      const r = recorder();
      const s = { ...failover('event-first'), latency: { ssm: { deliveryMs: 0, documentRunMs: 500 } } };
      const result = await run(s, {
        onProgress: r.onProgress,
        // The Await state's Lambda takes 3 s before it stores the token: the command ends (0.5 s) and its event arrives first.
        wrapTask: (handler, task) => (task.state === AWAIT_PROVISION ? async (input) => (await slow.sleep(3_000), handler(input)) : handler),
        beforeRun: ({ sleep }) => {
          slow.sleep = sleep;
        },
      });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2), attempts: 1 });
      expect(r.callbacks.filter((c) => c.includes(`:${nodeId(2)} stored`))).toHaveLength(1);
      // Resumed by the token's own invocation, long before the wait's timeout: no fallback poll.
      expect(r.tasks.filter((t) => t.state === AWAIT_PROVISION && t.phase === 'error')).toEqual([]);
      expect(r.starts(States.Provision)).toHaveLength(1);
      const awaitEnd = r.tasks.find((t) => t.state === AWAIT_PROVISION && t.phase === 'end')!.at;
      const awaitStart = r.tasks.find((t) => t.state === AWAIT_PROVISION && t.phase === 'start')!.at;
      expect(awaitEnd - awaitStart).toBeLessThan(5_000);
    });

    it('a callback that fails on an event is retried by Lambda (asynchronous invocation: again a minute later), and the step resumes then, without waiting for its timeout', async () => {
      const r = recorder();
      let failed = 0;
      const result = await run(failover('callback-retried'), {
        onProgress: r.onProgress,
        beforeRun: ({ deps }) => {
          // The token store refuses the first write of an arriving event (the callback's invocation fails).
          deps.ddb.middlewareStack.add(
            (next: InitializeHandler<object, MetadataBearer>) => async (args: InitializeHandlerArguments<object>) => {
              const names = JSON.stringify((args.input as { ExpressionAttributeNames?: unknown }).ExpressionAttributeNames ?? {});
              if (failed === 0 && names.includes('"arrival"')) {
                failed++;
                throw Object.assign(new Error('injected: the token store failed'), { name: 'InternalServerError' });
              }
              return next(args);
            },
            { step: 'initialize', priority: 'high', name: 'failArrivalOnce' },
          );
        },
      });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2), attempts: 1 });
      expect(failed).toBe(1);
      expect(r.callbacks.filter((c) => c.startsWith('callback failed on the event (attempt 1'))).toHaveLength(1);
      expect(r.callbacks.filter((c) => c.includes(`:${nodeId(2)} resumed`))).toHaveLength(1);
      // Resumed by the retried event, not by the fallback look at the wait's timeout.
      expect(r.tasks.filter((t) => t.state === AWAIT_PROVISION && t.phase === 'error')).toEqual([]);
      expect(r.starts(States.Provision)).toHaveLength(1);
    });

    it('a duplicated SSM event (at-least-once delivery) resumes the task once: the other copies find it resumed in the token store and send nothing', async () => {
      const r = recorder();
      const sent: string[] = [];
      const result = await run(failover('event-duplicated'), {
        onProgress: r.onProgress,
        beforeRun: ({ fleet, deps }) => {
          fleet.faults.duplicateEvents(provisionCommandEnds(nodeId(2)), 3);
          // Every Step Functions call the control plane makes (the callback Lambda shares these deps).
          deps.sfn.middlewareStack.addRelativeTo(
            (next: InitializeHandler<object, MetadataBearer>, context: HandlerExecutionContext) => async (args: InitializeHandlerArguments<object>) => {
              sent.push(String(context.commandName));
              return next(args);
            },
            { relation: 'before', toMiddleware: 'localStepFunctions', name: 'countSfnCalls' },
          );
        },
      });
      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2), attempts: 1 });
      const ends = r.callbacks.filter((c) => c.startsWith('EC2 Command Invocation') && c.includes(`:${nodeId(2)} `));
      expect(ends).toHaveLength(3);
      expect(ends.filter((c) => c.endsWith(' resumed'))).toHaveLength(1);
      // One SendTaskSuccess: the copies are answered from the store (Step Functions would answer a second send TaskTimedOut).
      expect(sent.filter((c) => c === 'SendTaskSuccessCommand')).toHaveLength(1);
      expect(r.starts(States.Join)).toHaveLength(1);
    });
  });
}

/** Set by beforeRun: the run's virtual sleep, for the slow Lambda of the early-event case. */
const slow: { sleep: (ms: number) => Promise<void> } = { sleep: async () => undefined };
