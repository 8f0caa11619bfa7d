// The simulated fleet's instance-type catalogue: every type EC2 has, in DescribeInstanceTypes'
// shape (vCPUs, memory, architectures, GPUs, Neuron/Inferentia devices, NVMe instance store,
// EFA, ENIs and IPv4 addresses per ENI). The data is generated from moto's copy of AWS's own
// DescribeInstanceTypes output (Apache-2.0) by scripts/generate-instance-types.ts; see the
// header of instance-types.generated.json for the version it came from.
import { readFileSync } from 'node:fs';
import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';

interface Catalogue {
  about: { source: string; license: string; count: number };
  instanceTypes: InstanceTypeInfo[];
}

const catalogue = JSON.parse(readFileSync(new URL('./instance-types.generated.json', import.meta.url), 'utf8')) as Catalogue;
const BY_NAME = new Map(catalogue.instanceTypes.map((info) => [info.InstanceType as string, info]));

/** Where the catalogue came from (moto version, licence). */
export const INSTANCE_TYPES_SOURCE = catalogue.about;

export const INSTANCE_TYPE_NAMES: readonly string[] = [...BY_NAME.keys()];

export function isKnownInstanceType(name: string): boolean {
  return BY_NAME.has(name);
}

/** Addresses an ENI of this type may hold (primary included), for AssignPrivateIpAddresses. */
export function ipv4AddressesPerInterface(name: string): number {
  return BY_NAME.get(name)?.NetworkInfo?.Ipv4AddressesPerInterface ?? 15;
}

/** The architecture an instance of this type runs (the first EC2 lists for it). */
export function defaultArchitecture(name: string): string {
  return BY_NAME.get(name)?.ProcessorInfo?.SupportedArchitectures?.[0] ?? 'x86_64';
}

/** The catalogue's own object (shared: read it, do not change it; the fleet clones what it answers). */
export function instanceTypeInfo(name: string): InstanceTypeInfo | undefined {
  return BY_NAME.get(name);
}

/**
 * Why `name` is not a type EC2 has, with the sizes of its family when the family exists
 * (e.g. 'm7i.huge' → the m7i sizes), so a typo names its fix.
 */
export function unknownInstanceTypeHint(name: string): string {
  const family = name.split('.')[0] ?? name;
  const sizes = INSTANCE_TYPE_NAMES.filter((n) => n.startsWith(`${family}.`));
  if (sizes.length > 0) return `unknown instance type '${name}'; the ${family} family has: ${sizes.join(', ')}`;
  return `unknown instance type '${name}'; EC2 has ${INSTANCE_TYPE_NAMES.length} types (e.g. m7i.xlarge, c7g.large, g5.xlarge), listed in local/fleet/instance-types.generated.json`;
}
