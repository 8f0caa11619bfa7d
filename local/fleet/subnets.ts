// The simulated VPC: 10.0.0.0/16 with two /20 subnets in each of three Availability Zones, the
// layout of a typical production VPC. A scenario places an instance by subnet or AZ; without
// either it goes to the first subnet (10.0.0.0/20, which holds the 10.0.1.x addresses the
// examples use as secondary private IPs).
//
// Amazon VPC User Guide, "Subnet CIDR blocks": "The first four IP addresses and the last IP
// address in each subnet CIDR block are not available for your use" (network address, VPC
// router, DNS, future use, broadcast). A /20 therefore has 4,096 - 5 = 4,091 usable addresses.

export const SIMULATED_VPC_ID = 'vpc-0sim00000000000001';
export const SIMULATED_VPC_CIDR = '10.0.0.0/16';

/** Addresses AWS keeps at the start of every subnet (network, router, DNS, future use) and at its end (broadcast). */
export const RESERVED_AT_START = 4;
export const RESERVED_AT_END = 1;

export interface SubnetLayout {
  subnetId: string;
  availabilityZone: string;
  cidrBlock: string;
}

const ZONES = ['a', 'b', 'c'] as const;

/** subnet-0000000000000a001 (AZ a, 10.0.0.0/20), …b001 (10.0.16.0/20), …c001, …a002, …b002, …c002 (10.0.80.0/20). */
export function simulatedSubnets(region: string): SubnetLayout[] {
  return [1, 2].flatMap((n, round) =>
    ZONES.map((zone, z) => ({
      subnetId: `subnet-0000000000000${zone}00${n}`,
      availabilityZone: `${region}${zone}`,
      cidrBlock: `10.0.${(round * ZONES.length + z) * 16}.0/20`,
    })),
  );
}

export const DEFAULT_SUBNET_ID = 'subnet-0000000000000a001';
