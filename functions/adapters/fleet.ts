// Pool nodes as EC2 sees them: instances carrying a pool tag (DescribeInstances, paginated),
// their hardware (DescribeInstanceTypes, cached per client) and their status checks.
import {
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  type DescribeInstanceStatusCommandInput,
  DescribeInstanceTypesCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  type Filter,
  type Instance,
  type InstanceTypeInfo,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import type { Pool } from '../../core/config.ts';
import { cidrContains } from '../../core/ipv4.ts';
import type { AddressSubnet, Architecture, BootImage, Feature, ImageFacts, InstanceTypeFacts, NodeState } from '../../core/pool.ts';

export interface InstanceInfo {
  instanceId: string;
  state: NodeState;
  instanceType: string;
  /** Placement.AvailabilityZone (A6: the load balancers must enable it). */
  availabilityZone: string | null;
  subnetId: string | null;
  /** What an AMI must share with it to replace its root volume; null when DescribeInstances did not say. */
  imageFacts: ImageFacts | null;
  tags: Record<string, string>;
  /** ENI at device index 0 (where a secondary private IP goes, C1). */
  primaryEniId: string | null;
  /**
   * An address (an Elastic IP) is associated with the primary private IP: DescribeInstances
   * reports each private IP's Association, so the address move needs no DescribeNetworkInterfaces
   * to learn it (functions/adapters/addresses.ts).
   */
  primaryIpAssociated: boolean;
  privateIps: string[];
  securityGroupIds: string[];
}

export interface PoolMember {
  instance: InstanceInfo;
  pool: Pool;
}

const NODE_STATES: readonly NodeState[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'];

function toInfo(instance: Instance): InstanceInfo | null {
  if (!instance.InstanceId) return null;
  const stateName = instance.State?.Name as NodeState | undefined;
  const primary = (instance.NetworkInterfaces ?? []).find((eni) => eni.Attachment?.DeviceIndex === 0) ?? null;
  return {
    instanceId: instance.InstanceId,
    state: stateName && NODE_STATES.includes(stateName) ? stateName : 'pending',
    instanceType: instance.InstanceType ?? 'unknown',
    availabilityZone: instance.Placement?.AvailabilityZone ?? null,
    subnetId: instance.SubnetId ?? null,
    imageFacts: imageFactsOf(instance),
    tags: Object.fromEntries((instance.Tags ?? []).flatMap((t) => (t.Key ? [[t.Key, t.Value ?? '']] : []))),
    primaryEniId: primary?.NetworkInterfaceId ?? null,
    primaryIpAssociated: (primary?.PrivateIpAddresses ?? []).some((ip) => ip.Primary && ip.Association !== undefined),
    privateIps: (primary?.PrivateIpAddresses ?? []).flatMap((ip) => (ip.PrivateIpAddress ? [ip.PrivateIpAddress] : [])),
    securityGroupIds: (instance.SecurityGroups ?? []).flatMap((group) => (group.GroupId ? [group.GroupId] : [])),
  };
}

/** The same four attributes from an Instance (DescribeInstances) or an Image (DescribeImages). */
function imageFactsOf(from: Pick<Instance, 'Architecture' | 'VirtualizationType' | 'ProductCodes' | 'PlatformDetails' | 'UsageOperation'>): ImageFacts | null {
  if (!from.Architecture || !from.VirtualizationType || !from.PlatformDetails || !from.UsageOperation) return null;
  return {
    architecture: from.Architecture,
    virtualizationType: from.VirtualizationType,
    productCodes: (from.ProductCodes ?? []).flatMap((code) => (code.ProductCodeId ? [code.ProductCodeId] : [])).sort(),
    platformDetails: from.PlatformDetails,
    usageOperation: from.UsageOperation,
  };
}

async function describe(ec2: EC2Client, input: { Filters?: Filter[]; InstanceIds?: string[] }): Promise<InstanceInfo[]> {
  const found: InstanceInfo[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(new DescribeInstancesCommand({ ...input, NextToken: token, ...(input.InstanceIds ? {} : { MaxResults: 1000 }) }));
    for (const reservation of out.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        const info = toInfo(instance);
        if (info) found.push(info);
      }
    }
    token = out.NextToken;
  } while (token);
  return found;
}

/** One instance, or null when EC2 no longer knows it. */
export async function describeInstance(ec2: EC2Client, instanceId: string): Promise<InstanceInfo | null> {
  try {
    const found = await describe(ec2, { InstanceIds: [instanceId] });
    return found.find((info) => info.instanceId === instanceId) ?? null;
  } catch (error) {
    if ((error as { name?: string }).name === 'InvalidInstanceID.NotFound') return null;
    throw error;
  }
}

/** Every instance carrying one of the pools' tags (terminated ones left out), with its pool. */
export async function listPoolMembers(ec2: EC2Client, pools: readonly Pool[]): Promise<PoolMember[]> {
  const byKey = new Map<string, string[]>();
  for (const pool of pools) byKey.set(pool.tag.key, [...new Set([...(byKey.get(pool.tag.key) ?? []), pool.tag.value])]);
  const members = new Map<string, PoolMember>();
  for (const [key, values] of byKey) {
    const instances = await describe(ec2, {
      Filters: [
        { Name: `tag:${key}`, Values: values },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
    for (const instance of instances) {
      const pool = pools.find((p) => p.tag.key === key && instance.tags[key] === p.tag.value);
      if (pool && !members.has(instance.instanceId)) members.set(instance.instanceId, { instance, pool });
    }
  }
  return [...members.values()];
}

const typeCaches = new WeakMap<EC2Client, Map<string, InstanceTypeFacts>>();

/** Hardware facts of instance types; each type is asked of EC2 once per client (they never change). */
export async function instanceTypeFacts(ec2: EC2Client, types: readonly string[]): Promise<Map<string, InstanceTypeFacts>> {
  let cache = typeCaches.get(ec2);
  if (!cache) {
    cache = new Map();
    typeCaches.set(ec2, cache);
  }
  const missing = [...new Set(types)].filter((t) => !cache.has(t) && t !== 'unknown');
  for (let i = 0; i < missing.length; i += 100) {
    let token: string | undefined;
    do {
      const out = await ec2.send(
        new DescribeInstanceTypesCommand({ InstanceTypes: missing.slice(i, i + 100) as _InstanceType[], NextToken: token }),
      );
      for (const info of out.InstanceTypes ?? []) {
        if (info.InstanceType) cache.set(info.InstanceType, toFacts(info));
      }
      token = out.NextToken;
    } while (token);
  }
  return new Map(types.flatMap((t) => (cache.has(t) ? [[t, cache.get(t)!] as const] : [])));
}

function toFacts(info: InstanceTypeInfo): InstanceTypeFacts {
  const architectures = (info.ProcessorInfo?.SupportedArchitectures ?? []).filter(
    (a): a is Architecture => a === 'x86_64' || a === 'arm64',
  );
  const features: Feature[] = [];
  if ((info.GpuInfo?.Gpus ?? []).length > 0) features.push('gpu');
  const nvme = info.InstanceStorageInfo?.NvmeSupport;
  if (nvme === 'required' || nvme === 'supported') features.push('nvme');
  if ((info.InferenceAcceleratorInfo?.Accelerators ?? []).length > 0 || (info.NeuronInfo?.NeuronDevices ?? []).length > 0) {
    features.push('inferentia');
  }
  if (info.NetworkInfo?.EfaSupported) features.push('efa');
  return {
    instanceType: info.InstanceType ?? 'unknown',
    vcpu: info.VCpuInfo?.DefaultVCpus ?? 0,
    memoryMiB: info.MemoryInfo?.SizeInMiB ?? 0,
    architectures,
    features,
  };
}

/** DescribeInstanceStatus takes at most 100 instance ids a call. */
const STATUS_IDS_PER_CALL = 100;

/**
 * False only when EC2 reports an instance or system status check as impaired. Up to 100
 * instances: one call by id. A larger pool: ask EC2 for the impaired instances only (two
 * filtered, paginated queries), so the cost does not grow with the pool.
 */
export async function statusChecksPass(ec2: EC2Client, instanceIds: readonly string[]): Promise<Map<string, boolean>> {
  const impaired = new Set<string>();
  const collect = async (input: DescribeInstanceStatusCommandInput) => {
    let token: string | undefined;
    do {
      const out = await ec2.send(new DescribeInstanceStatusCommand({ ...input, NextToken: token }));
      for (const status of out.InstanceStatuses ?? []) {
        if (status.InstanceId && (status.InstanceStatus?.Status === 'impaired' || status.SystemStatus?.Status === 'impaired')) impaired.add(status.InstanceId);
      }
      token = out.NextToken;
    } while (token);
  };
  if (instanceIds.length === 0) return new Map();
  if (instanceIds.length <= STATUS_IDS_PER_CALL) {
    await collect({ InstanceIds: [...instanceIds], IncludeAllInstances: true });
  } else {
    for (const check of ['instance-status.status', 'system-status.status']) {
      await collect({ Filters: [{ Name: check, Values: ['impaired'] }], MaxResults: 1000 });
    }
  }
  return new Map(instanceIds.map((id) => [id, !impaired.has(id)]));
}

/**
 * The subnet, among `subnetIds` (the pool nodes' own), whose CIDR block holds `ipAddress`: a
 * secondary private IP can move only within it (C1). One DescribeSubnets call; it works whether
 * or not the address is assigned anywhere now.
 */
export async function subnetOfAddress(ec2: EC2Client, ipAddress: string, subnetIds: readonly string[]): Promise<AddressSubnet> {
  const ids = [...new Set(subnetIds)];
  if (ids.length === 0) return { ipAddress, subnetId: null, cidrBlock: null };
  const out = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids }));
  const home = (out.Subnets ?? []).find((subnet) => subnet.CidrBlock && cidrContains(subnet.CidrBlock, ipAddress));
  return { ipAddress, subnetId: home?.SubnetId ?? null, cidrBlock: home?.CidrBlock ?? null };
}

/** The attributes of an AMI that decide which nodes it can boot (DescribeImages); facts null when EC2 does not know it. */
export async function describeBootImage(ec2: EC2Client, imageId: string): Promise<BootImage> {
  try {
    const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    const image = (out.Images ?? []).find((i) => i.ImageId === imageId);
    return { imageId, facts: image ? imageFactsOf(image) : null };
  } catch (error) {
    if ((error as { name?: string }).name === 'InvalidAMIID.NotFound') return { imageId, facts: null };
    throw error;
  }
}
