// C1: the logical network address clients use, kept across failover: an Elastic IP, or a
// secondary private IP on the serving node's primary network interface.
import {
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { Config, LogicalAddress } from '../../core/config.ts';
import { describeInstance } from './fleet.ts';

export function describeAddress(address: LogicalAddress): string {
  return address.kind === 'elastic-ip' ? `Elastic IP ${address.allocationId}` : `secondary private IP ${address.ipAddress}`;
}

/** The instance the address is on now, or null. */
export async function addressHolder(ec2: EC2Client, address: LogicalAddress): Promise<string | null> {
  if (address.kind === 'elastic-ip') {
    const out = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [address.allocationId] }));
    // `||`: an empty InstanceId (moto's answer for an unassociated address) is no holder either.
    return out.Addresses?.[0]?.InstanceId || null;
  }
  const out = await ec2.send(
    new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: [address.ipAddress] }] }),
  );
  return out.NetworkInterfaces?.[0]?.Attachment?.InstanceId || null;
}

/** The secondary private IPs the config uses as logical addresses: never borrowed for an Elastic IP. */
export function configuredPrivateIps(config: Config): string[] {
  return config.applications.flatMap((app) => (app.cluster.logicalAddress?.kind === 'secondary-private-ip' ? [app.cluster.logicalAddress.ipAddress] : []));
}

/**
 * Moves the address onto `instanceId` (taking it from wherever it is: AllowReassociation /
 * AllowReassignment). Already there → nothing is called. Returns whether it moved.
 * `reservedIps`: secondary private IPs that belong to other applications (configuredPrivateIps).
 */
export async function moveAddress(ec2: EC2Client, address: LogicalAddress, instanceId: string, reservedIps: readonly string[] = []): Promise<boolean> {
  if ((await addressHolder(ec2, address)) === instanceId) return false;
  if (address.kind === 'elastic-ip') {
    const target = await privateIpWithoutElasticIp(ec2, instanceId, reservedIps);
    await ec2.send(
      new AssociateAddressCommand({
        AllocationId: address.allocationId,
        AllowReassociation: true,
        ...(target ? { NetworkInterfaceId: target.networkInterfaceId, PrivateIpAddress: target.ip } : { InstanceId: instanceId }),
      }),
    );
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

/**
 * A private IP holds one Elastic IP: associating another with the same IP silently takes the
 * first one off. On a virtual-node host (B1) several applications keep their own Elastic IP, so
 * when the primary private IP already holds one, the address goes to a secondary private IP that
 * holds none (one is assigned if needed; a retry finds and reuses it). Null: the primary IP is
 * free, associate by instance as usual.
 */
async function privateIpWithoutElasticIp(
  ec2: EC2Client,
  instanceId: string,
  reservedIps: readonly string[],
): Promise<{ networkInterfaceId: string; ip: string } | null> {
  const instance = await describeInstance(ec2, instanceId);
  const networkInterfaceId = instance?.primaryEniId;
  if (!networkInterfaceId) return null;
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] }));
  const ips = out.NetworkInterfaces?.[0]?.PrivateIpAddresses ?? [];
  const primary = ips.find((ip) => ip.Primary);
  if (!primary?.Association) return null;
  const free = ips.find((ip) => !ip.Primary && !ip.Association && ip.PrivateIpAddress && !reservedIps.includes(ip.PrivateIpAddress));
  if (free?.PrivateIpAddress) return { networkInterfaceId, ip: free.PrivateIpAddress };
  const assigned = await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: networkInterfaceId, SecondaryPrivateIpAddressCount: 1 }));
  const ip = assigned.AssignedPrivateIpAddresses?.[0]?.PrivateIpAddress;
  if (!ip) throw new Error(`${instanceId}: no secondary private IP could be assigned for an Elastic IP`);
  return { networkInterfaceId, ip };
}
