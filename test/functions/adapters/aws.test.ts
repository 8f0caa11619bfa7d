// Adapters over EC2 and SSM, and the error mapping, with mocked clients.
import { DescribeAddressesCommand, DescribeInstanceStatusCommand, DescribeInstanceTypesCommand, DescribeInstancesCommand, DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, InvocationDoesNotExist, ListCommandsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../../core/errors.ts';
import { LEDGER_ATTRIBUTE_PREFIX, recordLedger } from '../../../functions/adapters/command-ledger.ts';
import { addressHolder } from '../../../functions/adapters/addresses.ts';
import { advanceDocuments, commandComment, commandTag } from '../../../functions/adapters/commands.ts';
import { instanceTypeFacts, listPoolMembers, statusChecksPass } from '../../../functions/adapters/fleet.ts';
import { rootVolumeClientToken } from '../../../functions/adapters/root-volume.ts';
import { isConditionFailure, isThrottling, toNamedError } from '../../../functions/aws-errors.ts';
import { whereRuns } from '../../../functions/pool-view.ts';
import { NEW, NOW, OLD, OTHER, TABLES, ec2Instance, ledgerHas, makeTestDeps, nodeId, testConfig, type TestContext } from '../fixtures.ts';

describe('fleet adapter', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  it('lists pool members by tag across pages, each with its pool', async () => {
    t.ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [ec2Instance(OLD), ec2Instance(NEW, { pool: 'hosts' })] }], NextToken: 'page-2' })
      .resolves({ Reservations: [{ Instances: [ec2Instance(OTHER, { pool: 'backup', state: 'stopped' })] }] });
    const members = await listPoolMembers(t.deps.ec2, testConfig().pools);

    expect(members.map((m) => [m.instance.instanceId, m.pool.name, m.instance.state])).toEqual([
      [OLD, 'general', 'running'],
      [NEW, 'hosts', 'running'],
      [OTHER, 'backup', 'stopped'],
    ]);
    expect(t.ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: 'tag:rapid-failover:pool', Values: ['general', 'hosts', 'backup'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
    expect(t.ec2).toHaveReceivedNthCommandWith(DescribeInstancesCommand, 2, { NextToken: 'page-2' });
  });

  it('A6: describes each instance type once per client and reads its hardware features', async () => {
    t.ec2.on(DescribeInstanceTypesCommand).resolves({
      InstanceTypes: [
        {
          InstanceType: 'g5.xlarge',
          VCpuInfo: { DefaultVCpus: 4 },
          MemoryInfo: { SizeInMiB: 16_384 },
          ProcessorInfo: { SupportedArchitectures: ['x86_64', 'i386'] },
          GpuInfo: { Gpus: [{ Name: 'A10G', Count: 1 }] },
          InstanceStorageInfo: { NvmeSupport: 'required' },
          NetworkInfo: { EfaSupported: false },
        },
      ],
    });
    const first = await instanceTypeFacts(t.deps.ec2, ['g5.xlarge']);
    const second = await instanceTypeFacts(t.deps.ec2, ['g5.xlarge', 'g5.xlarge']);
    expect(first.get('g5.xlarge')).toEqual({ instanceType: 'g5.xlarge', vcpu: 4, memoryMiB: 16_384, architectures: ['x86_64'], features: ['gpu', 'nvme'] });
    expect(second.get('g5.xlarge')).toEqual(first.get('g5.xlarge'));
    expect(t.ec2).toHaveReceivedCommandTimes(DescribeInstanceTypesCommand, 1);
  });

  it('counts a node unhealthy only when a status check is impaired', async () => {
    t.ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [
        { InstanceId: OLD, InstanceStatus: { Status: 'impaired' }, SystemStatus: { Status: 'ok' } },
        { InstanceId: NEW, InstanceStatus: { Status: 'initializing' }, SystemStatus: { Status: 'ok' } },
      ],
    });
    const health = await statusChecksPass(t.deps.ec2, [OLD, NEW, OTHER]);
    expect([...health]).toEqual([
      [OLD, false],
      [NEW, true],
      [OTHER, true],
    ]);
  });

  it('over 100 nodes, asks only for impaired instances: two filtered calls, whatever the pool size', async () => {
    const pool = Array.from({ length: 2_500 }, (_, i) => nodeId(i + 10));
    t.ec2
      .on(DescribeInstanceStatusCommand, { Filters: [{ Name: 'instance-status.status', Values: ['impaired'] }] })
      .resolves({ InstanceStatuses: [{ InstanceId: pool[7], InstanceStatus: { Status: 'impaired' }, SystemStatus: { Status: 'ok' } }] })
      .on(DescribeInstanceStatusCommand, { Filters: [{ Name: 'system-status.status', Values: ['impaired'] }] })
      .resolves({ InstanceStatuses: [{ InstanceId: pool[2_000], InstanceStatus: { Status: 'ok' }, SystemStatus: { Status: 'impaired' } }] });

    const health = await statusChecksPass(t.deps.ec2, pool);

    expect(t.ec2).toHaveReceivedCommandTimes(DescribeInstanceStatusCommand, 2);
    expect([...health.values()].filter((ok) => !ok)).toHaveLength(2);
    expect(health.get(pool[7]!)).toBe(false);
    expect(health.get(pool[2_000]!)).toBe(false);
    expect(health.get(pool[8]!)).toBe(true);
  });
});

