// EC2 addressing APIs: Elastic IPs and secondary private IPs on network interfaces, the two
// kinds of logical address a group keeps across failover.
import type {
  Address,
  AssignPrivateIpAddressesCommandInput,
  AssignPrivateIpAddressesCommandOutput,
  AssociateAddressCommandInput,
  AssociateAddressCommandOutput,
  DescribeAddressesCommandInput,
  DescribeAddressesCommandOutput,
  DescribeNetworkInterfacesCommandInput,
  DescribeNetworkInterfacesCommandOutput,
  DescribeSubnetsCommandInput,
  DescribeSubnetsCommandOutput,
  DisassociateAddressCommandInput,
  NetworkInterface,
  UnassignPrivateIpAddressesCommandInput,
} from '@aws-sdk/client-ec2';
import { requireInstances } from './ec2.ts';
import { errorsFor } from './errors.ts';
import { ipv4AddressesPerInterface } from './instance-types.ts';
import type { SimAddress, SimNetworkInterface, SimSubnet, World } from './model.ts';
import { RESERVED_AT_END, RESERVED_AT_START } from './subnets.ts';
import { matchesFilters, paginate } from './query.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('ec2');
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export interface ElasticIpSpec {
  allocationId?: string;
  publicIp?: string;
  /** Associate at once with this instance's primary private IP. */
  instanceId?: string;
}

/** Secondary private IP moves: when each address last moved, and when it answers on its new ENI. */
export interface IpMove {
  ip: string;
  networkInterfaceId: string;
  effectiveAt: number;
}

export function createElasticIp(world: World, spec: ElasticIpSpec = {}): SimAddress {
  const allocationId = spec.allocationId ?? world.newId('eipalloc');
  if (!/^eipalloc-[0-9a-f]{8,17}$/.test(allocationId)) throw new Error(`allocation id '${allocationId}' is not like 'eipalloc-0123456789abcdef0'`);
  if (world.addresses.has(allocationId)) throw new Error(`Elastic IP ${allocationId} already exists`);
  // 198.51.100.0/24 is TEST-NET-2 (RFC 5737): documentation addresses, never routed.
  const address: SimAddress = { allocationId, publicIp: spec.publicIp ?? `198.51.100.${world.addresses.size + 10}` };
  world.addresses.set(allocationId, address);
  if (spec.instanceId) {
    const instance = world.instances.get(spec.instanceId);
    if (!instance) throw new Error(`no instance ${spec.instanceId} to associate ${allocationId} with`);
    const eni = world.enis.get(instance.networkInterfaceId)!;
    address.association = {
      associationId: world.newId('eipassoc'),
      instanceId: instance.instanceId,
      networkInterfaceId: eni.networkInterfaceId,
      privateIp: eni.primaryIp,
      effectiveAt: world.now(),
    };
  }
  return address;
}

