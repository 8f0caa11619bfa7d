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
