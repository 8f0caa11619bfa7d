// The simulated fleet's state: what exists, and the few rules every service module shares.
// Service modules (ec2*.ts, ssm.ts, elb.ts, ...) read and change it; index.ts exposes it.
import type { InstanceStateName } from '@aws-sdk/client-ec2';
import { ipv4ToNumber, numberToIpv4, parseCidr } from '../../core/ipv4.ts';
import type { TimerHandle, VirtualClock } from './clock.ts';
import { errorsFor } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import type { LatencyModel } from './latency.ts';
import { DEFAULT_SUBNET_ID, RESERVED_AT_END, RESERVED_AT_START, SIMULATED_VPC_ID, simulatedSubnets } from './subnets.ts';

const error = errorsFor('ec2');

export interface AppRuntime {
  installed: boolean;
  running: boolean;
  /** Starts when the instance boots (an enabled service, or baked into the image). */
  startOnBoot: boolean;
}

export interface DocumentRun {
  commandId: string;
  documentName: string;
  parameters: Record<string, string[]>;
  requestedAt: number;
  status: string;
  completedAt?: number;
}

/** The SSM Agent on an instance, as Systems Manager sees it (DescribeInstanceInformation). */
export interface SimAgent {
  /** Connected and reporting: PingStatus Online. SendCommand needs it. */
  online: boolean;
  /** When the agent first registered the instance as a managed node (null: never; not listed). */
  registeredAt: number | null;
  /** Its last contact with Systems Manager (LastPingDateTime). */
  lastPingAt: number | null;
  /** Run once, when the agent next comes Online (commands waiting for delivery). */
  whenOnline: Array<() => void>;
}

export interface SimInstance {
  instanceId: string;
  instanceType: string;
  imageId: string;
  state: InstanceStateName;
  stateReason?: { Code: string; Message: string };
  stateTransitionReason: string;
  launchTime: number;
  tags: Map<string, string>;
  /** Every tag change, for reads under eventual consistency. */
  tagHistory: Array<{ at: number; tags: Array<[string, string]> }>;
  /** From its image: what CreateReplaceRootVolumeTask compares an AMI against (and DescribeInstances shows). */
  architecture: string;
  virtualizationType: 'hvm' | 'paravirtual';
  productCodes: string[];
  /** Billing information (AMI billing information fields), as DescribeInstances reports it. */
  platformDetails: string;
  usageOperation: string;
  /**
   * The lineage of the current root volume: snapshots taken from it carry the same value, and
   * only they can replace it (CreateReplaceRootVolumeTask). A volume made from an AMI starts a new one.
   */
  rootLineage: string;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  networkInterfaceId: string;
  securityGroups: string[];
  /** Empty while the instance has no root volume (a failed-detached replacement). */
  rootVolumeId: string;
  /** What the current root volume was made from (image or snapshot). */
  rootSource: string;
  apps: Map<string, AppRuntime>;
  /** Bumped on every start, stop and reboot: timers from an earlier boot see it and do nothing. */
  bootGeneration: number;
  /** The OS has booted and its boot-time services run. */
  servicesUp: boolean;
  /** When status checks turn from initializing to ok (null when not running). */
  statusOkAt: number | null;
  transition?: TimerHandle;
  documents: DocumentRun[];
  agent: SimAgent;
}

export interface SimSubnet {
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  cidrBlock: string;
  /** The network address as a number, and how many addresses the block has. */
  base: number;
  size: number;
  /** Where the search for a free address starts (offset from base). */
  cursor: number;
}

export interface SimNetworkInterface {
  networkInterfaceId: string;
  instanceId: string;
  subnetId: string;
  primaryIp: string;
  secondaryIps: string[];
  macAddress: string;
}

export interface SimAddress {
  allocationId: string;
  publicIp: string;
  association?: {
    associationId: string;
    instanceId: string;
    networkInterfaceId: string;
    privateIp: string;
    /** When traffic to the address reaches this instance (remapping takes a moment). */
    effectiveAt: number;
  };
}

export interface AppEvent {
  at: number;
  instanceId: string;
  app: string;
  running: boolean;
}