export function ec2NetworkHandlers(world: World, ipMoves: Map<string, IpMove>): Handlers {
  const requireEni = (id: string | undefined): SimNetworkInterface => {
    const eni = id ? world.enis.get(id) : undefined;
    if (!eni) throw error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    return eni;
  };

  return {
    AssociateAddress: (input: AssociateAddressCommandInput): Output<AssociateAddressCommandOutput> => {
      if (!input.AllocationId) throw error('MissingParameter', 'Either AllocationId or PublicIp must be specified (only AllocationId is simulated)');
      const address = world.addresses.get(input.AllocationId);
      if (!address) throw error('InvalidAllocationID.NotFound', `The allocation ID '${input.AllocationId}' does not exist`);
      if (input.InstanceId && input.NetworkInterfaceId) {
        throw error('InvalidParameterCombination', 'You may specify an instance or a network interface, not both');
      }
      let eni: SimNetworkInterface;
      if (input.InstanceId) {
        const [instance] = requireInstances(world, [input.InstanceId]);
        if (!['running', 'stopped'].includes(instance!.state)) {
          throw error('IncorrectInstanceState', `The instance '${instance!.instanceId}' is not in a valid state for this operation.`);
        }
        eni = world.enis.get(instance!.networkInterfaceId)!;
      } else if (input.NetworkInterfaceId) {
        eni = requireEni(input.NetworkInterfaceId);
      } else {
        throw error('MissingParameter', 'Either an instance or a network interface must be specified');
      }
      const privateIp = input.PrivateIpAddress ?? eni.primaryIp;
      if (privateIp !== eni.primaryIp && !eni.secondaryIps.includes(privateIp)) {
        throw error('InvalidParameterValue', `The private IP address ${privateIp} is not assigned to network interface ${eni.networkInterfaceId}`);
      }
      const current = address.association;
      if (current && current.networkInterfaceId === eni.networkInterfaceId && current.privateIp === privateIp) {
        return { AssociationId: current.associationId };
      }
      if (current && input.AllowReassociation === false) {
        throw error('Resource.AlreadyAssociated', `resource ${address.allocationId} is already associated with associate-id ${current.associationId}`);
      }
      world.sync();
      // The private address can hold one Elastic IP: another one there is replaced.
      for (const other of world.addresses.values()) {
        if (other !== address && other.association?.networkInterfaceId === eni.networkInterfaceId && other.association.privateIp === privateIp) {
          delete other.association;
        }
      }
      const associationId = world.newId('eipassoc');
      address.association = {
        associationId,
        instanceId: eni.instanceId,
        networkInterfaceId: eni.networkInterfaceId,
        privateIp,
        effectiveAt: world.now() + world.latency.ec2.elasticIpRemapMs,
      };
      return { AssociationId: associationId };
    },

    DisassociateAddress: (input: DisassociateAddressCommandInput) => {
      const address = [...world.addresses.values()].find((a) => a.association && a.association.associationId === input.AssociationId);
      if (!address) throw error('InvalidAssociationID.NotFound', `The association ID '${input.AssociationId}' does not exist`);
      world.sync();
      delete address.association;
      return {};
    },

    DescribeAddresses: (input: DescribeAddressesCommandInput): Output<DescribeAddressesCommandOutput> => {
      const missing = (input.AllocationIds ?? []).find((id) => !world.addresses.has(id));
      if (missing) throw error('InvalidAllocationID.NotFound', `The allocation ID '${missing}' does not exist`);
      const addresses = [...world.addresses.values()]
        .filter((a) => !input.AllocationIds?.length || input.AllocationIds.includes(a.allocationId))
        .filter((a) => !input.PublicIps?.length || input.PublicIps.includes(a.publicIp))
        .filter((a) =>
          matchesFilters(
            input.Filters,
            (name) =>
              ({
                'allocation-id': [a.allocationId],
                'public-ip': [a.publicIp],
                domain: ['vpc'],
                'association-id': a.association ? [a.association.associationId] : [],
                'instance-id': a.association ? [a.association.instanceId] : [],
                'network-interface-id': a.association ? [a.association.networkInterfaceId] : [],
                'private-ip-address': a.association ? [a.association.privateIp] : [],
              })[name],
            error,
          ),
        );
      return { Addresses: addresses.map((a) => describeAddress(world, a)) };
    },

    AssignPrivateIpAddresses: (input: AssignPrivateIpAddressesCommandInput): Output<AssignPrivateIpAddressesCommandOutput> => {
      const eni = requireEni(input.NetworkInterfaceId);
      const wanted = input.PrivateIpAddresses ?? [];
      if (wanted.length > 0 && input.SecondaryPrivateIpAddressCount !== undefined) {
        throw error('InvalidParameterCombination', 'Specify either PrivateIpAddresses or SecondaryPrivateIpAddressCount, not both');
      }
      if (wanted.length === 0 && !input.SecondaryPrivateIpAddressCount) {
        throw error('MissingParameter', 'Either PrivateIpAddresses or SecondaryPrivateIpAddressCount must be specified');
      }
      const subnet = world.subnets.get(eni.subnetId)!;
      const moves: Array<{ ip: string; from?: SimNetworkInterface }> = [];
      for (const ip of wanted) {
        const octets = IPV4.exec(ip);
        if (!octets || octets.slice(1).some((o) => Number(o) > 255)) throw error('InvalidParameterValue', `Invalid IPv4 address: ${ip}`);
        // AssignPrivateIpAddresses: addresses come "from the subnet's CIDR block range": a
        // secondary private IP can move only between network interfaces of one subnet.
        if (world.subnetHolding(ip) !== subnet) {
          throw error('InvalidParameterValue', `Address ${ip} does not fall within the subnet's address range (${subnet.subnetId}, ${subnet.cidrBlock})`);
        }
        // ASSUMPTION: EC2 refuses the five addresses it reserves (Amazon VPC User Guide, "Subnet CIDR blocks") with this error.
        if (world.isReservedByAws(subnet, ip)) throw error('InvalidParameterValue', `Address ${ip} is reserved by AWS in subnet ${subnet.subnetId}`);
        const holder = world.eniHolding(ip);
        if (holder === eni) continue;
        if (holder && holder.primaryIp === ip) throw error('InvalidParameterValue', `Address ${ip} is the primary address of ${holder.networkInterfaceId}`);
        if (holder && input.AllowReassignment !== true) {
          throw error('PrivateIpAddressInUse', `Some of the specified addresses are already in use: ${ip}`);
        }
        moves.push({ ip, ...(holder ? { from: holder } : {}) });
      }
      const count = wanted.length > 0 ? moves.length : input.SecondaryPrivateIpAddressCount!;
      const instance = world.instances.get(eni.instanceId)!;
      const limit = ipv4AddressesPerInterface(instance.instanceType);
      if (1 + eni.secondaryIps.length + count > limit) {
        throw error('PrivateIpAddressLimitExceeded', `Number of private addresses will exceed limit (${limit} for ${instance.instanceType}).`);
      }
      world.sync();
      const assigned: string[] = [];
      const effectiveAt = world.now() + world.latency.ec2.secondaryIpMoveMs;
      if (wanted.length === 0) {
        for (let i = 0; i < count; i++) assigned.push(world.allocatePrivateIp(subnet));
      }
      for (const { ip, from } of moves) {
        if (from) {
          world.unbindIp(from, ip);
          // An Elastic IP on a reassigned secondary address moves with it.
          for (const address of world.addresses.values()) {
            const a = address.association;
            if (a && a.networkInterfaceId === from.networkInterfaceId && a.privateIp === ip) {
              a.networkInterfaceId = eni.networkInterfaceId;
              a.instanceId = eni.instanceId;
              a.effectiveAt = effectiveAt;
            }
          }
        }
        assigned.push(ip);
      }
      for (const ip of assigned) {
        world.bindIp(eni, ip);
        ipMoves.set(ip, { ip, networkInterfaceId: eni.networkInterfaceId, effectiveAt });
      }
      return { NetworkInterfaceId: eni.networkInterfaceId, AssignedPrivateIpAddresses: assigned.map((PrivateIpAddress) => ({ PrivateIpAddress })) };
    },

    UnassignPrivateIpAddresses: (input: UnassignPrivateIpAddressesCommandInput) => {
      const eni = requireEni(input.NetworkInterfaceId);
      const ips = input.PrivateIpAddresses ?? [];
      const foreign = ips.filter((ip) => !eni.secondaryIps.includes(ip));
      if (foreign.length > 0) {
        throw error('InvalidParameterValue', `Some of the specified addresses are not assigned to interface ${eni.networkInterfaceId}: ${foreign.join(', ')}`);
      }
      world.sync();
      for (const ip of ips) world.unbindIp(eni, ip);
      for (const address of world.addresses.values()) {
        const a = address.association;
        if (a && a.networkInterfaceId === eni.networkInterfaceId && ips.includes(a.privateIp)) delete address.association;
      }
      for (const ip of ips) ipMoves.delete(ip);
      return {};
    },

    DescribeSubnets: (input: DescribeSubnetsCommandInput): Output<DescribeSubnetsCommandOutput> => {
      if (input.SubnetIds?.length && input.MaxResults !== undefined) {
        throw error('InvalidParameterCombination', 'The parameter SubnetIds cannot be used with the parameter MaxResults');
      }
      const missing = (input.SubnetIds ?? []).find((id) => !world.subnets.has(id));
      if (missing) throw error('InvalidSubnetID.NotFound', `The subnet ID '${missing}' does not exist`);
      const subnets = input.SubnetIds?.length ? [...new Set(input.SubnetIds)].map((id) => world.subnets.get(id)!) : [...world.subnets.values()];
      const matching = subnets.filter((subnet) =>
        matchesFilters(
          input.Filters,
          (name) =>
            ({
              'subnet-id': [subnet.subnetId],
              'vpc-id': [subnet.vpcId],
              'availability-zone': [subnet.availabilityZone],
              'cidr-block': [subnet.cidrBlock],
              state: ['available'],
            })[name],
          error,
        ),
      );
      const { page, nextToken } = paginate(matching, input.MaxResults, input.NextToken, { min: 5, max: 1000, default: 1000 }, error);
      return { Subnets: page.map((subnet) => describeSubnet(world, subnet)), ...(nextToken ? { NextToken: nextToken } : {}) };
    },

    DescribeNetworkInterfaces: (input: DescribeNetworkInterfacesCommandInput): Output<DescribeNetworkInterfacesCommandOutput> => {
      if (input.NetworkInterfaceIds?.length && input.MaxResults !== undefined) {
        throw error('InvalidParameterCombination', 'The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults');
      }
      const enis = input.NetworkInterfaceIds?.length ? input.NetworkInterfaceIds.map((id) => requireEni(id)) : [...world.enis.values()];
      const matching = enis.filter((eni) =>
        matchesFilters(
          input.Filters,
          (name) =>
            ({
              'network-interface-id': [eni.networkInterfaceId],
              'attachment.instance-id': [eni.instanceId],
              'private-ip-address': [eni.primaryIp],
              'addresses.private-ip-address': [eni.primaryIp, ...eni.secondaryIps],
              'subnet-id': [eni.subnetId],
              'vpc-id': [world.subnets.get(eni.subnetId)!.vpcId],
              status: ['in-use'],
            })[name],
          error,
        ),
      );
      const { page, nextToken } = paginate(matching, input.MaxResults, input.NextToken, { min: 5, max: 1000, default: 1000 }, error);
      return { NetworkInterfaces: page.map((eni) => describeEni(world, eni)), ...(nextToken ? { NextToken: nextToken } : {}) };
    },
  };
}

