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
  return address.kind === 'elastic-ip' ? elasticIpHolder(ec2, address.allocationId) : privateIpHolder(ec2, address.ipAddress);
}

async function elasticIpHolder(ec2: EC2Client, allocationId: string): Promise<string | null> {
  const out = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }));
  // `||`: an empty InstanceId (moto's answer for an unassociated address) is no holder either.
  return out.Addresses?.[0]?.InstanceId || null;
}

async function privateIpHolder(ec2: EC2Client, ipAddress: string): Promise<string | null> {
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: [ipAddress] }] }));
  return out.NetworkInterfaces?.[0]?.Attachment?.InstanceId || null;
}

/** The secondary private IPs the config uses as logical addresses: never borrowed for an Elastic IP. */
export function configuredPrivateIps(config: Config): string[] {
  return config.applications.flatMap((app) => (app.cluster.logicalAddress?.kind === 'secondary-private-ip' ? [app.cluster.logicalAddress.ipAddress] : []));
}

/** A node's primary network interface as an earlier read of this incident saw it (the selection's DescribeInstances: Claim.network). */
export interface SeenNetwork {
  primaryEniId: string;
  /** An address was associated with the primary private IP. */
  primaryIpAssociated: boolean;
}

/**
 * Moves the address onto `instanceId` (taking it from wherever it is: AllowReassociation /
 * AllowReassignment). Already there → nothing is called. Returns whether it moved.
 * `reservedIps`: secondary private IPs that belong to other applications (configuredPrivateIps).
 *
 * `seen`: the node's primary interface as this incident read it, for a node the incident holds
 * alone (no other application can associate an address with it meanwhile). When its primary IP
 * held no address, an Elastic IP is associated by instance without asking EC2 where it is now:
 * AllowReassociation takes it from wherever it is, and the call is idempotent (EC2 API
 * Reference, "AssociateAddress": "This is an idempotent operation. If you perform the operation
 * more than once, Amazon EC2 doesn't return an error, and you may be charged for each time the
 * Elastic IP address is remapped to the same instance": a retried shift may cost one remap,
 * never a wrong association). Otherwise (a shared host, B1, or another address on the primary
 * IP) the holder is looked up first, so that a retry finds the secondary IP it used.
 */
export async function moveAddress(
  ec2: EC2Client,
  address: LogicalAddress,
  instanceId: string,
  reservedIps: readonly string[] = [],
  seen?: SeenNetwork,
  options: { sharedHost?: boolean } = {},
): Promise<boolean> {
  if (address.kind === 'secondary-private-ip') return moveSecondaryIp(ec2, address.ipAddress, instanceId, seen?.primaryEniId);
  const byInstance = seen !== undefined && !seen.primaryIpAssociated && !options.sharedHost;
  if (!byInstance && (await elasticIpHolder(ec2, address.allocationId)) === instanceId) return false;
  const target = byInstance
    ? null
    : options.sharedHost
      ? await ownPrivateIp(ec2, instanceId, reservedIps)
      : await privateIpWithoutElasticIp(ec2, instanceId, reservedIps, seen?.primaryEniId);
  await ec2.send(
    new AssociateAddressCommand({
      AllocationId: address.allocationId,
      AllowReassociation: true,
      ...(target ? { NetworkInterfaceId: target.networkInterfaceId, PrivateIpAddress: target.ip } : { InstanceId: instanceId }),
    }),
  );
  return true;
}

/**
 * Moves a secondary private IP onto the primary interface of `instanceId` (AllowReassignment),
 * unless it is there already. `primaryEniId`: that interface, when known (a primary interface
 * never changes: it cannot be detached). Returns whether it moved.
 */
export async function moveSecondaryIp(ec2: EC2Client, ipAddress: string, instanceId: string, primaryEniId?: string): Promise<boolean> {
  if ((await privateIpHolder(ec2, ipAddress)) === instanceId) return false;
  const eni = primaryEniId ?? (await describeInstance(ec2, instanceId))?.primaryEniId;
  if (!eni) throw new Error(`${instanceId} has no primary network interface to take ${ipAddress}`);
  await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: [ipAddress], AllowReassignment: true }));
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
  primaryEniId?: string,
): Promise<{ networkInterfaceId: string; ip: string } | null> {
  const networkInterfaceId = primaryEniId ?? (await describeInstance(ec2, instanceId))?.primaryEniId;
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

/**
 * On a virtual-node host (B1) each tenant's Elastic IP gets a private IP of its own, assigned for
 * it (AssignPrivateIpAddresses with a count: EC2 picks an address no other request gets), never
 * the primary IP or a free secondary one chosen from a read: two tenants shifting onto the host at
 * the same moment read the same free IP, and the second association silently takes the first
 * one's Elastic IP off ("AssociateAddress": the existing address is disassociated). The holder
 * lookup before it makes a retry after the association a no-op; a retry between the assignment
 * and the association leaves one unused secondary IP. When the interface has no room left
 * (PrivateIpAddressLimitExceeded), a free secondary IP is reused as before.
 */
async function ownPrivateIp(ec2: EC2Client, instanceId: string, reservedIps: readonly string[]): Promise<{ networkInterfaceId: string; ip: string } | null> {
  const networkInterfaceId = (await describeInstance(ec2, instanceId))?.primaryEniId;
  if (!networkInterfaceId) return null;
  try {
    const assigned = await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: networkInterfaceId, SecondaryPrivateIpAddressCount: 1 }));
    const ip = assigned.AssignedPrivateIpAddresses?.[0]?.PrivateIpAddress;
    if (ip) return { networkInterfaceId, ip };
  } catch (error) {
    if ((error as { name?: string }).name !== 'PrivateIpAddressLimitExceeded') throw error;
  }
  return privateIpWithoutElasticIp(ec2, instanceId, reservedIps, networkInterfaceId);
}
