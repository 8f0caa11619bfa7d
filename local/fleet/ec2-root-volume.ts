// CreateReplaceRootVolumeTask / DescribeReplaceRootVolumeTasks: reboot a running instance from
// another boot image (A4). Keeps the instance's ENIs, IPs and data volumes; the instance reboots.
// States: pending → in-progress → succeeded, or → failing → failed (original volume reattached),
// or → failing-detached → failed-detached (no root volume left) when a fault is injected.
import type {
  CreateReplaceRootVolumeTaskCommandInput,
  CreateReplaceRootVolumeTaskCommandOutput,
  DescribeReplaceRootVolumeTasksCommandInput,
  DescribeReplaceRootVolumeTasksCommandOutput,
  ReplaceRootVolumeTask,
  ReplaceRootVolumeTaskState,
} from '@aws-sdk/client-ec2';
import { requireInstances } from './ec2.ts';
import { checkRootVolumeSource } from './ec2-images.ts';
import { errorsFor } from './errors.ts';
import { beginReboot, finishReboot } from './instances.ts';
import type { SimInstance, World } from './model.ts';
import { matchesFilters, paginate } from './query.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('ec2');

/**
 * The API reference lists 'failing-detached' among the task states; the SDK's enum lacks it (it
 * is still a string on the wire, and so in the SDK's output).
 */
type TaskState = ReplaceRootVolumeTaskState | 'failing-detached';

export interface SimRootVolumeTask {
  taskId: string;
  instanceId: string;
  state: TaskState;
  startTime: number;
  completeTime?: number;
  snapshotId?: string;
  imageId?: string;
  deleteReplacedRootVolume: boolean;
  tags: Array<{ Key: string; Value: string }>;
  clientToken?: string;
}

const FINAL_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'failed-detached']);

export function ec2RootVolumeHandlers(world: World, tasks: Map<string, SimRootVolumeTask>): Handlers {
  const byToken = new Map<string, SimRootVolumeTask>();

  return {
    CreateReplaceRootVolumeTask: (input: CreateReplaceRootVolumeTaskCommandInput): Output<CreateReplaceRootVolumeTaskCommandOutput> => {
      const [instance] = requireInstances(world, input.InstanceId ? [input.InstanceId] : []);
      if (!instance) throw error('MissingParameter', 'The request must contain the parameter InstanceId');
      if (input.SnapshotId && input.ImageId) throw error('InvalidParameterCombination', 'Specify either SnapshotId or ImageId, not both');
      if (input.SnapshotId && !/^snap-[0-9a-f]{8,17}$/.test(input.SnapshotId)) throw error('InvalidSnapshotID.Malformed', `Invalid id: "${input.SnapshotId}"`);
      if (input.ImageId && !/^ami-[0-9a-f]{8,17}$/.test(input.ImageId)) throw error('InvalidAMIID.Malformed', `Invalid id: "${input.ImageId}"`);

      if (input.ClientToken) {
        const earlier = byToken.get(input.ClientToken);
        if (earlier) {
          const same = earlier.instanceId === instance.instanceId && earlier.snapshotId === input.SnapshotId && earlier.imageId === input.ImageId;
          if (!same) throw error('IdempotentParameterMismatch', `The client token '${input.ClientToken}' was used with different parameters`);
          return { ReplaceRootVolumeTask: describeTask(earlier) };
        }
      }
      if (instance.state !== 'running') {
        throw error('IncorrectInstanceState', `The instance '${instance.instanceId}' is not in the 'running' state.`);
      }
      if (instance.rootVolumeId === '') throw error('IncorrectState', `The instance '${instance.instanceId}' has no root volume attached.`);
      checkRootVolumeSource(world, instance, { snapshotId: input.SnapshotId, imageId: input.ImageId });
      const busy = [...tasks.values()].find((t) => t.instanceId === instance.instanceId && !FINAL_STATES.has(t.state));
      if (busy) throw error('IncorrectState', `Root volume replacement task ${busy.taskId} is already in progress for instance '${instance.instanceId}'.`);

      const task: SimRootVolumeTask = {
        taskId: world.newId('replacevol'),
        instanceId: instance.instanceId,
        state: 'pending',
        startTime: world.now(),
        deleteReplacedRootVolume: input.DeleteReplacedRootVolume ?? false,
        tags: (input.TagSpecifications ?? []).flatMap((spec) => (spec.Tags ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }))),
        ...(input.SnapshotId ? { snapshotId: input.SnapshotId } : {}),
        ...(input.ImageId ? { imageId: input.ImageId } : {}),
        ...(input.ClientToken ? { clientToken: input.ClientToken } : {}),
      };
      tasks.set(task.taskId, task);
      if (input.ClientToken) byToken.set(input.ClientToken, task);
      run(world, instance, task);
      return { ReplaceRootVolumeTask: describeTask(task) };
    },

    DescribeReplaceRootVolumeTasks: (input: DescribeReplaceRootVolumeTasksCommandInput): Output<DescribeReplaceRootVolumeTasksCommandOutput> => {
      const missing = (input.ReplaceRootVolumeTaskIds ?? []).find((id) => !tasks.has(id));
      if (missing) throw error('InvalidReplaceRootVolumeTaskId.NotFound', `The root volume replacement task '${missing}' does not exist`);
      const selected = input.ReplaceRootVolumeTaskIds?.length ? input.ReplaceRootVolumeTaskIds.map((id) => tasks.get(id)!) : [...tasks.values()];
      const matching = selected.filter((task) =>
        matchesFilters(input.Filters, (name) => ({ 'instance-id': [task.instanceId], 'task-state': [task.state] })[name], error),
      );
      const { page, nextToken } = paginate(matching, input.MaxResults, input.NextToken, { min: 1, max: 50, default: 50 }, error);
      return { ReplaceRootVolumeTasks: page.map(describeTask), ...(nextToken ? { NextToken: nextToken } : {}) };
    },
  };
}

