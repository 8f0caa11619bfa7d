// The load-balancing adapter through a real ELBv2 client on the simulated fleet (A6, A9).
import { describe, expect, it } from 'vitest';
import { describeTargetGroups } from '../../../functions/adapters/load-balancers.ts';
import { listPoolMembers } from '../../../functions/adapters/fleet.ts';
import { quietFleet } from '../../local/fleet/clients.ts';

describe('load balancers adapter', () => {
  it("A9: reads each target group's health-check settings and its load balancers' type and zones (DescribeTargetGroups, DescribeLoadBalancers)", async () => {
    const { fleet, elb } = quietFleet();
    const nlb = fleet.addLoadBalancer({ name: 'ledger', type: 'network', availabilityZones: ['us-east-1a'] });
    const tcp = fleet.addTargetGroup({ name: 'ledger', loadBalancerArn: nlb, healthCheckIntervalSeconds: 10, healthyThresholdCount: 3, unhealthyThresholdCount: 3 });
    const http = fleet.addTargetGroup({ name: 'web' });

    const facts = await describeTargetGroups(elb, [tcp, http], fleet.clock.now());

    expect(facts).toEqual([
      {
        targetGroupArn: tcp,
        name: 'ledger',
        loadBalancers: [{ arn: nlb, name: 'ledger', type: 'network', availabilityZones: ['us-east-1a'] }],
        healthCheckIntervalSeconds: 10,
        healthyThresholdCount: 3,
        unhealthyThresholdCount: 3,
      },
      {
        targetGroupArn: http,
        name: 'web',
        loadBalancers: [expect.objectContaining({ name: 'web', type: 'application', availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] })],
        healthCheckIntervalSeconds: 30,
        healthyThresholdCount: 5,
        unhealthyThresholdCount: 2,
      },
    ]);
    expect(fleet.callCounts().byCommand).toEqual({ 'elbv2:DescribeTargetGroups': 1, 'elbv2:DescribeLoadBalancers': 1 });
  });

  it('asks ELB again only after five minutes (the join step polls it)', async () => {
    const { fleet, elb, clock } = quietFleet();
    const tg = fleet.addTargetGroup({ name: 'web' });

    await describeTargetGroups(elb, [tg], clock.now());
    clock.advance(300_000);
    await describeTargetGroups(elb, [tg], clock.now());
    expect(fleet.callCounts().byCommand['elbv2:DescribeTargetGroups']).toBe(1);
    clock.advance(1);
    await describeTargetGroups(elb, [tg], clock.now());

    expect(fleet.callCounts().byCommand['elbv2:DescribeTargetGroups']).toBe(2);
  });

  it("A6: a pool member carries its Availability Zone from DescribeInstances' Placement", async () => {
    const { fleet, ec2 } = quietFleet();
    const id = fleet.addInstance({ instanceType: 'm7i.large', tags: { pool: 'a' }, availabilityZone: 'us-east-1b' });

    const [member] = await listPoolMembers(ec2, [{ name: 'a', tag: { key: 'pool', value: 'a' }, tier: 'failover' }]);

    expect(member?.instance).toMatchObject({ instanceId: id, availabilityZone: 'us-east-1b' });
  });
});
