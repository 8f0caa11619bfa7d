// An application's load balancing as Elastic Load Balancing describes it (A6, A9): each target
// group's health-check settings and load balancers (DescribeTargetGroups), and each load
// balancer's type and enabled Availability Zones (DescribeLoadBalancers). Kept per client for a
// few minutes: select reads it once per selection and join once per poll.
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  type ElasticLoadBalancingV2Client,
  type LoadBalancer,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DEFAULT_HEALTH_CHECK, type LoadBalancerFacts, type LoadBalancerType, type TargetGroupFacts } from '../../core/load-balancing.ts';

/** Settings change rarely (an operator edits a target group); five minutes old is fresh enough. */
const CACHE_MS = 5 * 60 * 1000;
/** DescribeLoadBalancers takes at most 20 ARNs a call; target groups are asked for in the same chunks. */
const ARNS_PER_CALL = 20;

const caches = new WeakMap<ElasticLoadBalancingV2Client, Map<string, { facts: TargetGroupFacts; readAt: number }>>();

const TYPES: readonly LoadBalancerType[] = ['application', 'network', 'gateway'];

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ARNS_PER_CALL) out.push(items.slice(i, i + ARNS_PER_CALL));
  return out;
}

function toLoadBalancer(lb: LoadBalancer): LoadBalancerFacts {
  const type = TYPES.find((t) => t === lb.Type) ?? 'unknown';
  return {
    arn: lb.LoadBalancerArn ?? '',
    name: lb.LoadBalancerName ?? lb.LoadBalancerArn?.split('/').at(-2) ?? 'unknown',
    type,
    availabilityZones: (lb.AvailabilityZones ?? []).flatMap((zone) => (zone.ZoneName ? [zone.ZoneName] : [])),
  };
}

function toFacts(arn: string, group: TargetGroup | undefined, loadBalancers: ReadonlyMap<string, LoadBalancerFacts>): TargetGroupFacts {
  return {
    targetGroupArn: arn,
    name: group?.TargetGroupName ?? arn.split('/').at(-2) ?? arn,
    // A load balancer DescribeLoadBalancers did not return is known by its ARN only.
    loadBalancers: (group?.LoadBalancerArns ?? []).map(
      (lbArn) => loadBalancers.get(lbArn) ?? { arn: lbArn, name: lbArn.split('/').at(-2) ?? lbArn, type: 'unknown', availabilityZones: [] },
    ),
    healthCheckIntervalSeconds: group?.HealthCheckIntervalSeconds ?? DEFAULT_HEALTH_CHECK.healthCheckIntervalSeconds,
    healthyThresholdCount: group?.HealthyThresholdCount ?? DEFAULT_HEALTH_CHECK.healthyThresholdCount,
    unhealthyThresholdCount: group?.UnhealthyThresholdCount ?? DEFAULT_HEALTH_CHECK.unhealthyThresholdCount,
  };
}

/** The target groups' facts, in the order asked. */
export async function describeTargetGroups(elb: ElasticLoadBalancingV2Client, arns: readonly string[], now: Date): Promise<TargetGroupFacts[]> {
  let cache = caches.get(elb);
  if (!cache) {
    cache = new Map();
    caches.set(elb, cache);
  }
  const stale = [...new Set(arns)].filter((arn) => {
    const entry = cache.get(arn);
    return !entry || now.getTime() - entry.readAt > CACHE_MS;
  });
  if (stale.length > 0) {
    const groups = new Map<string, TargetGroup>();
    for (const chunk of chunks(stale)) {
      const out = await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: chunk }));
      for (const group of out.TargetGroups ?? []) if (group.TargetGroupArn) groups.set(group.TargetGroupArn, group);
    }
    const lbArns = [...new Set([...groups.values()].flatMap((g) => g.LoadBalancerArns ?? []))];
    const loadBalancers = new Map<string, LoadBalancerFacts>();
    for (const chunk of chunks(lbArns)) {
      const out = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: chunk }));
      for (const lb of out.LoadBalancers ?? []) if (lb.LoadBalancerArn) loadBalancers.set(lb.LoadBalancerArn, toLoadBalancer(lb));
    }
    for (const arn of stale) cache.set(arn, { facts: toFacts(arn, groups.get(arn), loadBalancers), readAt: now.getTime() });
  }
  return arns.map((arn) => cache.get(arn)!.facts);
}