function describeSubnet(world: World, subnet: SimSubnet): NonNullable<DescribeSubnetsCommandOutput['Subnets']>[number] {
  let held = 0;
  for (const eni of world.enis.values()) if (eni.subnetId === subnet.subnetId) held += 1 + eni.secondaryIps.length;
  return {
    SubnetId: subnet.subnetId,
    SubnetArn: world.arn('ec2', `subnet/${subnet.subnetId}`),
    VpcId: subnet.vpcId,
    OwnerId: world.accountId,
    AvailabilityZone: subnet.availabilityZone,
    CidrBlock: subnet.cidrBlock,
    AvailableIpAddressCount: subnet.size - RESERVED_AT_START - RESERVED_AT_END - held,
    State: 'available',
    DefaultForAz: false,
    MapPublicIpOnLaunch: false,
  };
}

function describeAddress(world: World, address: SimAddress): Address {
  const a = address.association;
  return {
    AllocationId: address.allocationId,
    PublicIp: address.publicIp,
    Domain: 'vpc',
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: world.region,
    ...(a
      ? {
          AssociationId: a.associationId,
          InstanceId: a.instanceId,
          NetworkInterfaceId: a.networkInterfaceId,
          NetworkInterfaceOwnerId: world.accountId,
          PrivateIpAddress: a.privateIp,
        }
      : {}),
  };
}

