// A4: reboot a node from another boot image by swapping its root volume. The task is created
// with a deterministic ClientToken, so a retried step gets the same task back, never a second swap.
import { createHash } from 'node:crypto';
import { CreateReplaceRootVolumeTaskCommand, DescribeReplaceRootVolumeTasksCommand, type EC2Client } from '@aws-sdk/client-ec2';

/** An AMI (a snapshot would fit only the root volume it was taken from; see core/config.ts). */
export type RootVolumeSource = { imageId: string };

export interface RootVolumeSwap {
  instanceId: string;
  source: RootVolumeSource;
  deleteReplacedRootVolume: boolean;
  clientToken: string;
}

export interface RootVolumeTask {
  taskId: string;
  /** pending, in-progress, succeeded, failing, failed, failing-detached, failed-detached. */
  state: string;
  startTime: string | null;
}

/** EC2 client tokens are at most 64 ASCII characters: readable when it fits, hashed otherwise. */
export function rootVolumeClientToken(incidentId: string, instanceId: string): string {
  const readable = `${incidentId}-${instanceId}`;
  return readable.length <= 64 ? readable : `rf-${createHash('sha256').update(readable).digest('hex').slice(0, 61)}`;
}

/**
 * Starts the swap (or gets the task the same token started) and returns the task as the answer
 * describes it (EC2 API Reference, "CreateReplaceRootVolumeTask": the response is the
 * ReplaceRootVolumeTask, with its TaskState and StartTime). ASSUMPTION: for a token used before,
 * that state may be the one of the first answer (EC2 documents idempotency, not which state a
 * repeated answer carries): a caller that waits and then describes the task by id never takes a
 * stale 'pending' for an end.
 */
export async function replaceRootVolume(ec2: EC2Client, swap: RootVolumeSwap): Promise<RootVolumeTask> {
  const created = await ec2.send(
    new CreateReplaceRootVolumeTaskCommand({
      InstanceId: swap.instanceId,
      ClientToken: swap.clientToken,
      DeleteReplacedRootVolume: swap.deleteReplacedRootVolume,
      ImageId: swap.source.imageId,
    }),
  );
  const task = created.ReplaceRootVolumeTask;
  const taskId = task?.ReplaceRootVolumeTaskId;
  if (!taskId) throw new Error(`CreateReplaceRootVolumeTask returned no task for ${swap.instanceId}`);
  return { taskId, state: task.TaskState ?? 'pending', startTime: task.StartTime ?? null };
}

/** The task's current state (DescribeReplaceRootVolumeTasks by id), or null when EC2 does not list it. */
export async function describeRootVolumeTask(ec2: EC2Client, taskId: string): Promise<RootVolumeTask | null> {
  const described = await ec2.send(new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: [taskId] }));
  const task = described.ReplaceRootVolumeTasks?.find((t) => t.ReplaceRootVolumeTaskId === taskId);
  return task ? { taskId, state: task.TaskState ?? 'pending', startTime: task.StartTime ?? null } : null;
}
