// EC2 instance APIs through a real EC2Client with the fleet attached.
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstanceTypesCommand,
  EC2ServiceException,
  type _InstanceType,
  paginateDescribeInstances,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { quietFleet, SECOND } from './clients.ts';

describe('starting and stopping instances', () => {
  it('takes a stopped instance through pending to running as virtual time advances', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { instanceStartMs: 40 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped' });
    const state = async () => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State;

    const started = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));

    expect(started.StartingInstances).toEqual([{ InstanceId: id, PreviousState: { Code: 80, Name: 'stopped' }, CurrentState: { Code: 0, Name: 'pending' } }]);
    expect(started.$metadata.httpStatusCode).toBe(200);
    clock.advance(39 * SECOND);
    expect(await state()).toEqual({ Code: 0, Name: 'pending' });
    clock.advance(1 * SECOND);
    expect(await state()).toEqual({ Code: 16, Name: 'running' });
  });

  it('reports status checks initializing after a start, then ok', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { instanceStartMs: 10 * SECOND, statusChecksInitializingMs: 120 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped' });
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    const status = async () => (await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses?.[0]?.InstanceStatus;

    clock.advance(11 * SECOND);
    expect(await status()).toEqual({ Status: 'initializing', Details: [{ Name: 'reachability', Status: 'initializing' }] });
    clock.advance(120 * SECOND);
    expect(await status()).toEqual({ Status: 'ok', Details: [{ Name: 'reachability', Status: 'passed' }] });
  });

  it('stops applications at once and reaches stopped after the stop latency', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { instanceStopMs: 30 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });

    const stopped = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));

    expect(stopped.StoppingInstances?.[0]?.CurrentState?.Name).toBe('stopping');
    expect(fleet.snapshot().apps).toEqual({});
    clock.advance(30 * SECOND);
    expect(fleet.snapshot().instances[0]?.state).toBe('stopped');
  });

  it('boots installed applications again after a restart', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { instanceStartMs: 40 * SECOND, bootToServicesMs: 15 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped', installedApps: ['web'] });

    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    clock.advance(54 * SECOND);
    expect(fleet.snapshot().apps).toEqual({});
    clock.advance(1 * SECOND);

    expect(fleet.snapshot().apps).toEqual({ web: [id] });
  });

  it('refuses to start an instance that is stopping, as EC2 does', async () => {
    const { fleet, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));

    const starting = ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));

    await expect(starting).rejects.toBeInstanceOf(EC2ServiceException);
    await expect(starting).rejects.toMatchObject({ name: 'IncorrectInstanceState', $fault: 'client', $metadata: { httpStatusCode: 400 } });
  });

  it('goes back to stopped when the instance will not start (fault)', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { instanceStartMs: 40 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped' });
    fleet.faults.instanceWontStart(id);

    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    clock.advance(40 * SECOND);

    const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
    expect(instance?.State?.Name).toBe('stopped');
    expect(instance?.StateReason?.Code).toBe('Server.InternalError');
  });
});

