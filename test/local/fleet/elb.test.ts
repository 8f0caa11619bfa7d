// Target health in virtual time through a real ElasticLoadBalancingV2Client.
import {
  DeregisterTargetsCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  InvalidTargetException,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ModifyInstanceAttributeCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { quietFleet, SECOND } from './clients.ts';

function setup(options: { deregistrationDelaySeconds?: number } = {}) {
  const sim = quietFleet();
  // The AWS defaults: checks every 30 s, healthy after 5 passes, unhealthy after 2 failures.
  const tg = sim.fleet.addTargetGroup({ name: 'web', app: 'web', port: 8080, ...options });
  const id = sim.fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });
  const health = async (targetId = id) =>
    (await sim.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg, Targets: [{ Id: targetId }] }))).TargetHealthDescriptions?.[0]?.TargetHealth;
  return { ...sim, tg, id, health };
}

describe('target health', () => {
  it('A9, ALB rule "after your target is registered, it must pass one health check to be considered healthy": healthy at the first passing check, not after HealthyThresholdCount', async () => {
    const { elb, clock, tg, id, health } = setup();

    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));

    expect(await health()).toEqual({ State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' });
    clock.advance(29 * SECOND);
    expect((await health())?.State).toBe('initial');
    clock.advance(1 * SECOND);
    expect(await health()).toEqual({ State: 'healthy' });
    const all = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }));
    expect(all.TargetHealthDescriptions).toEqual([{ Target: { Id: id, Port: 8080 }, HealthCheckPort: '8080', TargetHealth: { State: 'healthy' } }]);
  });

  it('A9, ALB rule: a new target whose first check fails but whose next one passes (before UnhealthyThresholdCount failures) is healthy at that pass', async () => {
    const { fleet, elb, clock, tg, id, health } = setup();
    fleet.setAppRunning(id, 'web', false);

    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));
    clock.advance(45 * SECOND); // the check at 30 s failed
    expect(await health()).toMatchObject({ State: 'initial', Reason: 'Elb.InitialHealthChecking' });
    fleet.setAppRunning(id, 'web', true);
    clock.advance(15 * SECOND); // the check at 60 s passes

    expect(await health()).toEqual({ State: 'healthy' });
  });

  it('A9, ALB rule "HealthyThresholdCount: consecutive successful health checks required before considering an unhealthy target healthy": registered before the application runs, the target fails its initial checks and then needs the full threshold', async () => {
    const { fleet, elb, clock, tg, id, health } = setup();
    fleet.setAppRunning(id, 'web', false);

    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));
    clock.advance(60 * SECOND); // checks at 30 s and 60 s fail: UnhealthyThresholdCount 2
    expect(await health()).toMatchObject({ State: 'unhealthy', Reason: 'Target.FailedHealthChecks' });
    clock.advance(1 * SECOND);
    fleet.setAppRunning(id, 'web', true); // the application is up at 61 s: passes at 90, 120, 150, 180, 210 s
    clock.advance(148 * SECOND);
    expect((await health())?.State).toBe('unhealthy');
    clock.advance(1 * SECOND);

    expect(await health()).toEqual({ State: 'healthy' });
  });

  it('A9, the same application registered once it runs is healthy 30 s after registration: 180 s sooner than registering first (the reason join registers last)', async () => {
    const { fleet, elb, clock, tg, id, health } = setup();
    fleet.setAppRunning(id, 'web', false);
    clock.advance(61 * SECOND);
    fleet.setAppRunning(id, 'web', true);

    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));
    clock.advance(30 * SECOND);

    expect(await health()).toEqual({ State: 'healthy' });
  });

  it('turns unhealthy after the unhealthy threshold when the application stops, and healthy again when it returns', async () => {
    const { fleet, clock, tg, id, health } = setup();
    fleet.registerHealthy(tg, [id]);

    fleet.setAppRunning(id, 'web', false);
    clock.advance(30 * SECOND);
    expect((await health())?.State).toBe('healthy');
    clock.advance(30 * SECOND);
    expect(await health()).toMatchObject({ State: 'unhealthy', Reason: 'Target.FailedHealthChecks' });
    fleet.setAppRunning(id, 'web', true);
    clock.advance(150 * SECOND);
    expect((await health())?.State).toBe('healthy');
  });

  it('fails health checks under an injected fault and on an isolated instance', async () => {
    const { fleet, clock, ec2, tg, id, health } = setup();
    const other = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });
    fleet.registerHealthy(tg, [id, other]);
    fleet.isolatingSecurityGroups('sg-0150la7ed0000000');

    fleet.faults.healthChecksFail(id);
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: other, Groups: ['sg-0150la7ed0000000'] }));
    clock.advance(60 * SECOND);

    expect((await health(id))?.State).toBe('unhealthy');
    expect((await health(other))?.State).toBe('unhealthy');
    fleet.faults.clearHealthChecks(id);
    clock.advance(150 * SECOND);
    expect((await health(id))?.State).toBe('healthy');
  });

  it('reports unused (Target.InvalidState) for a stopped instance and NotRegistered for a stranger', async () => {
    const { fleet, ec2, tg, id, health } = setup();
    const stranger = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.registerHealthy(tg, [id]);

    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));

    expect(await health()).toMatchObject({ State: 'unused', Reason: 'Target.InvalidState' });
    expect(await health(stranger)).toMatchObject({ State: 'unused', Reason: 'Target.NotRegistered' });
  });

  it('drains a deregistered target for the target group deregistration delay, then forgets it', async () => {
    const { fleet, elb, clock, tg, id, health } = setup();
    fleet.registerHealthy(tg, [id]);
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }] }));

    await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));

    expect(await health()).toMatchObject({ State: 'draining', Reason: 'Target.DeregistrationInProgress' });
    clock.advance(29 * SECOND);
    expect((await health())?.State).toBe('draining');
    clock.advance(1 * SECOND);
    expect(await health()).toMatchObject({ State: 'unused', Reason: 'Target.NotRegistered' });
  });

  it('keeps reporting initial for a while after turning healthy (late-healthy fault)', async () => {
    const { fleet, elb, clock, tg, id, health } = setup();
    fleet.faults.targetHealthyLate(id, 20 * SECOND);

    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));
    clock.advance(30 * SECOND);
    expect((await health())?.State).toBe('initial');
    clock.advance(20 * SECOND);

    expect((await health())?.State).toBe('healthy');
  });

  it('refuses to register a stopped instance', async () => {
    const { fleet, elb, tg } = setup();
    const stopped = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped' });

    await expect(elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: stopped }] }))).rejects.toBeInstanceOf(InvalidTargetException);
  });
});

