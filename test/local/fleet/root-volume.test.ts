// CreateReplaceRootVolumeTask: states in virtual time, idempotency, the reboot, faults.
import { CreateReplaceRootVolumeTaskCommand, DescribeReplaceRootVolumeTasksCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { quietFleet, SECOND } from './clients.ts';

const latency = { ec2: { rootVolumePendingMs: 5 * SECOND, rootVolumeInProgressMs: 15 * SECOND, rootVolumeFailingMs: 10 * SECOND, bootToServicesMs: 15 * SECOND } };
const IMAGE = 'ami-0abcdef0123456789';

function setup() {
  const sim = quietFleet({ latency });
  const id = sim.fleet.addInstance({ instanceType: 'm7i.xlarge', apps: ['batch'] });
  sim.fleet.defineImage(IMAGE, { apps: ['web'] });
  const taskState = async (taskId: string) =>
    (await sim.ec2.send(new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: [taskId] }))).ReplaceRootVolumeTasks?.[0]?.TaskState;
  return { ...sim, id, taskState };
}

describe('root volume replacement', () => {
  it('runs pending → in-progress → succeeded, reboots, and boots the new image with its applications', async () => {
    const { fleet, clock, ec2, id, taskState } = setup();
    const before = fleet.snapshot().instances[0]!.rootVolumeId;

    const { ReplaceRootVolumeTask: task } = await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: IMAGE, ClientToken: 'incident-1' }));
    const taskId = task!.ReplaceRootVolumeTaskId!;

    expect(task?.TaskState).toBe('pending');
    expect(taskId).toMatch(/^replacevol-[0-9a-f]{17}$/);
    clock.advance(5 * SECOND);
    expect(await taskState(taskId)).toBe('in-progress');
    expect(fleet.snapshot().apps).toEqual({}); // rebooting: the old application is down
    clock.advance(15 * SECOND);
    expect(await taskState(taskId)).toBe('succeeded');
    const done = (await ec2.send(new DescribeReplaceRootVolumeTasksCommand({ Filters: [{ Name: 'instance-id', Values: [id] }] }))).ReplaceRootVolumeTasks?.[0];
    expect(Date.parse(done!.CompleteTime!) - Date.parse(done!.StartTime!)).toBe(20 * SECOND);
    const after = fleet.snapshot().instances[0]!;
    expect(after.rootVolumeId).not.toBe(before);
    expect(after.state).toBe('running');
    expect(after.appsInstalled).toEqual(['web']);
    clock.advance(15 * SECOND);
    expect(fleet.snapshot().apps).toEqual({ web: [id] });
  });

  it('returns the same task for a repeated ClientToken and rejects the token with other parameters', async () => {
    const { fleet, ec2, id } = setup();

    const first = await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: IMAGE, ClientToken: 'incident-2' }));
    const again = await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: IMAGE, ClientToken: 'incident-2' }));
    const other = ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, SnapshotId: 'snap-0123456789abcdef0', ClientToken: 'incident-2' }));

    expect(again.ReplaceRootVolumeTask?.ReplaceRootVolumeTaskId).toBe(first.ReplaceRootVolumeTask?.ReplaceRootVolumeTaskId);
    await expect(other).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
    expect(fleet.snapshot().rootVolumeTasks).toHaveLength(1);
  });

  it('needs a running instance', async () => {
    const { ec2, clock, id } = setup();
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    clock.advance(60 * SECOND);

    await expect(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: IMAGE }))).rejects.toMatchObject({
      name: 'IncorrectInstanceState',
    });
  });

  it('fails through failing → failed with the original volume kept when a fault is injected', async () => {
    const { fleet, clock, ec2, id, taskState } = setup();
    fleet.faults.rootVolumeFails(id);
    const before = fleet.snapshot().instances[0]!.rootVolumeId;

    const { ReplaceRootVolumeTask: task } = await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: IMAGE }));
    clock.advance(20 * SECOND);
    expect(await taskState(task!.ReplaceRootVolumeTaskId!)).toBe('failing');
    clock.advance(10 * SECOND);

    expect(await taskState(task!.ReplaceRootVolumeTaskId!)).toBe('failed');
    expect(fleet.snapshot().instances[0]!.rootVolumeId).toBe(before);
    clock.advance(15 * SECOND);
    expect(fleet.snapshot().apps).toEqual({ batch: [id] });
  });

  it('ends failed-detached, with no root volume and impaired status checks, for a detaching fault', async () => {
    const { fleet, clock, ec2, id, taskState } = setup();
    fleet.faults.rootVolumeFails(id, { detached: true });

    const { ReplaceRootVolumeTask: task } = await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: IMAGE }));
    clock.advance(60 * SECOND);

    expect(await taskState(task!.ReplaceRootVolumeTaskId!)).toBe('failed-detached');
    expect(fleet.snapshot().instances[0]).toMatchObject({ rootVolumeId: '', statusChecks: 'impaired', appsRunning: [] });
  });
});
