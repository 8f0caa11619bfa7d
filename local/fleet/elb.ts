// Elastic Load Balancing v2: load balancers (application / network) with their enabled
// Availability Zones, and target groups: registration, health checks in virtual time,
// deregistration with draining, and target group attributes.
//
// Health checks start once registration completes (at once for an ALB, after
// networkRegistrationMs for an NLB) and run every HealthCheckIntervalSeconds. A target passes when
// its instance is running, reachable (not isolated), the target group's application runs on it
// (or, for a group without an application, the instance has booted) and no health fault is
// injected. Per "Health checks for Application Load Balancer target groups": "After your target
// is registered, it must pass one health check to be considered healthy", and
// HealthyThresholdCount is "the number of consecutive successful health checks required before
// considering an unhealthy target healthy". So 'initial' → 'healthy' after ONE pass; 'initial' or
// 'healthy' → 'unhealthy' after UnhealthyThresholdCount consecutive failures; 'unhealthy' →
// 'healthy' after HealthyThresholdCount consecutive passes. A target registered before its
// application is up therefore fails its initial checks and then needs the full threshold.
// A stopped instance's target is 'unused' (Target.InvalidState) and starts over as 'initial'
// when the instance runs again. A target in an Availability Zone that none of the group's load
// balancers enables is 'unused' (Target.NotInUse) and is never checked (same page, "Target
// health status": before the load balancer sends a health check request, you must "ensure that
// the Availability Zone of the target is enabled for the load balancer").
import type {
  DeregisterTargetsCommandInput,
  DescribeTargetGroupAttributesCommandInput,
  DescribeTargetGroupAttributesCommandOutput,
  DescribeTargetGroupsCommandInput,
  DescribeTargetGroupsCommandOutput,
  DescribeTargetHealthCommandInput,
  DescribeTargetHealthCommandOutput,
  DescribeLoadBalancersCommandInput,
  DescribeLoadBalancersCommandOutput,
  ModifyTargetGroupAttributesCommandInput,
  ModifyTargetGroupAttributesCommandOutput,
  RegisterTargetsCommandInput,
  TargetHealth,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { errorsFor } from './errors.ts';
import { SIMULATED_VPC_ID } from './subnets.ts';
import { isReachable } from './instances.ts';
import type { SimInstance, World } from './model.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('elbv2');
const TARGET_GROUP_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/([A-Za-z0-9-]{1,32})\/[0-9a-f]{16}$/;
const LOAD_BALANCER_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer\/(app|net)\/([A-Za-z0-9-]{1,32})\/[0-9a-f]{16}$/;
const DELAY = 'deregistration_delay.timeout_seconds';

export type LoadBalancerType = 'application' | 'network';

export interface LoadBalancerSpec {
  name: string;
  /** Default 'application'. */
  type?: LoadBalancerType;
  /** Default: built from the name, type, region and account. */
  arn?: string;
  /** Zones the load balancer is enabled in (one subnet each). Default: the region's a, b and c. */
  availabilityZones?: string[];
}

export interface SimLoadBalancer {
  arn: string;
  name: string;
  type: LoadBalancerType;
  availabilityZones: string[];
  createdAt: number;
}

export function createLoadBalancer(world: World, loadBalancers: Map<string, SimLoadBalancer>, spec: LoadBalancerSpec): SimLoadBalancer {
  const type = spec.type ?? 'application';
  const arn = spec.arn ?? world.arn('elasticloadbalancing', `loadbalancer/${type === 'network' ? 'net' : 'app'}/${spec.name}/${world.hex(16)}`);
  const match = LOAD_BALANCER_ARN.exec(arn);
  if (!match) throw new Error(`load balancer ARN '${arn}' is not like arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app|net/<name>/<16 hex>`);
  if ((match[1] === 'net') !== (type === 'network')) throw new Error(`load balancer ARN '${arn}' does not match its type '${type}' (app/ is application, net/ is network)`);
  if (loadBalancers.has(arn)) throw new Error(`load balancer ${arn} already exists`);
  const zones = spec.availabilityZones ?? ['a', 'b', 'c'].map((letter) => `${world.region}${letter}`);
  if (zones.length === 0) throw new Error(`load balancer ${spec.name} needs at least one Availability Zone`);
  const loadBalancer: SimLoadBalancer = { arn, name: match[2]!, type, availabilityZones: [...new Set(zones)], createdAt: world.now() };
  loadBalancers.set(arn, loadBalancer);
  return loadBalancer;
}

export interface TargetGroupSpec {
  name: string;
  /** Default: built from the name, region and account. */
  arn?: string;
  port?: number;
  /** Default: HTTP behind an application load balancer, TCP behind a network load balancer. */
  protocol?: 'HTTP' | 'HTTPS' | 'TCP';
  /** The application whose running makes health checks pass. Absent: the instance having booted. */
  app?: string;
  /** The load balancer whose listener forwards to the group. Default: an application load balancer of its own, named after the group. */
  loadBalancerArn?: string;
  healthCheckIntervalSeconds?: number;
  healthyThresholdCount?: number;
  unhealthyThresholdCount?: number;
  deregistrationDelaySeconds?: number;
}

type TargetState = 'initial' | 'healthy' | 'unhealthy' | 'unused' | 'draining';

export interface SimTarget {
  id: string;
  port: number;
  registeredAt: number;
  state: TargetState;
  passes: number;
  fails: number;
  lastCheckAt: number;
  checked: boolean;
  healthySince?: number;
  drainUntil?: number;
}

export interface SimTargetGroup {
  arn: string;
  name: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS' | 'TCP';
  app?: string;
  loadBalancerArns: string[];
  /** RegisterTargets until health checks start, by load balancer type. */
  registrationMs: number;
  intervalSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  attributes: Map<string, string>;
  targets: Map<string, SimTarget>;
}

export function createTargetGroup(
  world: World,
  groups: Map<string, SimTargetGroup>,
  loadBalancers: Map<string, SimLoadBalancer>,
  spec: TargetGroupSpec,
): SimTargetGroup {
  const defaults = world.latency.elbv2;
  const arn = spec.arn ?? world.arn('elasticloadbalancing', `targetgroup/${spec.name}/${world.hex(16)}`);
  const match = TARGET_GROUP_ARN.exec(arn);
  if (!match) throw new Error(`target group ARN '${arn}' is not like arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex>`);
  if (groups.has(arn)) throw new Error(`target group ${arn} already exists`);
  const loadBalancer = spec.loadBalancerArn ? loadBalancers.get(spec.loadBalancerArn) : createLoadBalancer(world, loadBalancers, { name: match[1]! });
  if (!loadBalancer) throw new Error(`no load balancer ${spec.loadBalancerArn} for target group ${arn}; add it first`);
  const network = loadBalancer.type === 'network';
  const group: SimTargetGroup = {
    arn,
    name: match[1]!,
    port: spec.port ?? 80,
    protocol: spec.protocol ?? (network ? 'TCP' : 'HTTP'),
    ...(spec.app ? { app: spec.app } : {}),
    loadBalancerArns: [loadBalancer.arn],
    registrationMs: network ? defaults.networkRegistrationMs : defaults.applicationRegistrationMs,
    intervalSeconds: spec.healthCheckIntervalSeconds ?? defaults.healthCheckIntervalSeconds,
    healthyThreshold: spec.healthyThresholdCount ?? defaults.healthyThresholdCount,
    unhealthyThreshold: spec.unhealthyThresholdCount ?? defaults.unhealthyThresholdCount,
    attributes: new Map([
      [DELAY, String(spec.deregistrationDelaySeconds ?? defaults.deregistrationDelaySeconds)],
      ['stickiness.enabled', 'false'],
      ['stickiness.type', 'lb_cookie'],
      ['stickiness.lb_cookie.duration_seconds', '86400'],
      ['load_balancing.algorithm.type', 'round_robin'],
      ['slow_start.duration_seconds', '0'],
    ]),
    targets: new Map(),
  };
  groups.set(arn, group);
  return group;
}

/** The zones where the group's load balancers send traffic (and run health checks). */
function enabledZones(group: SimTargetGroup, loadBalancers: Map<string, SimLoadBalancer>): Set<string> {
  return new Set(group.loadBalancerArns.flatMap((arn) => loadBalancers.get(arn)?.availabilityZones ?? []));
}

/** Runs every health check due since the last sync, under the conditions as they are now. */
export function syncTargetHealth(world: World, groups: Map<string, SimTargetGroup>, loadBalancers: Map<string, SimLoadBalancer>): void {
  const now = world.now();
  for (const group of groups.values()) {
    const interval = group.intervalSeconds * 1000;
    for (const [key, target] of group.targets) {
      if (target.state === 'draining') {
        if (now >= target.drainUntil!) group.targets.delete(key);
        continue;
      }
      const instance = world.instances.get(target.id);
      if (instance?.state !== 'running') {
        if (target.state !== 'unused') Object.assign(target, { state: 'unused', passes: 0, fails: 0, checked: false });
        target.lastCheckAt = now;
        continue;
      }
      if (target.state === 'unused') Object.assign(target, { state: 'initial', passes: 0, fails: 0, checked: false });
      if (!enabledZones(group, loadBalancers).has(instance.availabilityZone)) {
        // Never checked: no load balancer node in the target's zone.
        target.lastCheckAt = Math.max(target.lastCheckAt, now);
        continue;
      }
      const ok = passesChecks(world, group, instance);
      let due = Math.floor((now - target.lastCheckAt) / interval);
      while (due > 0) {
        target.lastCheckAt += interval;
        due -= 1;
        target.checked = true;
        if (ok) {
          target.passes += 1;
          target.fails = 0;
          // A new target is healthy after one pass; an unhealthy one needs HealthyThresholdCount.
          const needed = target.state === 'unhealthy' ? group.healthyThreshold : 1;
          if (target.state !== 'healthy' && target.passes >= needed) {
            target.state = 'healthy';
            target.healthySince = target.lastCheckAt;
          }
        } else {
          target.fails += 1;
          target.passes = 0;
          if (target.state !== 'unhealthy' && target.fails >= group.unhealthyThreshold) target.state = 'unhealthy';
        }
        // Settled: further checks under the same conditions change nothing.
        if ((ok && target.state === 'healthy') || (!ok && target.state === 'unhealthy')) {
          target.lastCheckAt += due * interval;
          due = 0;
        }
      }
    }
  }
}

/** Whether a health check of this instance in this group passes under the conditions as they are now. */
function passesChecks(world: World, group: SimTargetGroup, instance: SimInstance): boolean {
  return (
    isReachable(world, instance) &&
    (group.app ? instance.apps.get(group.app)?.running === true : instance.servicesUp) &&
    !world.faults.healthCheckFails(instance.instanceId, group.arn)
  );
}

/**
 * A target whose state the checks still due under today's conditions will change (a healthy
 * target failing its checks, a new one passing them), or null: health checks are not timers,
 * so a run that waits for what can still happen asks here.
 */
export function pendingTargetHealthChange(world: World, groups: Map<string, SimTargetGroup>, loadBalancers: Map<string, SimLoadBalancer>): string | null {
  for (const group of groups.values()) {
    for (const target of group.targets.values()) {
      if (target.state === 'draining' || target.state === 'unused') continue;
      const instance = world.instances.get(target.id);
      if (instance?.state !== 'running' || !enabledZones(group, loadBalancers).has(instance.availabilityZone)) continue;
      const ok = passesChecks(world, group, instance);
      if (ok !== (target.state === 'healthy')) return `${target.id} in ${group.name} is ${target.state} and its checks ${ok ? 'pass' : 'fail'}`;
    }
  }
  return null;
}

/** The health a target reports now (what DescribeTargetHealth shows). */
export function reportedHealth(world: World, group: SimTargetGroup, target: SimTarget, loadBalancers: Map<string, SimLoadBalancer>): TargetHealth {
  if (target.state === 'draining') {
    return { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' };
  }
  const instance = world.instances.get(target.id);
  if (instance?.state !== 'running') {
    return { State: 'unused', Reason: 'Target.InvalidState', Description: `Target is in the ${instance?.state ?? 'terminated'} state` };
  }
  if (!enabledZones(group, loadBalancers).has(instance.availabilityZone)) {
    return { State: 'unused', Reason: 'Target.NotInUse', Description: 'Target is in an Availability Zone that is not enabled for the load balancer' };
  }
  if (target.state === 'healthy') {
    const late = world.faults.healthyLateMs(target.id);
    if (late > 0 && world.now() < (target.healthySince ?? 0) + late) {
      return { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' };
    }
    return { State: 'healthy' };
  }
  if (target.state === 'unhealthy') return { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' };
  return target.checked
    ? { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' }
    : { State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' };
}

export function elbHandlers(world: World, groups: Map<string, SimTargetGroup>, loadBalancers: Map<string, SimLoadBalancer>): Handlers {
  const requireGroup = (arn: string | undefined): SimTargetGroup => {
    const group = arn ? groups.get(arn) : undefined;
    if (!group) throw error('TargetGroupNotFoundException', `Target groups '${arn}' not found`);
    return group;
  };
  const targetsOf = (group: SimTargetGroup, targets: RegisterTargetsCommandInput['Targets']) =>
    (targets ?? []).map((t) => {
      if (!t.Id) throw error('ValidationError', 'A target must have an Id');
      if (!world.instances.has(t.Id)) throw error('InvalidTargetException', `The following targets are not valid instances: '${t.Id}'`);
      return { id: t.Id, port: t.Port ?? group.port, key: `${t.Id}:${t.Port ?? group.port}` };
    });

  return {
    RegisterTargets: (input: RegisterTargetsCommandInput) => {
      const group = requireGroup(input.TargetGroupArn);
      const targets = targetsOf(group, input.Targets);
      const notRunning = targets.filter((t) => world.instances.get(t.id)!.state !== 'running').map((t) => `'${t.id}'`);
      if (notRunning.length > 0) {
        throw error('InvalidTargetException', `The following targets are not in a running state and cannot be registered: ${notRunning.join(', ')}`);
      }
      const now = world.now();
      for (const t of targets) {
        const existing = group.targets.get(t.key);
        if (existing && existing.state !== 'draining') continue;
        // Checks run on the interval once registration has completed.
        group.targets.set(t.key, { id: t.id, port: t.port, registeredAt: now, state: 'initial', passes: 0, fails: 0, lastCheckAt: now + group.registrationMs, checked: false });
      }
      return {};
    },

    DeregisterTargets: (input: DeregisterTargetsCommandInput) => {
      const group = requireGroup(input.TargetGroupArn);
      const delayMs = Number(group.attributes.get(DELAY)) * 1000;
      for (const t of targetsOf(group, input.Targets)) {
        const existing = group.targets.get(t.key);
        if (!existing || existing.state === 'draining') continue;
        if (delayMs === 0) group.targets.delete(t.key);
        else Object.assign(existing, { state: 'draining', drainUntil: world.now() + delayMs });
      }
      return {};
    },

    DescribeTargetHealth: (input: DescribeTargetHealthCommandInput): Output<DescribeTargetHealthCommandOutput> => {
      const group = requireGroup(input.TargetGroupArn);
      const describe = (target: SimTarget): TargetHealthDescription => ({
        Target: { Id: target.id, Port: target.port },
        HealthCheckPort: String(target.port),
        TargetHealth: reportedHealth(world, group, target, loadBalancers),
      });
      if (!input.Targets?.length) return { TargetHealthDescriptions: [...group.targets.values()].map(describe) };
      return {
        TargetHealthDescriptions: targetsOf(group, input.Targets).map((t) => {
          const target = group.targets.get(t.key);
          if (target) return describe(target);
          return {
            Target: { Id: t.id, Port: t.port },
            HealthCheckPort: String(t.port),
            TargetHealth: { State: 'unused', Reason: 'Target.NotRegistered', Description: 'Target is not registered to the target group' },
          };
        }),
      };
    },

    DescribeTargetGroups: (input: DescribeTargetGroupsCommandInput): Output<DescribeTargetGroupsCommandOutput> => {
      let selected = [...groups.values()];
      if (input.LoadBalancerArn) {
        if (!loadBalancers.has(input.LoadBalancerArn)) throw error('LoadBalancerNotFoundException', 'One or more load balancers not found');
        selected = selected.filter((g) => g.loadBalancerArns.includes(input.LoadBalancerArn!));
      }
      if (input.TargetGroupArns?.length) selected = input.TargetGroupArns.map((arn) => requireGroup(arn));
      if (input.Names?.length) {
        selected = input.Names.map((name) => {
          const group = [...groups.values()].find((g) => g.name === name);
          if (!group) throw error('TargetGroupNotFoundException', `Target groups '${name}' not found`);
          return group;
        });
      }
      return {
        TargetGroups: selected.map((g) => {
          const http = g.protocol !== 'TCP';
          return {
            TargetGroupArn: g.arn,
            TargetGroupName: g.name,
            Protocol: g.protocol,
            Port: g.port,
            VpcId: SIMULATED_VPC_ID,
            HealthCheckProtocol: g.protocol,
            HealthCheckPort: 'traffic-port',
            HealthCheckEnabled: true,
            HealthCheckIntervalSeconds: g.intervalSeconds,
            // CreateTargetGroup: HTTP 6 s (ALB guide: 5 s for instance targets), TCP and HTTPS 10 s.
            HealthCheckTimeoutSeconds: g.protocol === 'HTTP' ? 5 : 10,
            HealthyThresholdCount: g.healthyThreshold,
            UnhealthyThresholdCount: g.unhealthyThreshold,
            ...(http ? { HealthCheckPath: '/', Matcher: { HttpCode: '200' } } : {}),
            LoadBalancerArns: [...g.loadBalancerArns],
            TargetType: 'instance',
            IpAddressType: 'ipv4',
          };
        }),
      };
    },

    DescribeLoadBalancers: (input: DescribeLoadBalancersCommandInput): Output<DescribeLoadBalancersCommandOutput> => {
      let selected = [...loadBalancers.values()];
      if (input.LoadBalancerArns?.length) {
        selected = input.LoadBalancerArns.map((arn) => {
          const found = loadBalancers.get(arn);
          if (!found) throw error('LoadBalancerNotFoundException', 'One or more load balancers not found');
          return found;
        });
      }
      if (input.Names?.length) {
        selected = input.Names.map((name) => {
          const found = [...loadBalancers.values()].find((lb) => lb.name === name);
          if (!found) throw error('LoadBalancerNotFoundException', 'One or more load balancers not found');
          return found;
        });
      }
      return {
        LoadBalancers: selected.map((lb) => ({
          LoadBalancerArn: lb.arn,
          LoadBalancerName: lb.name,
          DNSName: `${lb.name}-${lb.arn.slice(-8)}.elb.${world.region}.amazonaws.com`,
          CreatedTime: new Date(lb.createdAt),
          Scheme: 'internet-facing',
          VpcId: SIMULATED_VPC_ID,
          State: { Code: 'active' },
          Type: lb.type,
          // A load balancer has one subnet per enabled zone: the simulated VPC's first in that zone.
          AvailabilityZones: lb.availabilityZones.map((zone) => ({ ZoneName: zone, SubnetId: [...world.subnets.values()].find((s) => s.availabilityZone === zone)?.subnetId ?? '' })),
          ...(lb.type === 'application' ? { SecurityGroups: ['sg-0sim0000000000001'] } : {}),
          IpAddressType: 'ipv4',
        })),
      };
    },

    DescribeTargetGroupAttributes: (input: DescribeTargetGroupAttributesCommandInput): Output<DescribeTargetGroupAttributesCommandOutput> => {
      const group = requireGroup(input.TargetGroupArn);
      return { Attributes: [...group.attributes].map(([Key, Value]) => ({ Key, Value })) };
    },

    ModifyTargetGroupAttributes: (input: ModifyTargetGroupAttributesCommandInput): Output<ModifyTargetGroupAttributesCommandOutput> => {
      const group = requireGroup(input.TargetGroupArn);
      for (const { Key, Value } of input.Attributes ?? []) {
        if (!Key || !group.attributes.has(Key)) throw error('InvalidConfigurationRequestException', `The attribute key '${Key}' is not recognized`);
        if (Key === DELAY && !(Number.isInteger(Number(Value)) && Number(Value) >= 0 && Number(Value) <= 3_600)) {
          throw error('InvalidConfigurationRequestException', `'${DELAY}' must be an integer from 0 to 3600; got '${Value}'`);
        }
      }
      for (const { Key, Value } of input.Attributes ?? []) group.attributes.set(Key!, Value ?? '');
      return { Attributes: [...group.attributes].map(([Key, Value]) => ({ Key, Value })) };
    },
  };
}