describe('commands adapter', () => {
  let t: TestContext;
  const run = (documents = testConfig().applications[0]!.provisioning.documents) => ({ instanceId: NEW, documents, incidentId: 'x'.repeat(80), purpose: 'preempt:a-forty-character-application-name-xx' });
  const commands = () => ({ ssm: t.deps.ssm, ledger: recordLedger(t.deps.ddb, TABLES.records, { app: 'web', incidentId: 'x'.repeat(80) }), now: NOW });
  const tagOf = (index: number) => commandTag('x'.repeat(80), run().purpose, index, NEW);

  beforeEach(() => {
    t = makeTestDeps();
  });

  it('keeps the Comment within SSM\'s 100 characters, tag first', () => {
    const comment = commandComment(run(), 1);
    expect(comment.length).toBeLessThanOrEqual(100);
    expect(comment).toMatch(/^rf-[0-9a-f]{16} /);
    expect(commandComment(run(), 0)).not.toBe(comment);
  });

  it('an intent with no recorded id (a crash after SendCommand): finds the command by its Comment tag, on a later page of ListCommands, and records it', async () => {
    const intentAt = new Date(NOW.getTime() - 10_000).toISOString();
    t.ddb.on(GetCommand, { TableName: TABLES.records }).resolves({
      Item: { [`${LEDGER_ATTRIBUTE_PREFIX}${tagOf(0)}`]: { instanceId: NEW, purpose: run().purpose, index: 0, documentName: 'AWS-RunShellScript', intentAt } },
    });
    t.ssm
      .on(ListCommandsCommand)
      .resolvesOnce({ Commands: [{ CommandId: 'someone-elses', Comment: 'manual run' }], NextToken: 'next' })
      .resolves({ Commands: [{ CommandId: 'c0', Status: 'InProgress', Comment: commandComment(run(), 0), RequestedDateTime: new Date(intentAt) }] });
    t.ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress' });

    expect(await advanceDocuments(commands(), run())).toMatchObject({ status: 'pending', index: 0, commandId: 'c0' });
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(t.ssm).toHaveReceivedNthCommandWith(ListCommandsCommand, 2, { InstanceId: NEW, NextToken: 'next' });
    const recorded = t.ddb.commandCalls(UpdateCommand, { TableName: TABLES.records }).map((c) => JSON.stringify(c.args[0].input.ExpressionAttributeValues));
    expect(recorded.some((values) => values.includes('"commandId":"c0"'))).toBe(true);
  });

  it('an invocation not visible yet right after sending is pending, not an error', async () => {
    ledgerHas(t, [{ instanceId: NEW, purpose: run().purpose, index: 0, commandId: 'c0' }], 'x'.repeat(80));
    t.ssm.on(GetCommandInvocationCommand).rejects(new InvocationDoesNotExist({ message: 'no', $metadata: {} }));
    expect(await advanceDocuments(commands(), run())).toMatchObject({ status: 'pending', index: 0, commandId: 'c0' });
  });

  it('A16: fills the incident placeholders so the application can resume its checkpoint from the old node', async () => {
    const documents = [{ name: 'AWS-RunShellScript', parameters: { commands: ['restore --from {{rapid-failover.fromNode}} --to {{rapid-failover.toNode}} # {{rapid-failover.app}}'] }, timeoutSeconds: 600 }];
    const context = { app: 'orders', incidentId: 'inc-1', fromNode: OLD, toNode: NEW };

    await advanceDocuments(commands(), { ...run(documents), context });

    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, { Parameters: { commands: [`restore --from ${OLD} --to ${NEW} # orders`], executionTimeout: ['600'] } });
  });

  it('no documents: done at once, without calling SSM', async () => {
    expect(await advanceDocuments(commands(), run([]))).toEqual({ status: 'done', commandIds: [] });
    expect(t.ssm.calls()).toHaveLength(0);
  });
});

