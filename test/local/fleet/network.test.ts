// Logical addresses: Elastic IPs and secondary private IPs moving between instances.
import {
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DisassociateAddressCommand,
  UnassignPrivateIpAddressesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { quietFleet, SECOND } from './clients.ts';

describe('Elastic IPs', () => {
  it('moves an Elastic IP from the old host to the new one', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { elasticIpRemapMs: 2 * SECOND } } });
    const old = fleet.addInstance({ instanceType: 'm7i.large' });
    const next = fleet.addInstance({ instanceType: 'm7i.large' });
    const { allocationId, publicIp } = fleet.addElasticIp({ instanceId: old });

    const { AssociationId } = await ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: next, AllowReassociation: true }));

    const { Addresses } = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }));
    expect(Addresses?.[0]).toMatchObject({ AllocationId: allocationId, PublicIp: publicIp, InstanceId: next, AssociationId });
    expect(fleet.snapshot().elasticIps[0]).toMatchObject({ instanceId: next, routed: false });
    clock.advance(2 * SECOND);
    expect(fleet.snapshot().elasticIps[0]?.routed).toBe(true);
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [old, next] }));
    expect(described.Reservations?.map((r) => r.Instances?.[0]?.PublicIpAddress)).toEqual([undefined, publicIp]);
  });

  it('refuses to take an associated address when AllowReassociation is false', async () => {
    const { fleet, ec2 } = quietFleet();
    const old = fleet.addInstance({ instanceType: 'm7i.large' });
    const next = fleet.addInstance({ instanceType: 'm7i.large' });
    const { allocationId } = fleet.addElasticIp({ instanceId: old });

    await expect(ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: next, AllowReassociation: false }))).rejects.toMatchObject({
      name: 'Resource.AlreadyAssociated',
    });
    expect(fleet.snapshot().elasticIps[0]?.instanceId).toBe(old);
  });

  it('disassociates by association id and rejects an unknown one', async () => {
    const { fleet, ec2 } = quietFleet();
    const host = fleet.addInstance({ instanceType: 'm7i.large' });
    const { allocationId } = fleet.addElasticIp();
    const { AssociationId } = await ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: host }));

    await ec2.send(new DisassociateAddressCommand({ AssociationId }));

    expect(fleet.snapshot().elasticIps[0]?.instanceId).toBeUndefined();
    await expect(ec2.send(new DisassociateAddressCommand({ AssociationId }))).rejects.toMatchObject({ name: 'InvalidAssociationID.NotFound' });
  });
});

describe('secondary private IPs', () => {
  it('moves a secondary IP to another interface only with AllowReassignment', async () => {
    const { fleet, clock, ec2 } = quietFleet({ latency: { ec2: { secondaryIpMoveMs: 2 * SECOND } } });
    const old = fleet.addInstance({ instanceType: 'm7i.large', secondaryIps: ['10.0.1.50'] });
    const next = fleet.addInstance({ instanceType: 'm7i.large' });
    const nextEni = fleet.snapshot().instances[1]!.networkInterfaceId;

    const refused = ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: nextEni, PrivateIpAddresses: ['10.0.1.50'] }));
    await expect(refused).rejects.toMatchObject({ name: 'PrivateIpAddressInUse' });
    const moved = await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: nextEni, PrivateIpAddresses: ['10.0.1.50'], AllowReassignment: true }));

    expect(moved.AssignedPrivateIpAddresses).toEqual([{ PrivateIpAddress: '10.0.1.50' }]);
    expect(fleet.snapshot().secondaryIps['10.0.1.50']).toEqual({ instanceId: next, networkInterfaceId: nextEni, routed: false });
    clock.advance(2 * SECOND);
    expect(fleet.snapshot().secondaryIps['10.0.1.50']?.routed).toBe(true);
    const { NetworkInterfaces } = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: ['10.0.1.50'] }] }));
    expect(NetworkInterfaces?.map((n) => n.Attachment?.InstanceId)).toEqual([next]);
    expect(fleet.snapshot().instances.find((i) => i.instanceId === old)?.secondaryIps).toEqual([]);
  });

  it('carries an Elastic IP on a secondary address along with it', async () => {
    const { fleet, ec2 } = quietFleet();
    fleet.addInstance({ instanceType: 'm7i.large', secondaryIps: ['10.0.1.60'] });
    const next = fleet.addInstance({ instanceType: 'm7i.large' });
    const [oldEni, nextEni] = fleet.snapshot().instances.map((i) => i.networkInterfaceId);
    const { allocationId } = fleet.addElasticIp();
    await ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, NetworkInterfaceId: oldEni, PrivateIpAddress: '10.0.1.60' }));

    await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: nextEni, PrivateIpAddresses: ['10.0.1.60'], AllowReassignment: true }));

    expect(fleet.snapshot().elasticIps[0]).toMatchObject({ instanceId: next, privateIp: '10.0.1.60' });
  });

  it('unassigns only addresses the interface holds, and keeps to the instance type limit', async () => {
    const { fleet, ec2 } = quietFleet();
    fleet.addInstance({ instanceType: 't3.medium', secondaryIps: ['10.0.1.70'] });
    const eni = fleet.snapshot().instances[0]!.networkInterfaceId;

    await expect(ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: ['10.0.1.99'] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
    // t3.medium: 6 IPv4 addresses per interface; it has 2.
    await expect(ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, SecondaryPrivateIpAddressCount: 5 }))).rejects.toMatchObject({
      name: 'PrivateIpAddressLimitExceeded',
    });
    await ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: ['10.0.1.70'] }));
    expect(fleet.snapshot().instances[0]?.secondaryIps).toEqual([]);
  });
});

