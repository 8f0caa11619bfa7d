// CreateReplaceRootVolumeTask: states in virtual time, idempotency, the reboot, faults.
import {
  CreateReplaceRootVolumeTaskCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeReplaceRootVolumeTasksCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
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

describe('root volume replacement: what may replace a root volume (A4; CreateReplaceRootVolumeTask)', () => {
  /** The demo's search app: its host (m7g.xlarge) and two idle Graviton pool nodes. */
  function demoFleet() {
    const sim = quietFleet({ latency });
    const host = sim.fleet.addInstance({ instanceType: 'm7g.xlarge', apps: ['search'] });
    const pool = [sim.fleet.addInstance({ instanceType: 'c7g.xlarge' }), sim.fleet.addInstance({ instanceType: 'm7g.large' })];
    return { ...sim, host, pool };
  }

  it('refuses a snapshot EC2 does not have (InvalidSnapshot.NotFound) instead of taking it to be the instance\'s own', async () => {
    const { ec2, pool } = demoFleet();

    await expect(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: pool[0], SnapshotId: 'snap-0123456789abcdef0' }))).rejects.toMatchObject({
      name: 'InvalidSnapshot.NotFound',
    });
  });

  it('takes a snapshot only onto the root volume it was taken from: the demo\'s search snapshot fits no pool node', async () => {
    const { fleet, clock, ec2, host, pool } = demoFleet();
    fleet.defineSnapshot('snap-0123456789abcdef0', { fromInstance: host });

    for (const node of pool) {
      await expect(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: node, SnapshotId: 'snap-0123456789abcdef0' }))).rejects.toMatchObject({
        name: 'InvalidParameterValue',
        message: expect.stringContaining('The specified snapshot must be a snapshot that you previously created from the original root volume'),
      });
    }
    const own = await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: host, SnapshotId: 'snap-0123456789abcdef0' }));
    clock.advance(20 * SECOND);
    expect(fleet.snapshot().rootVolumeTasks).toEqual([{ taskId: own.ReplaceRootVolumeTask!.ReplaceRootVolumeTaskId, instanceId: host, state: 'succeeded' }]);
  });

  it('starts a new lineage with an AMI: a snapshot of the volume it replaced no longer fits', async () => {
    const { fleet, clock, ec2, host } = demoFleet();
    fleet.defineSnapshot('snap-0aaaaaaaaaaaaaaa1', { fromInstance: host });
    fleet.defineImage('ami-0bbbbbbbbbbbbbbb1', { apps: ['search'], architecture: 'arm64' });
    await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: host, ImageId: 'ami-0bbbbbbbbbbbbbbb1' }));
    clock.advance(20 * SECOND);

    await expect(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: host, SnapshotId: 'snap-0aaaaaaaaaaaaaaa1' }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    fleet.defineSnapshot('snap-0aaaaaaaaaaaaaaa2', { fromInstance: host });
    await expect(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: host, SnapshotId: 'snap-0aaaaaaaaaaaaaaa2' }))).resolves.toBeDefined();
  });

  it.each([
    ['architecture', { architecture: 'arm64' }, /architecture arm64 \(instance x86_64\)/],
    ['virtualization type', { virtualizationType: 'paravirtual' as const }, /virtualization type paravirtual \(instance hvm\)/],
    ['product code', { productCodes: ['8fjhsdk28d0wtqsbkasbhapgz'] }, /product codes \[8fjhsdk28d0wtqsbkasbhapgz\] \(instance \[\]\)/],
    ['billing information', { platformDetails: 'Windows', usageOperation: 'RunInstances:0002' }, /billing Windows \/ RunInstances:0002 \(instance Linux\/UNIX \/ RunInstances\)/],
  ])('refuses an AMI whose %s differs from the instance\'s (InvalidParameterValue)', async (_what, attributes, detail) => {
    const { fleet, ec2, id } = setup();
    fleet.defineImage('ami-0ccccccccccccccc1', { apps: ['web'], ...attributes });

    const created = ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: 'ami-0ccccccccccccccc1' }));

    await expect(created).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/^The specified AMI must have the same product code, billing information, architecture type, and virtualization type as that of the instance: /),
    });
    await expect(created).rejects.toMatchObject({ message: expect.stringMatching(detail) });
    expect(fleet.snapshot().rootVolumeTasks).toEqual([]);
  });

  it('refuses an AMI EC2 does not have (InvalidAMIID.NotFound)', async () => {
    const { ec2, id } = setup();

    await expect(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: 'ami-0ddddddddddddddd1' }))).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
  });
});

describe('DescribeImages and the instance\'s own image facts', () => {
  it('describes a defined AMI with what CreateReplaceRootVolumeTask compares, and the instance with the same attributes', async () => {
    const { fleet, ec2 } = quietFleet();
    fleet.defineImage('ami-0eeeeeeeeeeeeeee1', { apps: ['erp'], productCodes: ['prod1'], platformDetails: 'Red Hat Enterprise Linux', usageOperation: 'RunInstances:0010' });
    const id = fleet.addInstance({ instanceType: 'm7i.large', imageId: 'ami-0eeeeeeeeeeeeeee1' });

    const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-0eeeeeeeeeeeeeee1'] }));
    const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];

    expect(Images).toEqual([
      expect.objectContaining({
        ImageId: 'ami-0eeeeeeeeeeeeeee1',
        Architecture: 'x86_64',
        VirtualizationType: 'hvm',
        ProductCodes: [{ ProductCodeId: 'prod1', ProductCodeType: 'marketplace' }],
        PlatformDetails: 'Red Hat Enterprise Linux',
        UsageOperation: 'RunInstances:0010',
        RootDeviceType: 'ebs',
        State: 'available',
      }),
    ]);
    expect(instance).toMatchObject({
      ImageId: 'ami-0eeeeeeeeeeeeeee1',
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      ProductCodes: [{ ProductCodeId: 'prod1', ProductCodeType: 'marketplace' }],
      PlatformDetails: 'Red Hat Enterprise Linux',
      UsageOperation: 'RunInstances:0010',
    });
    await expect(ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-0fffffffffffffff1'] }))).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
  });

  it('launches an instance from a plain image of its architecture when none is named', async () => {
    const { fleet, ec2 } = quietFleet();
    const graviton = fleet.addInstance({ instanceType: 'm7g.large' });

    const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [graviton] }))).Reservations?.[0]?.Instances?.[0];
    const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [instance!.ImageId!] }));

    expect(instance).toMatchObject({ Architecture: 'arm64', PlatformDetails: 'Linux/UNIX', UsageOperation: 'RunInstances', ProductCodes: [] });
    expect(Images?.[0]).toMatchObject({ Architecture: 'arm64' });
  });
});