function describeEni(world: World, eni: SimNetworkInterface): NetworkInterface {
  const subnet = world.subnets.get(eni.subnetId)!;
  const instance = world.instances.get(eni.instanceId)!;
  const associationFor = (ip: string) => {
    for (const address of world.addresses.values()) {
      const a = address.association;
      if (a && a.networkInterfaceId === eni.networkInterfaceId && a.privateIp === ip) {
        return { PublicIp: address.publicIp, AllocationId: address.allocationId, AssociationId: a.associationId, IpOwnerId: world.accountId };
      }
    }
    return undefined;
  };
  const primary = associationFor(eni.primaryIp);
  return {
    NetworkInterfaceId: eni.networkInterfaceId,
    SubnetId: eni.subnetId,
    VpcId: subnet.vpcId,
    AvailabilityZone: subnet.availabilityZone,
    OwnerId: world.accountId,
    Status: 'in-use',
    InterfaceType: 'interface',
    MacAddress: eni.macAddress,
    SourceDestCheck: true,
    RequesterManaged: false,
    Groups: instance.securityGroups.map((GroupId) => ({ GroupId, GroupName: GroupId })),
    PrivateIpAddress: eni.primaryIp,
    ...(primary ? { Association: primary } : {}),
    Attachment: {
      AttachmentId: `eni-attach-${eni.networkInterfaceId.slice(4)}`,
      InstanceId: eni.instanceId,
      InstanceOwnerId: world.accountId,
      DeviceIndex: 0,
      NetworkCardIndex: 0,
      Status: 'attached',
      DeleteOnTermination: true,
    },
    PrivateIpAddresses: [eni.primaryIp, ...eni.secondaryIps].map((ip, i) => {
      const association = associationFor(ip);
      return { Primary: i === 0, PrivateIpAddress: ip, ...(association ? { Association: association } : {}) };
    }),
  };
}