// C9: fencing can fail. StopInstances API reference: "If your instance appears stuck in the
// stopping state, there might be an issue with the underlying host computer. You can use the
// StopInstances operation together with the Force parameter to force stop your instance."
describe('stops and starts that fail (faults)', () => {
  const stateOf = async (ec2: ReturnType<typeof quietFleet>['ec2'], id: string) =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;

  it('an instance stuck in stopping never reaches stopped; another force stop does not help unless the fault says it does', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { instanceStopMs: 30 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });
    fleet.faults.instanceStuckStopping(id);

    const stopping = await ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));
    clock.advance(30 * 60 * SECOND);
    const again = await ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));
    clock.advance(30 * 60 * SECOND);

    expect(stopping.StoppingInstances?.[0]?.CurrentState?.Name).toBe('stopping');
    expect(again.StoppingInstances?.[0]).toMatchObject({ PreviousState: { Name: 'stopping' }, CurrentState: { Name: 'stopping' } });
    expect(await stateOf(ec2, id)).toBe('stopping');
  });

  it('an instance stuck in stopping reaches stopped after a later force stop when the fault lets it (Methods for stopping an instance: force stop)', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { instanceStopMs: 30 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.faults.instanceStuckStopping(id, { forceStopWorks: true });

    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    clock.advance(10 * 60 * SECOND);
    expect(await stateOf(ec2, id)).toBe('stopping');
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    clock.advance(10 * 60 * SECOND);
    expect(await stateOf(ec2, id)).toBe('stopping');
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));
    clock.advance(30 * SECOND);

    expect(await stateOf(ec2, id)).toBe('stopped');
  });

  it.each([
    ['UnauthorizedOperation', 403],
    ['UnsupportedOperation', 400],
    ['IncorrectInstanceState', 400],
  ] as const)('StopInstances can be refused with %s (Error codes for the Amazon EC2 API); nothing changes', async (code, status) => {
    const { fleet, clock, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });
    fleet.faults.stopRefused(id, code);

    const stopping = ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));

    await expect(stopping).rejects.toBeInstanceOf(EC2ServiceException);
    await expect(stopping).rejects.toMatchObject({ name: code, $fault: 'client', $metadata: { httpStatusCode: status } });
    clock.advance(60 * SECOND);
    expect(await stateOf(ec2, id)).toBe('running');
    expect(fleet.snapshot().apps).toEqual({ web: [id] });
  });

  it('StartInstances can be refused with InsufficientInstanceCapacity (a server error); the instance stays stopped', async () => {
    const { fleet, clock, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped' });
    fleet.faults.startRefused(id);

    const starting = ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));

    await expect(starting).rejects.toMatchObject({ name: 'InsufficientInstanceCapacity', $fault: 'server', $metadata: { httpStatusCode: 500 } });
    await expect(starting).rejects.toThrow(/sufficient m7i\.large capacity/);
    clock.advance(60 * SECOND);
    expect(await stateOf(ec2, id)).toBe('stopped');
  });
});

describe('DescribeInstances', () => {
  it('filters by tag, tag key, state and wildcard', async () => {
    const { fleet, ec2 } = quietFleet();
    const a = fleet.addInstance({ instanceType: 'm7i.large', tags: { pool: 'blue', Name: 'web-1' } });
    const b = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped', tags: { pool: 'blue', Name: 'web-2' } });
    fleet.addInstance({ instanceType: 'm7i.large', tags: { pool: 'green' } });
    const ids = async (filters: Array<{ Name: string; Values: string[] }>) =>
      (await ec2.send(new DescribeInstancesCommand({ Filters: filters }))).Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId));

    expect(await ids([{ Name: 'tag:pool', Values: ['blue'] }])).toEqual([a, b]);
    expect(await ids([{ Name: 'tag:pool', Values: ['blue'] }, { Name: 'instance-state-name', Values: ['running'] }])).toEqual([a]);
    expect(await ids([{ Name: 'tag-key', Values: ['Name'] }])).toEqual([a, b]);
    expect(await ids([{ Name: 'tag:Name', Values: ['web-*'] }, { Name: 'instance-state-name', Values: ['stopped'] }])).toEqual([b]);
    expect(await ids([{ Name: 'instance-id', Values: [b] }])).toEqual([b]);
  });

  it('describes an instance as the SDK returns it', async () => {
    const { fleet, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 'm7g.large', tags: { pool: 'blue' }, privateIp: '10.0.1.20', secondaryIps: ['10.0.1.50'] });

    const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];

    expect(instance).toMatchObject({
      InstanceId: id,
      InstanceType: 'm7g.large',
      Architecture: 'arm64',
      PrivateIpAddress: '10.0.1.20',
      RootDeviceType: 'ebs',
      Tags: [{ Key: 'pool', Value: 'blue' }],
      NetworkInterfaces: [{ PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: '10.0.1.20' }, { Primary: false, PrivateIpAddress: '10.0.1.50' }] }],
    });
    expect(instance?.LaunchTime).toBeInstanceOf(Date);
    expect(instance?.BlockDeviceMappings?.[0]?.Ebs?.VolumeId).toMatch(/^vol-[0-9a-f]{17}$/);
  });

  it('pages with MaxResults and NextToken (the SDK paginator works)', async () => {
    const { fleet, ec2 } = quietFleet();
    const all = Array.from({ length: 12 }, () => fleet.addInstance({ instanceType: 't3.medium', tags: { pool: 'p' } }));

    const first = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5 }));
    const seen: string[] = [];
    for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 5 }, {})) {
      seen.push(...(page.Reservations ?? []).flatMap((r) => r.Instances?.map((i) => i.InstanceId ?? '') ?? []));
    }

    expect(first.Reservations).toHaveLength(5);
    expect(first.NextToken).toBeDefined();
    expect(seen).toEqual(all);
  });

  it('answers InvalidInstanceID.NotFound for an unknown id and rejects MaxResults with InstanceIds', async () => {
    const { fleet, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 't3.medium' });

    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      message: "The instance ID 'i-0123456789abcdef0' does not exist",
    });
    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: [id], MaxResults: 5 }))).rejects.toMatchObject({
      name: 'InvalidParameterCombination',
    });
    await expect(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });

  it('shows old tags until the visibility lag has passed (eventual consistency fault)', async () => {
    const { fleet, clock, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 't3.medium', tags: { claim: 'none' } });
    fleet.faults.tagsVisibleAfter(2 * SECOND);
    const claimTag = async () =>
      (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.Tags?.find((t) => t.Key === 'claim')?.Value;

    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'claim', Value: 'web' }] }));

    expect(await claimTag()).toBe('none');
    clock.advance(2 * SECOND);
    expect(await claimTag()).toBe('web');
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'claim' }] }));
    clock.advance(2 * SECOND);
    expect(await claimTag()).toBeUndefined();
  });

  it('rejects reserved tag keys', async () => {
    const { fleet, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 't3.medium' });

    await expect(ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'aws:owner', Value: 'x' }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });
});

