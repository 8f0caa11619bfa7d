// Elastic Load Balancing v2 target groups: registration, health checks in virtual time,
// deregistration with draining, and target group attributes.
//
// Health checks run every HealthCheckIntervalSeconds from registration. A target passes when its
// instance is running, reachable (not isolated), the target group's application runs on it (or,
// for a group without an application, the instance has booted) and no health fault is injected.
// 'initial' → 'healthy' after HealthyThresholdCount consecutive passes; → 'unhealthy' after
// UnhealthyThresholdCount consecutive failures. A stopped instance's target is 'unused'
// (Target.InvalidState) and starts over as 'initial' when the instance runs again.
import type {
  DeregisterTargetsCommandInput,
  DescribeTargetGroupAttributesCommandInput,
  DescribeTargetGroupAttributesCommandOutput,
  DescribeTargetGroupsCommandInput,
  DescribeTargetGroupsCommandOutput,
  DescribeTargetHealthCommandInput,
  DescribeTargetHealthCommandOutput,
  ModifyTargetGroupAttributesCommandInput,
  ModifyTargetGroupAttributesCommandOutput,
  RegisterTargetsCommandInput,
  TargetHealth,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { errorsFor } from './errors.ts';
import { isReachable } from './instances.ts';
import type { World } from './model.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('elbv2');
const TARGET_GROUP_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/([A-Za-z0-9-]{1,32})\/[0-9a-f]{16}$/;
const DELAY = 'deregistration_delay.timeout_seconds';

export interface TargetGroupSpec {
  name: string;
  /** Default: built from the name, region and account. */
  arn?: string;
  port?: number;
  protocol?: 'HTTP' | 'HTTPS' | 'TCP';
  /** The application whose running makes health checks pass. Absent: the instance having booted. */
  app?: string;
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
  intervalSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  attributes: Map<string, string>;
  targets: Map<string, SimTarget>;
}

export function createTargetGroup(world: World, groups: Map<string, SimTargetGroup>, spec: TargetGroupSpec): SimTargetGroup {
  const defaults = world.latency.elbv2;
  const arn = spec.arn ?? world.arn('elasticloadbalancing', `targetgroup/${spec.name}/${world.hex(16)}`);
  const match = TARGET_GROUP_ARN.exec(arn);
  if (!match) throw new Error(`target group ARN '${arn}' is not like arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex>`);
  if (groups.has(arn)) throw new Error(`target group ${arn} already exists`);
  const group: SimTargetGroup = {
    arn,
    name: match[1]!,
    port: spec.port ?? 80,
    protocol: spec.protocol ?? 'HTTP',
    ...(spec.app ? { app: spec.app } : {}),
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

/** Runs every health check due since the last sync, under the conditions as they are now. */
export function syncTargetHealth(world: World, groups: Map<string, SimTargetGroup>): void {
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
      const ok =
        isReachable(world, instance) &&
        (group.app ? instance.apps.get(group.app)?.running === true : instance.servicesUp) &&
        !world.faults.healthCheckFails(instance.instanceId, group.arn);
      let due = Math.floor((now - target.lastCheckAt) / interval);
      while (due > 0) {
        target.lastCheckAt += interval;
        due -= 1;
        target.checked = true;
        if (ok) {
          target.passes += 1;
          target.fails = 0;
          if (target.state !== 'healthy' && target.passes >= group.healthyThreshold) {
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

/** The health a target reports now (what DescribeTargetHealth shows). */
export function reportedHealth(world: World, group: SimTargetGroup, target: SimTarget): TargetHealth {
  if (target.state === 'draining') {
    return { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' };
  }
  const instance = world.instances.get(target.id);
  if (instance?.state !== 'running') {
    return { State: 'unused', Reason: 'Target.InvalidState', Description: `Target is in the ${instance?.state ?? 'terminated'} state` };
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

export function elbHandlers(world: World, groups: Map<string, SimTargetGroup>): Handlers {
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
        group.targets.set(t.key, { id: t.id, port: t.port, registeredAt: now, state: 'initial', passes: 0, fails: 0, lastCheckAt: now, checked: false });
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
        TargetHealth: reportedHealth(world, group, target),
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
      if (input.TargetGroupArns?.length) selected = input.TargetGroupArns.map((arn) => requireGroup(arn));
      if (input.Names?.length) {
        selected = input.Names.map((name) => {
          const group = [...groups.values()].find((g) => g.name === name);
          if (!group) throw error('TargetGroupNotFoundException', `Target groups '${name}' not found`);
          return group;
        });
      }
      return {
        TargetGroups: selected.map((g) => ({
          TargetGroupArn: g.arn,
          TargetGroupName: g.name,
          Protocol: g.protocol,
          Port: g.port,
          VpcId: 'vpc-0sim00000000000001',
          HealthCheckProtocol: g.protocol,
          HealthCheckPort: 'traffic-port',
          HealthCheckEnabled: true,
          HealthCheckIntervalSeconds: g.intervalSeconds,
          HealthCheckTimeoutSeconds: 5,
          HealthyThresholdCount: g.healthyThreshold,
          UnhealthyThresholdCount: g.unhealthyThreshold,
          HealthCheckPath: '/',
          Matcher: { HttpCode: '200' },
          LoadBalancerArns: [],
          TargetType: 'instance',
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