describe('subnets (C1, A6): a VPC laid out as in production', () => {
  it('has two /20 subnets in each of three Availability Zones, less the five addresses AWS reserves in each', async () => {
    const { fleet, ec2 } = quietFleet();
    fleet.addInstance({ instanceType: 'm7i.large', subnetId: 'subnet-0000000000000b002' });

    const { Subnets } = await ec2.send(new DescribeSubnetsCommand({}));

    expect(Subnets?.map((s) => [s.SubnetId, s.AvailabilityZone, s.CidrBlock])).toEqual([
      ['subnet-0000000000000a001', 'us-east-1a', '10.0.0.0/20'],
      ['subnet-0000000000000b001', 'us-east-1b', '10.0.16.0/20'],
      ['subnet-0000000000000c001', 'us-east-1c', '10.0.32.0/20'],
      ['subnet-0000000000000a002', 'us-east-1a', '10.0.48.0/20'],
      ['subnet-0000000000000b002', 'us-east-1b', '10.0.64.0/20'],
      ['subnet-0000000000000c002', 'us-east-1c', '10.0.80.0/20'],
    ]);
    // Amazon VPC User Guide, "Subnet CIDR blocks": the first four and the last address are reserved.
    expect(Subnets?.find((s) => s.SubnetId === 'subnet-0000000000000a001')?.AvailableIpAddressCount).toBe(4_091);
    expect(Subnets?.find((s) => s.SubnetId === 'subnet-0000000000000b002')?.AvailableIpAddressCount).toBe(4_090);
    await expect(ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0fffffffffffffff0'] }))).rejects.toMatchObject({ name: 'InvalidSubnetID.NotFound' });
  });

  it('places an instance by subnet or by Availability Zone and gives it an address of that subnet', async () => {
    const { fleet, ec2 } = quietFleet();
    const inB = fleet.addInstance({ instanceType: 'm7i.large', availabilityZone: 'us-east-1b' });
    const inC2 = fleet.addInstance({ instanceType: 'm7i.large', subnetId: 'subnet-0000000000000c002' });

    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [inB, inC2] }));

    expect(out.Reservations?.map((r) => r.Instances?.[0]).map((i) => [i?.SubnetId, i?.Placement?.AvailabilityZone, i?.PrivateIpAddress])).toEqual([
      ['subnet-0000000000000b001', 'us-east-1b', '10.0.16.4'],
      ['subnet-0000000000000c002', 'us-east-1c', '10.0.80.4'],
    ]);
  });

  it('holds 4,091 instances in a /20 (far more than 254) and refuses the next as EC2 does', () => {
    const { fleet } = quietFleet();
    for (let i = 0; i < 4_091; i++) fleet.addInstance({ instanceType: 't3.micro', subnetId: 'subnet-0000000000000c002' });

    const last = fleet.snapshot().instances.at(-1)!;
    expect(last.privateIp).toBe('10.0.95.254');
    expect(() => fleet.addInstance({ instanceType: 't3.micro', subnetId: 'subnet-0000000000000c002' })).toThrow(/not enough free addresses in subnet 'subnet-0000000000000c002'/);
  });

  it('moves a secondary private IP only within its subnet (AssignPrivateIpAddresses)', async () => {
    const { fleet, ec2 } = quietFleet();
    fleet.addInstance({ instanceType: 'm7i.large', secondaryIps: ['10.0.1.50'] });
    const sameSubnet = fleet.addInstance({ instanceType: 'm7i.large' });
    const otherSubnet = fleet.addInstance({ instanceType: 'm7i.large', subnetId: 'subnet-0000000000000a002' });
    const eniOf = (id: string) => fleet.snapshot().instances.find((i) => i.instanceId === id)!.networkInterfaceId;

    const refused = ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniOf(otherSubnet), PrivateIpAddresses: ['10.0.1.50'], AllowReassignment: true }));
    const moved = await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniOf(sameSubnet), PrivateIpAddresses: ['10.0.1.50'], AllowReassignment: true }));

    await expect(refused).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringContaining("does not fall within the subnet's address range") });
    expect(moved.AssignedPrivateIpAddresses).toEqual([{ PrivateIpAddress: '10.0.1.50' }]);
    expect(fleet.snapshot().secondaryIps['10.0.1.50']?.instanceId).toBe(sameSubnet);
  });
});