describe('DescribeInstanceTypes', () => {
  it('serves the catalogue with real hardware figures', async () => {
    const { ec2 } = quietFleet();

    const { InstanceTypes } = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['m7i.xlarge', 'g5.xlarge', 'inf2.xlarge', 'c7g.xlarge'] }));
    const byName = new Map(InstanceTypes?.map((t) => [t.InstanceType, t]));

    expect(byName.get('m7i.xlarge')).toMatchObject({ VCpuInfo: { DefaultVCpus: 4 }, MemoryInfo: { SizeInMiB: 16_384 }, ProcessorInfo: { SupportedArchitectures: ['x86_64'] } });
    expect(byName.get('g5.xlarge')?.GpuInfo?.Gpus?.[0]).toMatchObject({ Name: 'A10G', Manufacturer: 'NVIDIA', Count: 1 });
    expect(byName.get('g5.xlarge')?.InstanceStorageInfo?.NvmeSupport).toBe('required');
    expect(byName.get('inf2.xlarge')?.NeuronInfo?.NeuronDevices?.[0]?.Name).toBe('Inferentia2');
    expect(byName.get('c7g.xlarge')?.ProcessorInfo?.SupportedArchitectures).toEqual(['arm64']);
    expect(byName.get('m7i.xlarge')?.InstanceStorageInfo).toBeUndefined();
  });

  it('pages the whole catalogue and rejects unknown types', async () => {
    const { ec2 } = quietFleet();

    const page = await ec2.send(new DescribeInstanceTypesCommand({ MaxResults: 5 }));
    const rest = await ec2.send(new DescribeInstanceTypesCommand({ MaxResults: 100, NextToken: page.NextToken }));

    expect(page.InstanceTypes).toHaveLength(5);
    expect((page.InstanceTypes?.length ?? 0) + (rest.InstanceTypes?.length ?? 0)).toBe(15);
    expect(rest.NextToken).toBeUndefined();
    await expect(ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['x9.huge' as _InstanceType] }))).rejects.toMatchObject({ name: 'InvalidInstanceType' });
  });
});
