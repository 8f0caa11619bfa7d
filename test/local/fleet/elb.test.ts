// Target health in virtual time through a real ElasticLoadBalancingV2Client.
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
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
  it('goes initial → healthy after interval × healthy threshold when the application runs', async () => {
    const { elb, clock, tg, id, health } = setup();

    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: id }] }));

    expect(await health()).toEqual({ State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' });
    clock.advance(30 * SECOND);
    expect((await health())?.Reason).toBe('Elb.InitialHealthChecking');
    clock.advance(119 * SECOND);
    expect((await health())?.State).toBe('initial');
    clock.advance(1 * SECOND);
    expect(await health()).toEqual({ State: 'healthy' });
    const all = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }));
    expect(all.TargetHealthDescriptions).toEqual([{ Target: { Id: id, Port: 8080 }, HealthCheckPort: '8080', TargetHealth: { State: 'healthy' } }]);
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
    clock.advance(150 * SECOND);
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
