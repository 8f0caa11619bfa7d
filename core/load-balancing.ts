// What the engine knows about an application's load balancing (A6, A9): each target group's
// health-check settings and the load balancers that forward to it, with their type and enabled
// Availability Zones. The adapters read it (DescribeTargetGroups, DescribeLoadBalancers); the
// rules here are pure.

export type LoadBalancerType = 'application' | 'network' | 'gateway' | 'unknown';

export interface LoadBalancerFacts {
  arn: string;
  name: string;
  type: LoadBalancerType;
  /** Zones the load balancer is enabled in. */
  availabilityZones: string[];
}

export interface TargetGroupFacts {
  targetGroupArn: string;
  name: string;
  /** Load balancers whose listeners forward to the group (none: no traffic reaches it). */
  loadBalancers: LoadBalancerFacts[];
  healthCheckIntervalSeconds: number;
  healthyThresholdCount: number;
  unhealthyThresholdCount: number;
}

/**
 * Elastic Load Balancing API Reference, CreateTargetGroup: for HTTP, HTTPS and TCP target groups
 * the interval defaults to 30 s, HealthyThresholdCount to 5 and UnhealthyThresholdCount to 2.
 * Used for a group EC2 could not describe.
 */
export const DEFAULT_HEALTH_CHECK = { healthCheckIntervalSeconds: 30, healthyThresholdCount: 5, unhealthyThresholdCount: 2 } as const;

/**
 * RegisterTargets until a target's health checks start, allowed per load balancer type.
 * ASSUMPTION (network): "Health checks for Network Load Balancer target groups" says "It can take
 * a few minutes for the registration process to complete and health checks to start", with no
 * number; 5 minutes is allowed. ASSUMPTION (application): the ALB guide states no time; its
 * registration completes within seconds, 30 s is allowed. A group whose load balancer is not
 * known gets the longest allowance.
 */
export const REGISTRATION_ALLOWANCE_SECONDS: Record<LoadBalancerType, number> = {
  application: 30,
  network: 300,
  gateway: 300,
  unknown: 300,
};

/** Slack on top of the health checks themselves (API calls, polling backoff). */
export const HEALTH_CHECK_MARGIN_SECONDS = 60;

/**
 * How long a node registered once its application is ready may take to be healthy in every
 * target group (A9): registration, then the slowest path AWS allows, a target whose initial
 * checks fail (UnhealthyThresholdCount failures make it unhealthy) and that then needs
 * HealthyThresholdCount passes, one interval apart; plus a margin. The usual path, one passing
 * check ("Health checks for Application Load Balancer target groups"), is much shorter.
 */
export function healthCheckBudgetSeconds(groups: readonly TargetGroupFacts[]): number {
  const perGroup = groups.map((group) => {
    const registration = Math.max(
      ...(group.loadBalancers.length > 0 ? group.loadBalancers : [{ type: 'unknown' as const }]).map((lb) => REGISTRATION_ALLOWANCE_SECONDS[lb.type]),
    );
    return registration + group.healthCheckIntervalSeconds * (group.unhealthyThresholdCount + group.healthyThresholdCount);
  });
  const fallback = REGISTRATION_ALLOWANCE_SECONDS.unknown + DEFAULT_HEALTH_CHECK.healthCheckIntervalSeconds * (DEFAULT_HEALTH_CHECK.unhealthyThresholdCount + DEFAULT_HEALTH_CHECK.healthyThresholdCount);
  return Math.max(...(perGroup.length > 0 ? perGroup : [fallback])) + HEALTH_CHECK_MARGIN_SECONDS;
}

/**
 * A6: why a node in `availabilityZone` cannot serve behind these target groups. "Health checks for
 * Application Load Balancer target groups" (target health status): a target is `unused` when it
 * "is in an Availability Zone that is not enabled for the load balancer" (reason
 * Target.NotInUse); the NLB guide says the same. One line per group none of whose load
 * balancers enables the zone; nothing when the zone or the load balancers are not known.
 */
export function zoneReasons(availabilityZone: string | null, groups: readonly TargetGroupFacts[] | undefined): string[] {
  if (!availabilityZone || !groups) return [];
  return groups
    .filter((group) => group.loadBalancers.length > 0 && !group.loadBalancers.some((lb) => lb.availabilityZones.includes(availabilityZone)))
    .map((group) => {
      const names = group.loadBalancers.map((lb) => `${lb.name} (${lb.availabilityZones.join(', ')})`).join(', ');
      return `Availability Zone ${availabilityZone} is not enabled on load balancer ${names} of target group ${group.name}: its target would stay unused`;
    });
}
