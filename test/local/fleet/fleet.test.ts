// The fleet as a whole: errors as the SDK surfaces them, throttling, call counts, API latency,
// unsupported commands and services, and the snapshot.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstanceStatusCommand, DescribeInstancesCommand, EC2Client, EC2ServiceException, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, SendCommandCommand, SSMServiceException } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { attachFleet, SimulatedFleet } from '../../../local/fleet/index.ts';
import { clientsFor, quietFleet } from './clients.ts';

describe('throttling faults', () => {
  it('surface as ThrottlingException from SSM, on the first attempt, then calls succeed again', async () => {
    const { fleet, ssm } = quietFleet();
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.faults.throttle('ssm', 'SendCommand', 2);
    const send = () => ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript' }));

    const first = send();
    await expect(first).rejects.toBeInstanceOf(SSMServiceException);
    await expect(first).rejects.toMatchObject({
      name: 'ThrottlingException',
      $fault: 'client',
      $retryable: { throttling: true },
      // The fleet answers before the SDK's retry middleware: no retries happened.
      $metadata: { attempts: 1, httpStatusCode: 400 },
    });
    await expect(send()).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(send()).resolves.toMatchObject({ Command: { DocumentName: 'AWS-RunShellScript' } });
    expect(fleet.callCounts().byCommand['ssm:SendCommand']).toBe(3);
  });

  it('surface as RequestLimitExceeded (503) from EC2, for every command when asked with *', async () => {
    const { fleet, ec2 } = quietFleet();
    fleet.faults.throttle('ec2', '*', 1);

    const throttled = ec2.send(new DescribeInstancesCommand({}));

    await expect(throttled).rejects.toBeInstanceOf(EC2ServiceException);
    await expect(throttled).rejects.toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });
    await expect(ec2.send(new DescribeInstancesCommand({}))).resolves.toMatchObject({ Reservations: [] });
  });
});

describe("EC2's request token buckets, when enforced (EC2 Developer Guide, \"Request throttling for the Amazon EC2 API\")", () => {
  it('a non-mutating action has 100 tokens, refilled at 20 per second, per action: the 101st DescribeInstances in one instant is RequestLimitExceeded, 20 more pass a second later', async () => {
    const { fleet, ec2, clock } = quietFleet();
    fleet.faults.enforceEc2RequestLimits();
    const describe = () => ec2.send(new DescribeInstancesCommand({}));

    const burst = await Promise.allSettled(Array.from({ length: 101 }, describe));
    expect(burst.filter((r) => r.status === 'fulfilled')).toHaveLength(100);
    expect(burst.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(['RequestLimitExceeded']);
    // Another action has its own bucket.
    await expect(ec2.send(new DescribeInstanceStatusCommand({}))).resolves.toBeDefined();

    clock.advance(1_000);
    const later = await Promise.allSettled(Array.from({ length: 21 }, describe));
    expect(later.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
    expect(fleet.faults.refusedRequests()).toEqual({ DescribeInstances: 2 });
  });

  it('are not enforced unless asked', async () => {
    const { fleet, ec2 } = quietFleet();
    const burst = await Promise.allSettled(Array.from({ length: 150 }, () => ec2.send(new DescribeInstancesCommand({}))));
    expect(burst.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(fleet.faults.refusedRequests()).toEqual({});
  });
});

describe('the fleet behind SDK clients', () => {
  it('charges each API call its virtual latency, so elapsed time reflects call counts', async () => {
    const fleet = new SimulatedFleet({ latency: { apiCallMs: { ec2: 150, ssm: 80 } } });
    const { ec2, ssm } = clientsFor(fleet);
    const start = fleet.clock.nowMs();

    await ec2.send(new DescribeInstancesCommand({}));
    await ec2.send(new DescribeInstancesCommand({}));
    await ssm.send(new GetCommandInvocationCommand({ CommandId: 'c', InstanceId: 'i-0123456789abcdef0' })).catch(() => undefined);

    expect(fleet.clock.nowMs() - start).toBe(380);
    expect(fleet.callCounts()).toEqual({
      total: 3,
      byService: { ec2: 2, ssm: 1 },
      byCommand: { 'ec2:DescribeInstances': 2, 'ssm:GetCommandInvocation': 1 },
    });
  });

  it('names an unsimulated command in its error', async () => {
    const { ec2 } = quietFleet();

    await expect(ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, ImageId: 'ami-0123456789abcdef0' }))).rejects.toThrow(
      /does not implement ec2:RunInstances/,
    );
  });

  it('refuses to attach to a service it does not simulate', () => {
    const fleet = new SimulatedFleet();

    expect(() => attachFleet(new DynamoDBClient({ region: 'us-east-1' }), fleet)).toThrow(/does not simulate the 'DynamoDB' service/);
  });

  it('can be attached twice to the same client without answering twice', async () => {
    const fleet = new SimulatedFleet();
    const ec2 = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

    attachFleet(attachFleet(ec2, fleet), fleet);
    await ec2.send(new DescribeInstancesCommand({}));

    expect(fleet.callCounts().total).toBe(1);
  });

  it('snapshots instances, applications, target groups and addresses for assertions', () => {
    const { fleet } = quietFleet();
    const a = fleet.addInstance({ instanceType: 'm7i.large', tags: { pool: 'p' }, apps: ['web', 'cache'] });
    const b = fleet.addInstance({ instanceType: 'c7i.xlarge', state: 'stopped', installedApps: ['web'] });
    const tg = fleet.addTargetGroup({ name: 'web', app: 'web' });
    fleet.registerHealthy(tg, [a]);
    const { allocationId } = fleet.addElasticIp({ instanceId: a });

    const snapshot = fleet.snapshot();

    expect(snapshot.apps).toEqual({ web: [a], cache: [a] });
    expect(snapshot.instances.map((i) => [i.instanceId, i.state, i.appsInstalled])).toEqual([
      [a, 'running', ['web', 'cache']],
      [b, 'stopped', ['web']],
    ]);
    expect(snapshot.instances[0]?.tags).toEqual({ pool: 'p' });
    expect(snapshot.targetGroups).toEqual([{ arn: tg, name: 'web', app: 'web', targets: [{ id: a, port: 80, state: 'healthy' }] }]);
    expect(snapshot.elasticIps[0]).toMatchObject({ allocationId, instanceId: a, routed: true });
    expect(tg).toMatch(/^arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup\/web\/[0-9a-f]{16}$/);
  });

  it('fails a host without an API call: apps down, status checks impaired, still running', () => {
    const { fleet } = quietFleet();
    const id = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });

    fleet.failInstance(id);

    expect(fleet.snapshot().instances[0]).toMatchObject({ state: 'running', statusChecks: 'impaired', appsRunning: [] });
  });

  it('generates the same ids for the same seed', () => {
    const ids = (seed: number) => {
      const fleet = new SimulatedFleet({ seed });
      return [fleet.addInstance({ instanceType: 't3.medium' }), fleet.addInstance({ instanceType: 't3.medium' })];
    };

    expect(ids(7)).toEqual(ids(7));
    expect(ids(7)).not.toEqual(ids(8));
  });
});
