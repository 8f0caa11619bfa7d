// SSM Run Command through a real SSMClient: lifecycle, document effects, faults, errors; the
// SSM Agent's registration (DescribeInstanceInformation), delivery and execution timeouts,
// CancelCommand and ListCommands' eventual consistency.
import { CreateReplaceRootVolumeTaskCommand, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvocationDoesNotExist,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { quietFleet, SECOND } from './clients.ts';

const latency = { ssm: { deliveryMs: 1 * SECOND, documentRunMs: 5 * SECOND, commandListingLagMs: 0 } };

describe('SSM Run Command', () => {
  it('runs a command Pending → InProgress → Success and applies the document effect', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.defineDocument('install-web', { installs: ['web'], runMs: 30 * SECOND });

    const { Command } = await ssm.send(
      new SendCommandCommand({ InstanceIds: [id], DocumentName: 'install-web', Comment: 'incident-7 provision', Parameters: { version: ['2'] } }),
    );
    const status = async () => (await ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }))).Status;

    expect(Command?.Status).toBe('Pending');
    expect(await status()).toBe('Pending');
    clock.advance(1 * SECOND);
    expect(await status()).toBe('InProgress');
    expect(fleet.snapshot().apps).toEqual({});
    clock.advance(30 * SECOND);
    const invocation = await ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }));
    expect(invocation).toMatchObject({ Status: 'Success', ResponseCode: 0, DocumentName: 'install-web', Comment: 'incident-7 provision' });
    expect(fleet.snapshot().apps).toEqual({ web: [id] });
    expect(fleet.snapshot().instances[0]?.documents).toEqual([
      { documentName: 'install-web', commandId: Command!.CommandId, status: 'Success', requestedAt: expect.any(String) },
    ]);
  });

  it('lists commands by instance and document, with their Comment', async () => {
    const { fleet, ssm } = quietFleet({ latency });
    const a = fleet.addInstance({ instanceType: 'm7i.large' });
    const b = fleet.addInstance({ instanceType: 'm7i.large' });
    await ssm.send(new SendCommandCommand({ InstanceIds: [a], DocumentName: 'AWS-RunShellScript', Comment: 'first', Parameters: { commands: ['true'] } }));
    const { Command } = await ssm.send(new SendCommandCommand({ InstanceIds: [b], DocumentName: 'start-web', Comment: 'second' }));

    const onB = await ssm.send(new ListCommandsCommand({ InstanceId: b }));
    const byDocument = await ssm.send(new ListCommandsCommand({ Filters: [{ key: 'DocumentName', value: 'AWS-RunShellScript' }] }));
    const byId = await ssm.send(new ListCommandsCommand({ CommandId: Command!.CommandId }));

    expect(onB.Commands?.map((c) => c.Comment)).toEqual(['second']);
    expect(byDocument.Commands?.map((c) => c.Comment)).toEqual(['first']);
    expect(byId.Commands?.[0]).toMatchObject({ CommandId: Command!.CommandId, InstanceIds: [b], Comment: 'second', DocumentName: 'start-web' });
  });

  it('throws InvocationDoesNotExist (the modeled SDK exception) for an unknown invocation', async () => {
    const { fleet, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });

    const unknown = ssm.send(new GetCommandInvocationCommand({ CommandId: '00000000-0000-4000-8000-000000000000', InstanceId: id }));

    await expect(unknown).rejects.toBeInstanceOf(InvocationDoesNotExist);
    await expect(unknown).rejects.toMatchObject({ name: 'InvocationDoesNotExist', $fault: 'client' });
  });

  it('answers InvocationDoesNotExist right after SendCommand under the visibility-lag fault', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.faults.invocationsVisibleAfter(500);
    const { Command } = await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript' }));
    const get = () => ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }));

    await expect(get()).rejects.toMatchObject({ name: 'InvocationDoesNotExist' });
    clock.advance(500);
    expect((await get()).Status).toBe('Pending');
  });

  it('fails a command on a node whose provisioning is made to fail, without the effect', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.defineDocument('install-web', { installs: ['web'] });
    fleet.faults.commandFails(id, { documentName: 'install-web' });

    const { Command } = await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'install-web' }));
    clock.advance(10 * SECOND);

    const invocation = await ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }));
    expect(invocation).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
    expect(invocation.StandardErrorContent).toMatch(/fault injected/);
    expect(fleet.snapshot().apps).toEqual({});
  });

  it('times a hanging command out after its executionTimeout', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.faults.commandFails(id, { mode: 'hang' });

    const { Command } = await ssm.send(
      new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript', Parameters: { commands: ['sleep 999'], executionTimeout: ['120'] } }),
    );
    const invocation = () => ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }));
    clock.advance(100 * SECOND);
    expect((await invocation()).Status).toBe('InProgress');
    clock.advance(21 * SECOND);

    expect(await invocation()).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
  });

  it('fails a document that starts an application the node does not have', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.defineDocument('start-web', { starts: ['web'] });

    const { Command } = await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'start-web' }));
    clock.advance(10 * SECOND);

    const invocation = await ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }));
    expect(invocation.Status).toBe('Failed');
    expect(invocation.StandardErrorContent).toMatch(/web is not installed/);
  });

  it('rejects a command for a stopped instance with InvalidInstanceId', async () => {
    const { fleet, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped' });

    await expect(ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript' }))).rejects.toMatchObject({
      name: 'InvalidInstanceId',
    });
  });

  it('rejects a TimeoutSeconds outside 30 s to 30 days (the delivery timeout, SendCommand API)', async () => {
    const { fleet, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });

    await expect(ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript', TimeoutSeconds: 29 }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

/** The one DescribeInstanceInformation entry for `id`, or undefined when it is not listed. */
async function agentOf(ssm: SSMClient, id: string) {
  const out = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [id] }] }));
  return out.InstanceInformationList?.[0];
}

