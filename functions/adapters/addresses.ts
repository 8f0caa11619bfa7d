// C1: the logical network address clients use, kept across failover: an Elastic IP, or a
// secondary private IP on the serving node's primary network interface.
import {
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { LogicalAddress } from '../../core/config.ts';
import { describeInstance } from './fleet.ts';

export function describeAddress(address: LogicalAddress): string {
  return address.kind === 'elastic-ip' ? `Elastic IP ${address.allocationId}` : `secondary private IP ${address.ipAddress}`;
}

/** The instance the address is on now, or null. */
export async function addressHolder(ec2: EC2Client, address: LogicalAddress): Promise<string | null> {
  if (address.kind === 'elastic-ip') {
    const out = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [address.allocationId] }));
    return out.Addresses?.[0]?.InstanceId ?? null;
  }
  const out = await ec2.send(
    new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: [address.ipAddress] }] }),
  );
  return out.NetworkInterfaces?.[0]?.Attachment?.InstanceId ?? null;
}

/**
 * Moves the address onto `instanceId` (taking it from wherever it is: AllowReassociation /
 * AllowReassignment). Already there → nothing is called. Returns whether it moved.
 */
export async function moveAddress(ec2: EC2Client, address: LogicalAddress, instanceId: string): Promise<boolean> {
  if ((await addressHolder(ec2, address)) === instanceId) return false;
  if (address.kind === 'elastic-ip') {
    await ec2.send(new AssociateAddressCommand({ AllocationId: address.allocationId, InstanceId: instanceId, AllowReassociation: true }));
    return true;
  }
  const instance = await describeInstance(ec2, instanceId);
  if (!instance?.primaryEniId) throw new Error(`${instanceId} has no primary network interface to take ${address.ipAddress}`);
  await ec2.send(
    new AssignPrivateIpAddressesCommand({
      NetworkInterfaceId: instance.primaryEniId,
      PrivateIpAddresses: [address.ipAddress],
      AllowReassignment: true,
    }),
  );
  return true;
}
