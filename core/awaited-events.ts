// The AWS events that end a workflow step's wait, and the key each is stored under in the token
// store: the callback Lambda matches an arriving event to the task token of the step that waits
// for it by this key. Shapes as AWS documents them:
// - SSM: "Amazon EventBridge event examples for Systems Manager" (Run Command events), AWS Systems
//   Manager User Guide, monitoring-systems-manager-event-examples: "EC2 Command Invocation
//   Status-change Notification", source aws.ssm, detail command-id, document-name, instance-id,
//   requested-date-time, status (one event per instance; "EC2 Command Status-change
//   Notification" is the command as a whole and names no instance in its detail).
// - EC2: "State change events for Amazon EC2 instances", EC2 User Guide
//   (monitoring-instance-state-changes): "EC2 Instance State-change Notification", source
//   aws.ec2, detail instance-id and state (pending, running, stopping, stopped, shutting-down,
//   terminated). AWS's example carries no `version`.
// The root-volume task has no event: "Amazon EventBridge events for Amazon EBS" lists volume
// events (createVolume, deleteVolume, attachVolume and detachVolume failures with a KMS key),
// snapshot and fast-snapshot-restore events, nothing for CreateReplaceRootVolumeTask; the
// replacement's reboot keeps the instance `running`, so no state change either. Target health
// and the SSM Agent coming Online have none either: those waits are polls.
import { z } from 'zod';
import { INSTANCE_ID } from './config.ts';

export const SSM_SOURCE = 'aws.ssm';
export const EC2_SOURCE = 'aws.ec2';
export const COMMAND_INVOCATION_STATUS_CHANGE = 'EC2 Command Invocation Status-change Notification';
export const COMMAND_STATUS_CHANGE = 'EC2 Command Status-change Notification';
export const INSTANCE_STATE_CHANGE = 'EC2 Instance State-change Notification';

/**
 * Invocation statuses that end a command on an instance: the values NotificationConfig
 * documents for notifications (All | InProgress | Success | TimedOut | Cancelled | Failed),
 * InProgress aside (AWS Systems Manager API Reference, NotificationConfig).
 */
export const COMMAND_END_STATUSES = ['Success', 'Failed', 'TimedOut', 'Cancelled'] as const;

/** Instance states a step waits for: a started node running, a fenced host stopped. */
export const AWAITED_INSTANCE_STATES = ['running', 'stopped'] as const;

export function commandKey(commandId: string, instanceId: string): string {
  return `ssm:${commandId}:${instanceId}`;
}

export function instanceKey(instanceId: string): string {
  return `ec2:${instanceId}`;
}

const instanceId = z.string().regex(INSTANCE_ID, "expected an EC2 instance id like 'i-0123456789abcdef0'");
const timestamp = z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'expected an ISO 8601 time');

const EnvelopeSchema = z.looseObject({
  version: z.string().optional(),
  id: z.string().min(1).max(256),
  source: z.string().min(1),
  'detail-type': z.string().min(1),
  account: z.string().optional(),
  time: timestamp,
  region: z.string().optional(),
  resources: z.array(z.string()).default([]),
  detail: z.unknown(),
});

export const CommandInvocationEventSchema = EnvelopeSchema.extend({
  source: z.literal(SSM_SOURCE),
  'detail-type': z.literal(COMMAND_INVOCATION_STATUS_CHANGE),
  detail: z.looseObject({
    'command-id': z.string().min(1).max(64),
    'document-name': z.string().min(1).optional(),
    'instance-id': instanceId,
    'requested-date-time': z.string().optional(),
    status: z.string().min(1).max(64),
  }),
});

export const InstanceStateEventSchema = EnvelopeSchema.extend({
  source: z.literal(EC2_SOURCE),
  'detail-type': z.literal(INSTANCE_STATE_CHANGE),
  detail: z.looseObject({ 'instance-id': instanceId, state: z.string().min(1).max(32) }),
});

export const AwaitedEventSchema = z.union([CommandInvocationEventSchema, InstanceStateEventSchema]);
export type AwaitedEvent = z.infer<typeof AwaitedEventSchema>;

/** What an event says about the awaited thing, under its key. */
export interface Arrival {
  key: string;
  /** The invocation's status, or the instance's state. */
  status: string;
  /** When AWS emitted it (the event's `time`). */
  at: string;
  eventId: string;
}

export function arrivalOf(event: AwaitedEvent): Arrival {
  const at = new Date(event.time).toISOString();
  if (event.source === SSM_SOURCE) {
    return { key: commandKey(event.detail['command-id'], event.detail['instance-id']), status: event.detail.status, at, eventId: event.id };
  }
  return { key: instanceKey(event.detail['instance-id']), status: event.detail.state, at, eventId: event.id };
}

/**
 * Whether an arrival ends a wait registered `since`: it is not older (AWS's event `time` has
 * whole seconds: a second's grace; an earlier start or stop of the same instance is stale), and
 * it is a status the wait resumes on, or any status when the wait fails on the others.
 */
export function endsWait(arrival: Pick<Arrival, 'at' | 'status'>, wait: { since: string; expect: readonly string[]; failWith?: string | undefined }): boolean {
  if (Date.parse(arrival.at) < Date.parse(wait.since) - 1_000) return false;
  return wait.expect.includes(arrival.status) || wait.failWith !== undefined;
}

/** How the wait ends: as hoped (the step goes on), or failed with the wait's error (`failWith`). */
export function outcomeOf(arrival: Pick<Arrival, 'status'>, wait: { expect: readonly string[]; failWith?: string | undefined }): 'resume' | 'fail' {
  return wait.expect.includes(arrival.status) || wait.failWith === undefined ? 'resume' : 'fail';
}
