// The simulated fleet's state: what exists, and the few rules every service module shares.
// Service modules (ec2*.ts, ssm.ts, elb.ts, ...) read and change it; index.ts exposes it.
import type { InstanceStateName } from '@aws-sdk/client-ec2';
import type { TimerHandle, VirtualClock } from './clock.ts';
import type { FaultInjector } from './faults.ts';
import type { LatencyModel } from './latency.ts';

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
  /** First three octets, e.g. "10.0.1". */
  prefix: string;
  nextHost: number;
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

/** What an image or snapshot carries: applications installed and started at boot. */
export interface ImageDefinition {
  apps: string[];
}

export class World {
  readonly instances = new Map<string, SimInstance>();
  readonly enis = new Map<string, SimNetworkInterface>();
  readonly subnets = new Map<string, SimSubnet>();
  readonly addresses = new Map<string, SimAddress>();
  readonly images = new Map<string, ImageDefinition>();
  /** Security groups that cut an instance off (ModifyInstanceAttribute Groups = only these: isolated). */
  readonly isolatingGroups = new Set<string>();
  /** Every application start and stop, for the performance model's history. */
  readonly appTimeline: AppEvent[] = [];
  private readonly syncers: Array<() => void> = [];
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

  subnet(subnetId: string | undefined, availabilityZone: string | undefined): SimSubnet {
    const id = subnetId ?? `subnet-sim-${availabilityZone ?? `${this.region}a`}`;
    let subnet = this.subnets.get(id);
    if (!subnet) {
      subnet = {
        subnetId: id,
        vpcId: 'vpc-0sim00000000000001',
        availabilityZone: availabilityZone ?? `${this.region}a`,
        prefix: `10.0.${this.subnets.size + 1}`,
        nextHost: 10,
      };
      this.subnets.set(id, subnet);
    }
    return subnet;
  }

  /** The next free private address in the subnet. */
  allocatePrivateIp(subnet: SimSubnet): string {
    for (;;) {
      const ip = `${subnet.prefix}.${subnet.nextHost++}`;
      if (subnet.nextHost > 254) throw new Error(`simulated subnet ${subnet.subnetId} is out of addresses`);
      if (!this.eniHolding(ip)) return ip;
    }
  }

  /** The ENI that holds this private address (primary or secondary). */
  eniHolding(ip: string): SimNetworkInterface | undefined {
    for (const eni of this.enis.values()) {
      if (eni.primaryIp === ip || eni.secondaryIps.includes(ip)) return eni;
    }
    return undefined;
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