const bootLatency = {
  ec2: { instanceStartMs: 40 * SECOND, bootToServicesMs: 15 * SECOND, rootVolumePendingMs: 5 * SECOND, rootVolumeInProgressMs: 15 * SECOND },
  ssm: { ...latency.ssm, agentRegistrationMs: 10 * SECOND },
};

describe('SSM Agent registration (DescribeInstanceInformation)', () => {
  it('lists a running managed node Online, in the SDK shape, filtered by instance id', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency: bootLatency });
    const id = fleet.addInstance({ instanceType: 'm7i.large', tags: { team: 'web' } });
    fleet.addInstance({ instanceType: 'm7i.large' });

    const info = await agentOf(ssm, id);
    const byTag = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'tag:team', Values: ['web'] }] }));

    expect(info).toMatchObject({
      InstanceId: id,
      PingStatus: 'Online',
      PlatformType: 'Linux',
      ResourceType: 'EC2Instance',
      SourceType: 'AWS::EC2::Instance',
      IPAddress: expect.stringMatching(/^10\.0\.\d+\.\d+$/),
    });
    expect(info?.LastPingDateTime).toEqual(new Date(clock.nowMs()));
    expect(byTag.InstanceInformationList?.map((i) => i.InstanceId)).toEqual([id]);
  });

  it('A2: after StartInstances, SendCommand fails with InvalidInstanceId until the agent has registered and is Online', async () => {
    const { fleet, clock, ec2, ssm } = quietFleet({ latency: bootLatency });
    const id = fleet.addInstance({ instanceType: 'm7i.large', state: 'stopped' });
    const send = () => ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript', Parameters: { commands: ['true'] } }));

    expect(await agentOf(ssm, id)).toBeUndefined(); // a stopped node is not listed (DescribeInstanceInformation API)
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    clock.advance(40 * SECOND); // running: EC2 is done, the OS is booting
    expect(fleet.snapshot().instances[0]?.state).toBe('running');
    expect((await agentOf(ssm, id))?.PingStatus).toBe('ConnectionLost');
    await expect(send()).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    clock.advance(15 * SECOND + 10 * SECOND - 1);
    await expect(send()).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    clock.advance(1);

    expect((await agentOf(ssm, id))?.PingStatus).toBe('Online');
    expect((await send()).Command?.Status).toBe('Pending');
  });

  it('A4: a root-volume swap reboots the node; its agent is ConnectionLost until it registers again after the boot', async () => {
    const { fleet, clock, ec2, ssm } = quietFleet({ latency: bootLatency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });

    await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ClientToken: 'swap-1' }));
    clock.advance(5 * SECOND); // in-progress: rebooting
    expect((await agentOf(ssm, id))?.PingStatus).toBe('ConnectionLost');
    clock.advance(15 * SECOND + 15 * SECOND); // succeeded, OS booted
    expect((await agentOf(ssm, id))?.PingStatus).toBe('ConnectionLost');
    clock.advance(10 * SECOND);
    expect((await agentOf(ssm, id))?.PingStatus).toBe('Online');
  });

  it('answers InvalidInstanceId for an unknown instance and refuses Filters with the deprecated filter list', async () => {
    const { fleet, ssm } = quietFleet({ latency: bootLatency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });

    await expect(agentOf(ssm, 'i-0000000000000dead')).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    await expect(
      ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: [id] }],
          InstanceInformationFilterList: [{ key: 'PingStatus', valueSet: ['Online'] }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidFilterKey' });
  });
});