/** An AMI as a scenario or test defines it; what is not given takes the defaults of a plain Linux image. */
export interface ImageDefinition {
  /** Applications installed in it and started at boot. */
  apps: string[];
  /** Default x86_64. */
  architecture?: string;
  /** Default hvm. */
  virtualizationType?: 'hvm' | 'paravirtual';
  /** Marketplace product codes; default none. */
  productCodes?: string[];
  /** Billing information (EC2 User Guide, "AMI billing information fields"); default Linux/UNIX, RunInstances. */
  platformDetails?: string;
  usageOperation?: string;
  /** The customer managed KMS key its snapshot is encrypted with (key ARN); absent: not encrypted. */
  kmsKeyId?: string;
}

export type SimImage = Required<Omit<ImageDefinition, 'kmsKeyId'>> & {
  imageId: string;
  /** The EBS snapshot behind its root device. */
  rootSnapshotId: string;
  kmsKeyId?: string;
};

/** An EBS snapshot of an instance's root volume: it can only replace a root volume of the same lineage. */
export interface SimSnapshot {
  snapshotId: string;
  lineage: string;
  /** The instance whose root volume it was taken from. */
  fromInstanceId: string;
  /** Applications on the volume when it was taken (started at boot). */
  apps: string[];
}

/** An event an AWS service puts on the default bus (EventBridge's envelope). */
export interface ServiceEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** AWS's events carry whole seconds ("2021-11-11T21:29:54Z"). */
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export class World {
  readonly instances = new Map<string, SimInstance>();
  readonly enis = new Map<string, SimNetworkInterface>();
  readonly subnets = new Map<string, SimSubnet>();
  readonly addresses = new Map<string, SimAddress>();
  readonly images = new Map<string, SimImage>();
  readonly snapshots = new Map<string, SimSnapshot>();
  /** Security groups that cut an instance off (ModifyInstanceAttribute Groups = only these: isolated). */
  readonly isolatingGroups = new Set<string>();
  /** Private address → the ENI that holds it (primary or secondary): kept by bindIp/unbindIp. */
  private readonly ipHolders = new Map<string, SimNetworkInterface>();
  /** Addresses the scenario gives out itself (secondary IPs of applications): never auto-assigned. */
  private readonly reservedIps = new Set<string>();
  /** Every application start and stop, for the performance model's history. */
  readonly appTimeline: AppEvent[] = [];
  private readonly syncers: Array<() => void> = [];
  private readonly eventListeners: Array<(event: ServiceEvent) => void> = [];
  private eventSeq = 0;
  private random: number;

  constructor(
    readonly clock: VirtualClock,
    readonly latency: LatencyModel,
    readonly faults: FaultInjector,
    readonly region: string,
    readonly accountId: string,
    seed: number,
  ) {
    this.random = seed >>> 0 || 1;
    for (const layout of simulatedSubnets(region)) {
      const block = parseCidr(layout.cidrBlock)!;
      this.subnets.set(layout.subnetId, { ...layout, vpcId: SIMULATED_VPC_ID, base: block.base, size: block.size, cursor: RESERVED_AT_START });
    }
  }

  now(): number {
    return this.clock.nowMs();
  }

  /** Registers a catch-up step (e.g. load balancer health checks) run before every change and read. */
  onSync(fn: () => void): void {
    this.syncers.push(fn);
  }

  /**
   * Brings time-dependent state up to now under the rules as they are. Called before anything
   * changes those rules (an instance stops, an app starts, a fault is injected) and before reads,
   * so between two calls the rules are constant and catch-up is exact.
   */
  sync(): void {
    for (const fn of this.syncers) fn();
  }

  /** Receives every event the services emit (EC2 state changes, SSM status changes), as they happen. */
  onServiceEvent(listener: (event: ServiceEvent) => void): void {
    this.eventListeners.push(listener);
  }

  /** A service emits an event now (ids from their own sequence: the seeded ids of resources stay as they were). */
  emit(source: string, detailType: string, resources: string[], detail: Record<string, unknown>): void {
    if (this.eventListeners.length === 0) return;
    const seq = (++this.eventSeq).toString(16).padStart(12, '0');
    const event: ServiceEvent = {
      version: '0',
      id: `e0000000-0000-4000-a000-${seq}`,
      'detail-type': detailType,
      source,
      account: this.accountId,
      time: new Date(Math.floor(this.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      region: this.region,
      resources,
      detail,
    };
    const { copies, delayMs } = this.faults.eventFate(event);
    for (let copy = 0; copy < copies; copy++) {
      const deliver = () => {
        for (const listener of this.eventListeners) listener(structuredClone(event));
      };
      if (delayMs > 0) this.clock.after(delayMs, deliver, `event ${event.id} (late)`);
      else deliver();
    }
  }

  instance(instanceId: string): SimInstance | undefined {
    return this.instances.get(instanceId);
  }

  /** Deterministic hex digits (seeded), so runs and ids are reproducible. */
  hex(length: number): string {
    let out = '';
    while (out.length < length) {
      // mulberry32
      this.random = (this.random + 0x6d2b79f5) >>> 0;
      let t = this.random;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out += ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
    }
    return out.slice(0, length);
  }

  newId(prefix: string, length = 17): string {
    return `${prefix}-${this.hex(length)}`;
  }

  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** The subnet named, or the first one in the AZ named, or the default subnet. */
  subnet(subnetId: string | undefined, availabilityZone: string | undefined): SimSubnet {
    const all = [...this.subnets.values()];
    const subnet = subnetId
      ? this.subnets.get(subnetId)
      : availabilityZone
        ? all.find((s) => s.availabilityZone === availabilityZone)
        : this.subnets.get(DEFAULT_SUBNET_ID);
    const layout = all.map((s) => `${s.subnetId} (${s.availabilityZone}, ${s.cidrBlock})`).join(', ');
    if (!subnet) throw new Error(`no simulated subnet ${subnetId ?? `in ${availabilityZone}`}; the simulated VPC has ${layout}`);
    if (availabilityZone && subnet.availabilityZone !== availabilityZone) {
      throw new Error(`subnet ${subnet.subnetId} is in ${subnet.availabilityZone}, not ${availabilityZone}`);
    }
    return subnet;
  }

  /** The subnet whose CIDR block holds `ip` (null: none of the VPC's). */
  subnetHolding(ip: string): SimSubnet | null {
    const value = ipv4ToNumber(ip);
    if (value === null) return null;
    for (const subnet of this.subnets.values()) {
      if (value >= subnet.base && value < subnet.base + subnet.size) return subnet;
    }
    return null;
  }

  /** AWS keeps the first four and the last address of every subnet (see subnets.ts). */
  isReservedByAws(subnet: SimSubnet, ip: string): boolean {
    const offset = (ipv4ToNumber(ip) ?? 0) - subnet.base;
    return offset < RESERVED_AT_START || offset >= subnet.size - RESERVED_AT_END;
  }

  /** Keeps these addresses out of automatic assignment (the scenario gives them to applications). */
  reservePrivateIps(ips: Iterable<string>): void {
    for (const ip of ips) this.reservedIps.add(ip);
  }

  /** The next free private address in the subnet, as EC2's automatic assignment would pick one. */
  allocatePrivateIp(subnet: SimSubnet): string {
    const usable = subnet.size - RESERVED_AT_START - RESERVED_AT_END;
    for (let tried = 0; tried < usable; tried++) {
      const offset = subnet.cursor;
      subnet.cursor = offset + 1 >= subnet.size - RESERVED_AT_END ? RESERVED_AT_START : offset + 1;
      const ip = numberToIpv4(subnet.base + offset);
      if (!this.ipHolders.has(ip) && !this.reservedIps.has(ip)) return ip;
    }
    throw error('InsufficientFreeAddressesInSubnet', `There are not enough free addresses in subnet '${subnet.subnetId}' to satisfy the requested number of instances.`);
  }

  /** The ENI that holds this private address (primary or secondary). */
  eniHolding(ip: string): SimNetworkInterface | undefined {
    return this.ipHolders.get(ip);
  }

  /** Records that `eni` holds `ip` (its primary address is set by the caller; a secondary one is added here). */
  bindIp(eni: SimNetworkInterface, ip: string, primary = false): void {
    if (!primary) eni.secondaryIps.push(ip);
    this.ipHolders.set(ip, eni);
  }

  /** `eni` gives up its secondary address `ip`. */
  unbindIp(eni: SimNetworkInterface, ip: string): void {
    eni.secondaryIps = eni.secondaryIps.filter((held) => held !== ip);
    if (this.ipHolders.get(ip) === eni) this.ipHolders.delete(ip);
  }

  arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.region}:${this.accountId}:${resource}`;
  }
}

export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export function stateOf(instance: SimInstance): { Code: number; Name: InstanceStateName } {
  return { Code: INSTANCE_STATE_CODES[instance.state], Name: instance.state };
}

export function tagList(tags: Iterable<[string, string]>): Array<{ Key: string; Value: string }> {
  return [...tags].map(([Key, Value]) => ({ Key, Value }));
}
