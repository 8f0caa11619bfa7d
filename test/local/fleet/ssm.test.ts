// SSM Run Command through a real SSMClient: lifecycle, document effects, faults, errors.
import { GetCommandInvocationCommand, InvocationDoesNotExist, ListCommandsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { quietFleet, SECOND } from './clients.ts';

const latency = { ssm: { deliveryMs: 1 * SECOND, documentRunMs: 5 * SECOND } };

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
    expect(fleet.snapshot().instances[0]?.documents).toEqual([{ documentName: 'install-web', commandId: Command!.CommandId, status: 'Success' }]);
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
});
