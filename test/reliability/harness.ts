// The reliability harness's shared pieces: faults injected around a task's handler (a Lambda
// that crashes before or after its side effect, or times out), scenarios that run long enough
// in virtual time for leases to expire, and the invariants every run must end in.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { openLocalRuntime, type SimulationOptions, type SimulationResult } from '../../local/runtime/simulation.ts';
import type { TaskHandler } from '../../local/runtime/workflow-runner.ts';
import type { SimulatedFleet } from '../../local/fleet/index.ts';
import type { Scenario } from '../../local/scenario.ts';
import { CLAIM_LEASE_SECONDS, LOCK_LEASE_SECONDS } from '../../functions/policy.ts';
import { expectInvariants } from '../workflow/invariants.ts';

// ---- faults -------------------------------------------------------------------------------------

/**
 * How a task's Lambda misbehaves, once:
 * - `before-*`: it dies before its side effect (the handler is never called);
 * - `after-*`: the handler runs to the end (its effects are real), then the invocation dies;
 * - `timeout`: the handler runs, then the task times out (the result never reaches Step Functions).
 * `retryable` dies with `Lambda.ServiceException` (the workflow's Retry covers it);
 * `unexpected` with a plain error the workflow only catches.
 */
export const FAULT_KINDS = ['before-retryable', 'before-unexpected', 'after-retryable', 'after-unexpected', 'timeout'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** An error as Step Functions sees a failed Lambda invocation: matched by `name`. */
export function taskError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function faultError(kind: FaultKind, state: string): Error {
  switch (kind) {
    case 'before-retryable':
    case 'after-retryable':
      return taskError('Lambda.ServiceException', `injected: the Lambda service failed ${state} (${kind})`);
    case 'before-unexpected':
    case 'after-unexpected':
      // A plain Error: what a bug or a runtime crash in the function surfaces as.
      return taskError('Error', `injected: ${state} crashed (${kind})`);
    case 'timeout':
      return taskError('States.Timeout', `injected: ${state} timed out`);
  }
}

export interface InjectedFault {
  readonly state: string;
  readonly kind: FaultKind;
  /** How often the fault fired (it fires on the state's first invocation only). */
  fired: number;
}

/** A `wrapTask` that makes `state`'s first invocation misbehave as `kind`. */
export function injectOnce(state: string, kind: FaultKind): { fault: InjectedFault; wrapTask: NonNullable<SimulationOptions['wrapTask']> } {
  const fault: InjectedFault = { state, kind, fired: 0 };
  let invocations = 0;
  const wrapTask = (handler: TaskHandler, task: { state: string }): TaskHandler => {
    if (task.state !== state) return handler;
    return async (input) => {
      if (++invocations > 1) return handler(input);
      fault.fired++;
      if (kind.startsWith('before-')) throw faultError(kind, state);
      // The side effect happens; whatever the handler answered (a result, or an error such as
      // StepPendingError) is lost with the invocation.
      await handler(input).catch(() => undefined);
      throw faultError(kind, state);
    };
  };
  return { fault, wrapTask };
}

// ---- running --------------------------------------------------------------------------------

/** Virtual seconds after which a crashed execution's claim and lock have both expired. */
export const LEASES_EXPIRED_AFTER = Math.max(CLAIM_LEASE_SECONDS, LOCK_LEASE_SECONDS) + 60;

export interface RecordItem {
  app: string;
  incidentId: string;
  outcome?: string;
  explanation?: string[];
  [attribute: string]: unknown;
}

export interface RunResult {
  result: SimulationResult;
  /** The failover records table as the run left it. */
  records: RecordItem[];
}

/** Runs a scenario on the local runtime and reads the failover records table before closing. */
export async function simulate(s: Scenario, options: SimulationOptions): Promise<RunResult> {
  const runtime = await openLocalRuntime(s, options);
  try {
    const result = await runtime.run();
    const out = await runtime.deps.ddb.send(new ScanCommand({ TableName: runtime.deps.env.tables.records, ConsistentRead: true }));
    return { result, records: (out.Items ?? []) as RecordItem[] };
  } finally {
    await runtime.close();
  }
}

// ---- a look before the sweep --------------------------------------------------------------------

/** Where things stood when a timeline event fired: which applications ran on a running node, which had an alert. */
export interface Checkpoint {
  at: string | null;
  /** Applications running on a running instance. */
  served: string[];
  /** Subjects of the alerts published so far. */
  alerts: string[];
  /** Application → running instances it runs on. */
  runningOn: Record<string, string[]>;
}

/**
 * Options that record a checkpoint when the timeline event described by `trigger` fires
 * (before it changes anything): what the run looked like after the earlier incidents settled.
 */
export function checkpointAt(trigger: RegExp, options: SimulationOptions = {}): { checkpoint: Checkpoint; options: SimulationOptions } {
  const checkpoint: Checkpoint = { at: null, served: [], alerts: [], runningOn: {} };
  let fleet: SimulatedFleet | undefined;
  return {
    checkpoint,
    options: {
      ...options,
      beforeRun: async (runtime) => {
        fleet = runtime.fleet;
        await options.beforeRun?.(runtime);
      },
      onProgress: (event) => {
        options.onProgress?.(event);
        if (event.kind !== 'trigger' || !trigger.test(event.text) || checkpoint.at !== null || !fleet) return;
        const snapshot = fleet.snapshot();
        const running = new Set(snapshot.instances.filter((i) => i.state === 'running').map((i) => i.instanceId));
        checkpoint.at = event.at.toISOString();
        checkpoint.runningOn = Object.fromEntries(Object.entries(snapshot.apps).map(([app, nodes]) => [app, nodes.filter((n) => running.has(n))]));
        checkpoint.served = Object.entries(checkpoint.runningOn)
          .filter(([, nodes]) => nodes.length > 0)
          .map(([app]) => app);
        checkpoint.alerts = snapshot.published.map((m) => m.subject ?? '');
      },
    },
  };
}

/** At the checkpoint, every application was served, or an alert about it had gone out. */
export function expectServedOrAlerted(checkpoint: Checkpoint, apps: readonly string[]): void {
  expect(checkpoint.at, 'the checkpoint was taken').not.toBeNull();
  for (const app of apps) {
    const nodes = checkpoint.runningOn[app] ?? [];
    expect(nodes.length, `at ${checkpoint.at} ${app} runs on ${nodes.join(', ')}: never in two places`).toBeLessThanOrEqual(1);
    if (checkpoint.served.includes(app)) continue;
    expect(
      checkpoint.alerts.filter((s) => s.startsWith(`rapid-failover: ${app}:`)),
      `${app} had no running host at ${checkpoint.at}, so an alert must have gone out`,
    ).not.toEqual([]);
  }
}

// ---- invariants ---------------------------------------------------------------------------------

/**
 * What must hold after any run: the workflow suite's invariants (one host or an alert, every
 * node free / serving / set aside with a reason, no node given twice, no lock held, traffic
 * where the application runs), and a failover record for every incident that says what
 * happened: an outcome and a non-empty explanation.
 */
export function expectReliable({ result, records }: RunResult, s: Scenario): void {
  expectInvariants(result, s);
  const executions = result.incidents.filter((i) => i.outcome !== 'deduplicated' || i.steps.length > 0);
  for (const incident of executions) {
    const record = records.find((r) => r.app === incident.app && r.incidentId === incident.incidentId);
    expect(record, `incident ${incident.incidentId} has a failover record`).toBeDefined();
    expect(record?.outcome, `the record of ${incident.incidentId} states its outcome`).toEqual(expect.any(String));
    expect(record?.explanation ?? [], `the record of ${incident.incidentId} explains what happened`).not.toEqual([]);
  }
  for (const incident of result.incidents) {
    expect(incident.explanation, `incident ${incident.incidentId} (${incident.outcome}) is explained`).not.toEqual([]);
  }
}
