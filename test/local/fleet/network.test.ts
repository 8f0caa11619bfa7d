// Logical addresses: Elastic IPs and secondary private IPs moving between instances.
import {
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
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