describe('SSM timeouts, cancellation and listing', () => {
  it('ends a document that runs past its executionTimeout as TimedOut (ExecutionTimedOut), without its effect', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.defineDocument('AWS-RunShellScript', { installs: ['web'], runMs: 300 * SECOND });

    const { Command } = await ssm.send(
      new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript', TimeoutSeconds: 60, Parameters: { commands: ['install'], executionTimeout: ['120'] } }),
    );
    clock.advance(1 * SECOND + 120 * SECOND);

    expect(await ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }))).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'ExecutionTimedOut',
    });
    clock.advance(600 * SECOND);
    expect(fleet.snapshot().apps).toEqual({});
    expect(Command?.ExpiresAfter).toEqual(new Date(Date.parse('2030-01-01T00:00:00Z') + (60 + 120) * SECOND));
  });

  it('rejects an executionTimeout AWS-RunShellScript does not allow (1-172800 s)', async () => {
    const { fleet, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });

    await expect(
      ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript', Parameters: { commands: ['x'], executionTimeout: ['172801'] } })),
    ).rejects.toMatchObject({ name: 'InvalidParameters' });
  });

  it('a command the agent never picks up (the node stopped) is DeliveryTimedOut after TimeoutSeconds and never runs', async () => {
    const { fleet, clock, ec2, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.defineDocument('install-web', { installs: ['web'] });

    const { Command } = await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'install-web', TimeoutSeconds: 30 }));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const invocation = () => ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }));
    clock.advance(29 * SECOND);
    expect((await invocation()).Status).toBe('Pending');
    clock.advance(1 * SECOND);

    expect(await invocation()).toMatchObject({ Status: 'TimedOut', StatusDetails: 'DeliveryTimedOut' });
    const [listed] = (await ssm.send(new ListCommandsCommand({ CommandId: Command!.CommandId }))).Commands ?? [];
    expect(listed).toMatchObject({ DeliveryTimedOutCount: 1, ErrorCount: 0, CompletedCount: 1 });
    expect(fleet.snapshot().instances[0]?.appsInstalled).toEqual([]);
  });

  it('a command waiting for an agent that comes back Online within TimeoutSeconds is delivered then', async () => {
    // Delivery takes 10 s; the reboot starts 5 s after the swap is asked for, before the agent picks the command up.
    const { fleet, clock, ec2, ssm } = quietFleet({ latency: { ...bootLatency, ssm: { ...bootLatency.ssm, deliveryMs: 10 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.defineDocument('install-web', { installs: ['web'], runMs: 5 * SECOND });

    const { Command } = await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'install-web', TimeoutSeconds: 600 }));
    await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ClientToken: 'swap-1' }));
    clock.advance(54 * SECOND); // Online again at 5 + 15 + 15 + 10 = 45 s; picked up 10 s later
    expect((await ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }))).Status).toBe('Pending');
    clock.advance(1 * SECOND + 5 * SECOND);

    expect(await ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }))).toMatchObject({ Status: 'Success' });
  });

  it('CancelCommand: InProgress → Cancelling → Cancelled, and the document never takes effect', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    fleet.defineDocument('install-web', { installs: ['web'], runMs: 60 * SECOND });
    const { Command } = await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'install-web' }));
    const invocation = () => ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId, InstanceId: id }));
    clock.advance(10 * SECOND);
    expect((await invocation()).Status).toBe('InProgress');

    await ssm.send(new CancelCommandCommand({ CommandId: Command!.CommandId, InstanceIds: [id] }));
    expect((await invocation()).Status).toBe('Cancelling');
    clock.advance(1 * SECOND);
    expect((await invocation()).Status).toBe('Cancelled');
    clock.advance(120 * SECOND);

    expect((await invocation()).Status).toBe('Cancelled');
    expect(fleet.snapshot().apps).toEqual({});
  });

  it('CancelCommand: a Pending command is Cancelled at once; a finished one stays as it ended; an unknown id is InvalidCommandId', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    const pending = (await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript' }))).Command!.CommandId!;
    await ssm.send(new CancelCommandCommand({ CommandId: pending }));
    const done = (await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript' }))).Command!.CommandId!;
    clock.advance(10 * SECOND);
    await ssm.send(new CancelCommandCommand({ CommandId: done }));
    const status = async (commandId: string) => (await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }))).Status;

    expect(await status(pending)).toBe('Cancelled');
    expect(await status(done)).toBe('Success');
    await expect(ssm.send(new CancelCommandCommand({ CommandId: '00000000-0000-4000-8000-000000000000' }))).rejects.toMatchObject({ name: 'InvalidCommandId' });
  });

  it('ListCommands is eventually consistent: a new command is listed only after the listing lag', async () => {
    const { fleet, clock, ssm } = quietFleet({ latency: { ssm: { ...latency.ssm, commandListingLagMs: 5 * SECOND } } });
    const id = fleet.addInstance({ instanceType: 'm7i.large' });
    await ssm.send(new SendCommandCommand({ InstanceIds: [id], DocumentName: 'AWS-RunShellScript', Comment: 'rf-1 provision#0' }));
    const listed = async () => (await ssm.send(new ListCommandsCommand({ InstanceId: id }))).Commands?.map((c) => c.Comment);

    clock.advance(4 * SECOND);
    expect(await listed()).toEqual([]);
    clock.advance(1 * SECOND);
    expect(await listed()).toEqual(['rf-1 provision#0']);
  });
});