describe('addresses adapter (C1)', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  // An empty InstanceId is no holder: moto answers "" for an unassociated Elastic IP (AWS leaves
  // the member out), and a caller asking "who holds it?" must get null, not "".
  it('C1: an Elastic IP whose InstanceId is empty, or an interface attached to no instance, has no holder', async () => {
    t.ec2.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-0123456789abcdef0', InstanceId: '' }] });
    t.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [{ NetworkInterfaceId: 'eni-0123456789abcdef0', Attachment: { InstanceId: '' } }] });

    expect(await addressHolder(t.deps.ec2, { kind: 'elastic-ip', allocationId: 'eipalloc-0123456789abcdef0' })).toBeNull();
    expect(await addressHolder(t.deps.ec2, { kind: 'secondary-private-ip', ipAddress: '10.0.1.100' })).toBeNull();
  });
});

describe('error mapping and small helpers', () => {
  it('recognises throttling by name, by the SDK retry marker and in transaction cancellation reasons', () => {
    for (const name of ['ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'ProvisionedThroughputExceededException']) {
      expect(isThrottling(Object.assign(new Error('x'), { name }))).toBe(true);
    }
    expect(isThrottling({ name: 'Other', $retryable: { throttling: true } })).toBe(true);
    const cancelled = { name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'None' }, { Code: 'ThrottlingError' }] };
    expect(isThrottling(cancelled)).toBe(true);
    expect(isConditionFailure(cancelled)).toBe(false);
    expect(isConditionFailure({ name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] })).toBe(true);
    expect(toNamedError(Object.assign(new Error('slow'), { name: 'RequestLimitExceeded' }))).toMatchObject({ name: ErrorNames.AwsThrottled });
    const other = new Error('boom');
    expect(toNamedError(other)).toBe(other);
  });

  it('A4: root-volume client tokens are deterministic and within EC2\'s 64 characters', () => {
    const long = rootVolumeClientToken('y'.repeat(80), NEW);
    expect(long.length).toBeLessThanOrEqual(64);
    expect(rootVolumeClientToken('y'.repeat(80), NEW)).toBe(long);
    expect(rootVolumeClientToken('inc', NEW)).toBe(`inc-${NEW}`);
  });

  it('C2/C5: an application runs where its state says, else on its preferred node; offline, nowhere', () => {
    const web = testConfig().applications[0]!;
    expect(whereRuns(web, null)).toBe(OLD);
    expect(whereRuns(web, { app: 'web', currentNode: nodeId(7) })).toBe(nodeId(7));
    expect(whereRuns(web, { app: 'web', currentNode: nodeId(7), offline: true })).toBeNull();
  });
});