function run(world: World, instance: SimInstance, task: SimRootVolumeTask): void {
  const { rootVolumePendingMs, rootVolumeInProgressMs, rootVolumeFailingMs } = world.latency.ec2;
  const finish = (state: TaskState) => {
    task.state = state;
    task.completeTime = world.now();
  };
  world.clock.after(
    rootVolumePendingMs,
    () => {
      if (instance.state !== 'running') {
        finish('failed');
        return;
      }
      world.sync();
      task.state = 'in-progress';
      const generation = beginReboot(world, instance);
      world.clock.after(
        rootVolumeInProgressMs,
        () => {
          world.sync();
          if (instance.bootGeneration !== generation) {
            // Stopped (or otherwise restarted) under us: the original volume stays.
            finish('failed');
            return;
          }
          const fault = world.faults.takeRootVolumeFault(instance.instanceId);
          if (fault?.detached) {
            instance.rootVolumeId = '';
            task.state = 'failing-detached';
            world.clock.after(rootVolumeFailingMs, () => finish('failed-detached'), `root volume ${task.taskId}`);
            return;
          }
          if (fault) {
            task.state = 'failing';
            finishReboot(world, instance, generation);
            world.clock.after(rootVolumeFailingMs, () => finish('failed'), `root volume ${task.taskId}`);
            return;
          }
          swapRootVolume(world, instance, task);
          finish('succeeded');
          finishReboot(world, instance, generation);
        },
        `root volume ${task.taskId}`,
      );
    },
    `root volume ${task.taskId}`,
  );
}

/**
 * The new root volume: from a snapshot of this volume's lineage (its applications then), from an
 * AMI (its applications; a new lineage begins), or, with neither, the launch state (the
 * instance's image).
 */
function swapRootVolume(world: World, instance: SimInstance, task: SimRootVolumeTask): void {
  const snapshot = task.snapshotId ? world.snapshots.get(task.snapshotId) : undefined;
  const image = world.images.get(task.imageId ?? instance.imageId);
  instance.rootVolumeId = world.newId('vol');
  instance.rootSource = task.snapshotId ?? task.imageId ?? instance.imageId;
  if (task.imageId) {
    instance.imageId = task.imageId;
    instance.rootLineage = instance.rootVolumeId;
  }
  for (const app of [...instance.apps.keys()]) instance.apps.delete(app);
  for (const app of snapshot?.apps ?? image?.apps ?? []) instance.apps.set(app, { installed: true, running: false, startOnBoot: true });
}

function describeTask(task: SimRootVolumeTask): ReplaceRootVolumeTask {
  return {
    ReplaceRootVolumeTaskId: task.taskId,
    InstanceId: task.instanceId,
    TaskState: task.state as ReplaceRootVolumeTaskState,
    StartTime: new Date(task.startTime).toISOString(),
    ...(task.completeTime !== undefined ? { CompleteTime: new Date(task.completeTime).toISOString() } : {}),
    ...(task.snapshotId ? { SnapshotId: task.snapshotId } : {}),
    ...(task.imageId ? { ImageId: task.imageId } : {}),
    DeleteReplacedRootVolume: task.deleteReplacedRootVolume,
    Tags: task.tags.map((t) => ({ ...t })),
  };
}
