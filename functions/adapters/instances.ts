// Single-instance operations on pool nodes: start, stop (fence), control tags.
import { CONTROL_TAGS } from '../../core/tags.ts';
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  ModifyInstanceAttributeCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';

/** Tags the control plane writes (IAM lets it write exactly these keys, core/tags.ts, and only on pool nodes). */
export const Tags = {
  Application: CONTROL_TAGS.application,
  /** `serving` on a node that serves: the status-check alarm's filter (core/detection.ts). */
  Role: CONTROL_TAGS.role,
  Incident: CONTROL_TAGS.incident,
  /** On a virtual-node host: one tag per application it hosts. */
  hostedApp: (app: string) => `${CONTROL_TAGS.hostedAppPrefix}${app}`,
} as const;

export async function startInstance(ec2: EC2Client, instanceId: string): Promise<void> {
  await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
}

/** `force` for a failing node being fenced: do not wait for a graceful OS shutdown. */
export async function stopInstance(ec2: EC2Client, instanceId: string, force: boolean): Promise<void> {
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: force }));
}

/**
 * Replaces the instance's security groups by `groupId` alone (a group with no rules: it opens and
 * accepts no new connection). ModifyInstanceAttribute changes the groups of the primary network
 * interface; an instance with several interfaces needs ModifyNetworkInterfaceAttribute per interface.
 */
export async function isolateInstance(ec2: EC2Client, instanceId: string, groupId: string): Promise<void> {
  await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, Groups: [groupId] }));
}

export async function tagInstance(ec2: EC2Client, instanceId: string, tags: Record<string, string>): Promise<void> {
  const entries = Object.entries(tags);
  if (entries.length === 0) return;
  await ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: entries.map(([Key, Value]) => ({ Key, Value })) }));
}

export async function untagInstance(ec2: EC2Client, instanceId: string, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await ec2.send(new DeleteTagsCommand({ Resources: [instanceId], Tags: keys.map((Key) => ({ Key })) }));
}
