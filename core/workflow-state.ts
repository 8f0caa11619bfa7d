// The execution state the workflow passes from step to step.
// Every task takes the whole state and returns the whole new state (ResultPath "$"), so
// the domain core, not JSONPath, decides what changes. A Catch puts the error under
// `failure` and hands the state to the compensation step.
import { z } from 'zod';
import { INSTANCE_ID } from './config.ts';

/** The workflow's task steps, in order of a successful run. One Lambda each. */
export const STEPS = [
  'lock',
  'select',
  'provision',
  'join',
  'shift',
  'release',
  'verify',
  'compensate',
  'notify',
  'finish',
] as const;
export type StepName = (typeof STEPS)[number];

export const TRIGGER_KINDS = ['performance', 'failure', 'switchover', 'drill'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/**
 * How an incident ended. `running` is no ending: the local runtime reports it for an execution
 * still running when the scenario's time ran out (the workflow itself never sets it).
 */
export const OUTCOMES = ['failed-over', 'stayed', 'alerted', 'switched-over', 'deduplicated', 'running'] as const;
export type Outcome = (typeof OUTCOMES)[number];

const nodeId = z.string().regex(INSTANCE_ID, "expected an EC2 instance id like 'i-0123456789abcdef0'");

export const TriggerSchema = z.strictObject({
  kind: z.enum(TRIGGER_KINDS),
  /** What raised it: alarm name, EC2 event id, or operator name. */
  source: z.string().min(1).max(512),
  reason: z.string().max(2_048),
  observedAt: z.iso.datetime(),
});
export type Trigger = z.infer<typeof TriggerSchema>;

/** Execution names allow [A-Za-z0-9-_] up to 80 characters. */
export const INCIDENT_ID = /^[A-Za-z0-9_-]{1,80}$/;

export const IncidentInputSchema = z.strictObject({
  incidentId: z.string().regex(INCIDENT_ID, 'incidentId must be 1-80 characters of letters, digits, - and _'),
  app: z.string().min(1).max(40),
  trigger: TriggerSchema,
  /** The node the trigger is about; absent: the application's current node from the state table. */
  fromNode: nodeId.optional(),
  /** Operator switchover to a named node (C6). */
  requestedNode: nodeId.optional(),
});
export type IncidentInput = z.infer<typeof IncidentInputSchema>;

export const StepTimingSchema = z.strictObject({
  name: z.string(),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
});

export const ClaimSchema = z.strictObject({
  nodeId,
  pool: z.string(),
  instanceType: z.string(),
  /** Lower-priority applications this claim preempts (A5). */
  preempts: z.array(z.string()).default([]),
  /** The node is a virtual-node host shared with other applications (B1). */
  shared: z.boolean().default(false),
  /** The node was the last possible node in the application's placement list (C7). */
  lastPossibleNode: z.boolean().default(false),
  leaseExpiresAt: z.number().int(),
  /**
   * The node's primary network interface as the selection's DescribeInstances saw it: shift
   * moves the logical address with it instead of describing the node again. Absent: shift asks EC2.
   */
  network: z
    .strictObject({
      primaryEniId: z.string().min(1),
      /** An address was associated with the primary private IP (another application's Elastic IP). */
      primaryIpAssociated: z.boolean(),
    })
    .optional(),
  /**
   * The node's state as the selection's DescribeInstances saw it, and when: provisioning's first
   * run trusts it while it is seconds old instead of describing the node again. Absent: it asks EC2.
   */
  seenState: z
    .strictObject({
      state: z.enum(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']),
      at: z.iso.datetime(),
    })
    .optional(),
});
export type Claim = z.infer<typeof ClaimSchema>;

export const AlertSchema = z.strictObject({
  kind: z.enum(['no-eligible-node', 'attempts-exhausted', 'last-possible-node', 'quarantine', 'shift-failed', 'workflow-error']),
  subject: z.string().max(100),
  message: z.string(),
});
export type Alert = z.infer<typeof AlertSchema>;

export const FailureSchema = z.object({
  Error: z.string(),
  Cause: z.string().optional(),
});

/** What a waiting step does next once its wait is over. */
export const WAIT_THEN = ['again', 'next'] as const;

/**
 * A step that must wait says for what (the workflow's Choice after the step routes on it):
 * - `event`: an AWS event resumes it (a `.waitForTaskToken` task, resumed by the callback
 *   Lambda when the event under `key` arrives); `then: 'next'` goes straight on to the next
 *   step (the step had nothing left to do but wait), `'again'` runs the step once more. If no
 *   event comes within `timeoutSeconds`, the step runs again and polls once (the fallback).
 * - `until`: no event exists for it (target health, the root-volume task, the SSM Agent): the
 *   step runs again at that time (a Wait state).
 */
export const WaitSchema = z
  .strictObject({
    step: z.enum(STEPS),
    detail: z.string().max(2_000),
    event: z
      .strictObject({
        key: z.string().min(1).max(512),
        /** Arrivals before this time are stale (an earlier start or stop of the same instance). */
        since: z.iso.datetime(),
        /** Statuses or states that resume the step as hoped. */
        expect: z.array(z.string().min(1)).min(1),
        /** Any other arrival fails the wait with this error name (a workflow Catch handles it). */
        failWith: z.string().min(1).optional(),
        then: z.enum(WAIT_THEN),
        timeoutSeconds: z.number().int().min(1).max(31_536_000),
      })
      .optional(),
    until: z.iso.datetime().optional(),
  })
  .refine((wait) => (wait.event === undefined) !== (wait.until === undefined), { message: 'a wait has either an event or an until time', path: ['event'] });
export type Wait = z.infer<typeof WaitSchema>;

/** The Await state's result: what resumed the step (an event, an arrival found when the token was stored), or the error that ended the wait (the step then polls once). */
export const ResumedSchema = z.looseObject({
  key: z.string().optional(),
  status: z.string().optional(),
  at: z.string().optional(),
  via: z.string().optional(),
  Error: z.string().optional(),
  Cause: z.string().optional(),
});

/** Join registered the node; shift confirms it healthy, polling at the target groups' own interval. */
export const RegisteredSchema = z.strictObject({
  at: z.iso.datetime(),
  /** The first health check that can pass: one interval after registration (the earliest of the groups). */
  firstCheckAt: z.iso.datetime(),
  /** How long after registration the node may take to be healthy (core/load-balancing.ts). */
  budgetSeconds: z.number().int().min(1),
  groups: z.array(
    z.strictObject({
      targetGroupArn: z.string(),
      intervalSeconds: z.number().int().min(1),
      healthyThreshold: z.number().int().min(1),
    }),
  ),
});
export type Registered = z.infer<typeof RegisteredSchema>;

export const WorkflowStateSchema = IncidentInputSchema.extend({
  startedAt: z.iso.datetime(),
  /** 1-based: the attempt on the current claim. */
  attempt: z.number().int().min(0),
  triedNodes: z.array(nodeId),
  /** Node serving the application when the incident began (or after a verified hop, A15). */
  currentNode: nodeId.nullable(),
  claim: ClaimSchema.nullable(),
  /** Why the selection chose or rejected each candidate. */
  explanation: z.array(z.string()),
  /** Opaque per-step progress markers (command ids, task ids) so a retried step finds what it started. */
  progress: z.record(z.string(), z.string()),
  alerts: z.array(AlertSchema),
  /** Alert waiting for the notify step. */
  pendingAlert: AlertSchema.nullable(),
  outcome: z.enum(OUTCOMES).nullable(),
  /** Set by the workflow's Catch: the error that ended the last step. */
  failure: FailureSchema.optional(),
  /** Seconds the workflow waits before verifying performance (A15). */
  settleSeconds: z.number().int().min(0),
  /** Set by a step that waits (read by the Choice after it); every step's input drops it. */
  wait: WaitSchema.optional(),
  /** Set by the Await state: what ended the wait. */
  resumed: ResumedSchema.optional(),
  /** Set by join once the node is registered; read by shift. */
  registered: RegisteredSchema.optional(),
});
export type WorkflowState = z.infer<typeof WorkflowStateSchema>;

/** The state a fresh execution starts from. */
export function initialState(input: IncidentInput, now: Date, settleSeconds: number): WorkflowState {
  return {
    ...input,
    startedAt: now.toISOString(),
    attempt: 0,
    triedNodes: [],
    currentNode: input.fromNode ?? null,
    claim: null,
    explanation: [],
    progress: {},
    alerts: [],
    pendingAlert: null,
    outcome: null,
    settleSeconds,
  };
}