describe('target group attributes', () => {
  it('describes and modifies deregistration_delay.timeout_seconds within 0-3600', async () => {
    const { elb, tg } = setup({ deregistrationDelaySeconds: 45 });
    const delay = async () =>
      (await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tg }))).Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;

    expect(await delay()).toBe('45');
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '10' }] }));
    expect(await delay()).toBe('10');
    await expect(
      elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '3601' }] })),
    ).rejects.toMatchObject({ name: 'InvalidConfigurationRequestException' });
    await expect(
      elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tg.replace(/[0-9a-f]{16}$/, '0000000000000000') })),
    ).rejects.toMatchObject({ name: 'TargetGroupNotFoundException' });
  });
});

describe('load balancers', () => {
  it('A9, NLB rule "it can take a few minutes for the registration process to complete and health checks to start": no check before networkRegistrationMs, then one pass', async () => {
    const sim = quietFleet({ latency: { elbv2: { networkRegistrationMs: 180 * SECOND } } });
    const nlb = sim.fleet.addLoadBalancer({ name: 'ledger', type: 'network' });
    const tg = sim.fleet.addTargetGroup({ name: 'ledger', app: 'ledger', port: 5432, loadBalancerArn: nlb });
    const id = sim.fleet.addInstance({ instanceType: 'm7i.large', apps: ['ledger'] });
    const health = async () => (await sim.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }))).TargetHealthDescriptions?.[0]?.TargetHealth;

    await sim.elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));
    sim.clock.advance(209 * SECOND);
    expect(await health()).toMatchObject({ State: 'initial', Reason: 'Elb.RegistrationInProgress' });
    sim.clock.advance(1 * SECOND);

    expect(await health()).toEqual({ State: 'healthy' });
  });

  it('DescribeTargetGroups gives the load balancer, protocol and health-check settings; DescribeLoadBalancers the type and enabled zones', async () => {
    const { fleet, elb } = quietFleet();
    const nlb = fleet.addLoadBalancer({ name: 'ledger', type: 'network', availabilityZones: ['us-east-1a', 'us-east-1b'] });
    const tcp = fleet.addTargetGroup({ name: 'ledger', port: 5432, loadBalancerArn: nlb, healthCheckIntervalSeconds: 10, healthyThresholdCount: 3, unhealthyThresholdCount: 3 });
    const http = fleet.addTargetGroup({ name: 'web', port: 8080 });

    const groups = (await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [tcp, http] }))).TargetGroups ?? [];
    const alb = groups[1]?.LoadBalancerArns?.[0];
    const balancers = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [nlb, alb!] }))).LoadBalancers ?? [];

    expect(groups[0]).toMatchObject({
      TargetGroupArn: tcp,
      Protocol: 'TCP',
      HealthCheckProtocol: 'TCP',
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 3,
      UnhealthyThresholdCount: 3,
      LoadBalancerArns: [nlb],
    });
    expect(groups[1]).toMatchObject({ Protocol: 'HTTP', HealthCheckIntervalSeconds: 30, HealthyThresholdCount: 5, UnhealthyThresholdCount: 2, LoadBalancerArns: [expect.stringContaining(':loadbalancer/app/web/')] });
    expect(balancers.map((b) => ({ arn: b.LoadBalancerArn, type: b.Type, zones: b.AvailabilityZones?.map((z) => z.ZoneName) }))).toEqual([
      { arn: nlb, type: 'network', zones: ['us-east-1a', 'us-east-1b'] },
      { arn: alb, type: 'application', zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] },
    ]);
    expect((await elb.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: nlb }))).TargetGroups?.map((g) => g.TargetGroupArn)).toEqual([tcp]);
    await expect(elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [nlb.replace(/[0-9a-f]{16}$/, '0000000000000000')] }))).rejects.toMatchObject({
      name: 'LoadBalancerNotFoundException',
    });
  });

  it('A6, ELB rule "unused: the target is in an Availability Zone that is not enabled for the load balancer": never checked, never healthy', async () => {
    const { fleet, elb, clock } = quietFleet();
    const alb = fleet.addLoadBalancer({ name: 'web', availabilityZones: ['us-east-1a', 'us-east-1b'] });
    const tg = fleet.addTargetGroup({ name: 'web', app: 'web', loadBalancerArn: alb });
    const inZone = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'], availabilityZone: 'us-east-1b' });
    const outOfZone = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'], availabilityZone: 'us-east-1c' });

    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: inZone }, { Id: outOfZone }] }));
    clock.advance(600 * SECOND);
    const health = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? [];

    expect(health.map((h) => [h.Target?.Id, h.TargetHealth])).toEqual([
      [inZone, { State: 'healthy' }],
      [outOfZone, { State: 'unused', Reason: 'Target.NotInUse', Description: 'Target is in an Availability Zone that is not enabled for the load balancer' }],
    ]);
  });
});
