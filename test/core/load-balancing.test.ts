import { describe, expect, it } from 'vitest';
import { healthCheckBudgetSeconds, type LoadBalancerType, type TargetGroupFacts } from '../../core/load-balancing.ts';

function group(type: LoadBalancerType | null, health: Partial<TargetGroupFacts> = {}): TargetGroupFacts {
  return {
    targetGroupArn: `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${type ?? 'none'}/0123456789abcdef`,
    name: type ?? 'none',
    loadBalancers: type ? [{ arn: `arn:lb/${type}`, name: type, type, availabilityZones: ['eu-west-1a'] }] : [],
    healthCheckIntervalSeconds: 30,
    healthyThresholdCount: 5,
    unhealthyThresholdCount: 2,
    ...health,
  };
}

describe('healthCheckBudgetSeconds (A9: the join timeout follows from the target groups)', () => {
  it('ALB with the AWS defaults: registration 30 s + 30 s × (2 failing + 5 passing) + 60 s margin', () => {
    expect(healthCheckBudgetSeconds([group('application')])).toBe(30 + 30 * 7 + 60);
  });

  it('NLB rule "it can take a few minutes for the registration process to complete and health checks to start": 5 minutes more than the checks', () => {
    expect(healthCheckBudgetSeconds([group('network')])).toBe(300 + 30 * 7 + 60);
  });

  it("follows each group's own interval and thresholds, and takes the slowest group", () => {
    const fastAlb = group('application', { healthCheckIntervalSeconds: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 2 });
    expect(healthCheckBudgetSeconds([fastAlb])).toBe(30 + 5 * 4 + 60);
    expect(healthCheckBudgetSeconds([fastAlb, group('network', { healthCheckIntervalSeconds: 10, healthyThresholdCount: 3, unhealthyThresholdCount: 3 })])).toBe(300 + 10 * 6 + 60);
  });

  it('allows the longest registration when a group has no known load balancer, or nothing is known', () => {
    expect(healthCheckBudgetSeconds([group(null)])).toBe(300 + 30 * 7 + 60);
    expect(healthCheckBudgetSeconds([])).toBe(300 + 30 * 7 + 60);
  });
});
