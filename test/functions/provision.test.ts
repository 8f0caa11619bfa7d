import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  CreateReplaceRootVolumeTaskCommand,
  DescribeInstancesCommand,
  DescribeReplaceRootVolumeTasksCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  ListCommandsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import type { WorkflowState } from '../../core/workflow-state.ts';
import { AGENT_POLL_SECONDS, DELIVERY_TIMEOUT_SECONDS, commandComment } from '../../functions/adapters/commands.ts';
import { rootVolumeClientToken } from '../../functions/adapters/root-volume.ts';
import { AGENT_FIRST_LOOK_SECONDS, INSTANCE_START_WAIT_SECONDS, makeHandler } from '../../functions/handlers/provision.ts';
import { INCIDENT, NEW, NOW, OLD, TABLES, claimItem, ec2Instance, ledgerHas, makeTestDeps, reservations, workflowState, type TestContext, waitOf } from './fixtures.ts';

function leaseHeld(t: TestContext, provisionStartedAt = NOW.toISOString()) {
  t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { provisionStartedAt }) });
}

function instanceIs(t: TestContext, state: string) {
  t.ec2.on(DescribeInstancesCommand).resolves(reservations(ec2Instance(NEW, { state })));
}

/** The ledger recorded these commands on NEW, sent by earlier polls of this step; SSM reports these statuses. */
function commandsOnNode(t: TestContext, purpose: string, statuses: string[], sentAt = NOW.toISOString()) {
  ledgerHas(t, statuses.map((_, index) => ({ instanceId: NEW, purpose, index, commandId: `cmd-${index}`, sentAt })));
  statuses.forEach((status, index) => {
    t.ssm.on(GetCommandInvocationCommand, { CommandId: `cmd-${index}` }).resolves({ Status: status as never, StandardErrorContent: status === 'Failed' ? 'exit 3: web.service failed' : '' });
  });
}

const search = (overrides: Partial<WorkflowState> = {}) => workflowState({ app: 'search', ...overrides });

describe('provision', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    leaseHeld(t);
  });

  it('A2: starts a stopped node first and waits for its running event (EC2 Instance State-change Notification), sending nothing yet', async () => {
    instanceIs(t, 'stopped');
    const wait = await waitOf(makeHandler(t.deps)(workflowState()));
    expect(t.ec2).toHaveReceivedCommandWith(StartInstancesCommand, { InstanceIds: [NEW] });
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
    // No longer than a start takes (INSTANCE_START_WAIT_SECONDS), not the whole provisioning budget (600 s for activate): a lost event costs that much.
    expect(wait.event).toEqual({ key: `ec2:${NEW}`, since: NOW.toISOString(), expect: ['running', 'stopped'], then: 'again', timeoutSeconds: INSTANCE_START_WAIT_SECONDS });
  });

  it('C9: on a failure trigger the first poll starts stopping the failed host beside provisioning; later polls leave it to the shift', async () => {
    instanceIs(t, 'running');
    t.ec2.on(DescribeInstancesCommand, { InstanceIds: [OLD] }).resolves(reservations(ec2Instance(OLD, { state: 'running' })));
    t.ddb.on(QueryCommand).resolves({ Items: [] });

    await makeHandler(t.deps)(workflowState()).catch(() => undefined);
    expect(t.ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [OLD], Force: true });

    t.ec2.resetHistory();
    leaseHeld(t, new Date(NOW.getTime() - 10_000).toISOString());
    await makeHandler(t.deps)(workflowState()).catch(() => undefined);
    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  it('C9: a performance trigger never stops the old host early (it still serves while the new node is prepared)', async () => {
    instanceIs(t, 'running');
    t.ddb.on(QueryCommand).resolves({ Items: [] });
    const performance = { kind: 'performance' as const, source: 'rapid-failover-web-performance', reason: 'slow', observedAt: '2025-03-01T11:59:00.000Z' };

    await makeHandler(t.deps)(workflowState({ trigger: performance })).catch(() => undefined);

    expect(t.ec2).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  it('A2/A3: on a running node whose agent is Online, records the intent, sends the first document (tagged in its Comment), records its id, and waits for its end event', async () => {
    instanceIs(t, 'running');
    const wait = await waitOf(makeHandler(t.deps)(workflowState()));
    // Not the last document: the step runs again to send the next one. 120 s delivery + 600 s run + 60 s grace.
    expect(wait.event).toEqual({ key: `ssm:cmd-sent-1:${NEW}`, since: NOW.toISOString(), expect: ['Success'], then: 'again', timeoutSeconds: 600 });
    expect(t.ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: [NEW],
      DocumentName: 'AWS-RunShellScript',
      // timeoutSeconds (600 by default) bounds the run: AWS-RunShellScript's executionTimeout.
      Parameters: { commands: ['systemctl start web'], executionTimeout: ['600'] },
      TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
      Comment: commandComment({ instanceId: NEW, incidentId: INCIDENT, purpose: 'provision' }, 0),
    });
    const ledgerWrites = t.ddb.commandCalls(UpdateCommand, { TableName: TABLES.records }).map((c) => JSON.stringify(c.args[0].input.ExpressionAttributeValues));
    expect(ledgerWrites.filter((w) => w.includes('"intentAt"') && !w.includes('commandId'))).toHaveLength(1);
    expect(ledgerWrites.filter((w) => w.includes('"commandId":"cmd-sent-1"'))).toHaveLength(1);
  });

  it('A2: waits for the SSM Agent to be Online after a start (DescribeInstanceInformation; no event says so: it looks again in 5 s), sending nothing before', async () => {
    instanceIs(t, 'running');
    t.ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: NEW, PingStatus: 'ConnectionLost' }] });
    const wait = await waitOf(makeHandler(t.deps)(workflowState()));
    expect(wait.detail).toContain(`waiting for the SSM Agent on ${NEW} to come Online (it is ConnectionLost)`);
    expect(wait.until).toBe(new Date(NOW.getTime() + AGENT_POLL_SECONDS * 1000).toISOString());
    expect(t.ssm).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, { Filters: [{ Key: 'InstanceIds', Values: [NEW] }] });
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('A2: resumed by the started node\'s running event, it neither describes the node nor looks at its agent at once: the first look comes AGENT_FIRST_LOOK_SECONDS after the event, later ones every 5 s, still without DescribeInstances', async () => {
    const at = new Date(NOW.getTime() - 1_000).toISOString();
    const resumed = { key: `ec2:${NEW}`, status: 'running', at, via: 'event' };
    t.ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const handler = makeHandler(t.deps);

    const first = await handler({ ...workflowState(), resumed });
    expect(first.wait?.until).toBe(new Date(Date.parse(at) + AGENT_FIRST_LOOK_SECONDS * 1000).toISOString());
    expect(t.ssm).not.toHaveReceivedCommand(DescribeInstanceInformationCommand);

    const { wait: _wait, ...look } = first;
    const second = await handler(look);
    expect(second.wait?.until).toBe(new Date(NOW.getTime() + AGENT_POLL_SECONDS * 1000).toISOString());
    expect(t.ssm).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 1);
    expect(t.ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('re-entry finds the running command in the ledger and does not send it twice (no ListCommands)', async () => {
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['InProgress']);
    expect((await waitOf(makeHandler(t.deps)(workflowState()))).detail).toEqual(expect.stringContaining('InProgress'));
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(t.ssm).not.toHaveReceivedCommand(ListCommandsCommand);
    expect(t.ssm).toHaveReceivedCommandWith(GetCommandInvocationCommand, { CommandId: 'cmd-0', InstanceId: NEW });
  });

  it('C3: documents run in order: the second is sent only once the first succeeded', async () => {
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['Success']);
    await waitOf(makeHandler(t.deps)(workflowState()));
    expect(t.ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, { Parameters: { commands: ['/opt/web/warm-cache'], executionTimeout: ['600'] } });
  });

  it('the last document: provisioning is done but for its Success event, so the workflow goes straight on to join (then "next"); any other end fails the node', async () => {
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['Success', 'InProgress']);
    const state = await makeHandler(t.deps)(workflowState());
    expect(state.wait?.event).toEqual({ key: `ssm:cmd-1:${NEW}`, since: NOW.toISOString(), expect: ['Success'], failWith: ErrorNames.ProvisioningFailed, then: 'next', timeoutSeconds: 600 });
    expect(state.progress['provision.commands']).toBe('cmd-0,cmd-1');
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
    // Not done yet: the explanation must not claim a provisioning time that ended at the send.
    expect(state.explanation.at(-1)).toMatch(/^web activated \(A2\) on i-\w+ once SSM reports cmd-1 done$/);
  });

  it('resumed by the Success event of its last command, finishes without asking SSM again', async () => {
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['Success', 'InProgress']);
    const resumed = { key: `ssm:cmd-1:${NEW}`, status: 'Success', at: NOW.toISOString(), via: 'event' };
    const state = await makeHandler(t.deps)({ ...workflowState(), resumed });
    expect(state.wait).toBeUndefined();
    expect(state.resumed).toBeUndefined();
    expect(t.ssm).not.toHaveReceivedCommandWith(GetCommandInvocationCommand, { CommandId: 'cmd-1' });
  });

  it('finishes when every document succeeded, recording the command ids', async () => {
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['Success', 'Success']);
    const state = await makeHandler(t.deps)(workflowState());
    expect(state.progress['provision.commands']).toBe('cmd-0,cmd-1');
    expect(state.explanation.at(-1)).toContain('activated (A2)');
    expect(t.ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('a failed document is ProvisioningFailedError with what the command said', async () => {
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['Failed']);
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({
      name: ErrorNames.ProvisioningFailed,
      message: expect.stringContaining('web.service failed'),
    });
  });

  it('an agent that drops between the check and the send (InvalidInstanceId) is polled, not failed, and its intent is withdrawn', async () => {
    instanceIs(t, 'running');
    t.ssm.on(SendCommandCommand).rejects(new InvalidInstanceId({ message: 'not registered', $metadata: {} }));
    expect((await waitOf(makeHandler(t.deps)(workflowState()))).detail).toEqual(expect.stringContaining('not ready'));
    const removals = t.ddb.commandCalls(UpdateCommand, { TableName: TABLES.records }).filter((c) => c.args[0].input.UpdateExpression?.startsWith('REMOVE'));
    expect(removals).toHaveLength(1);
  });

  it('times out from when the step first started (durable on the claim), not from this poll, and cancels the command it gives up on', async () => {
    leaseHeld(t, new Date(NOW.getTime() - 601_000).toISOString());
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['InProgress'], new Date(NOW.getTime() - 590_000).toISOString());
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepTimeout });
    expect(t.ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'cmd-0', InstanceIds: [NEW] });
  });

  it('a command still running within the step budget is not cancelled', async () => {
    instanceIs(t, 'running');
    commandsOnNode(t, 'provision', ['InProgress']);
    await waitOf(makeHandler(t.deps)(workflowState()));
    expect(t.ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('a lost lease stops the step before it touches the node', async () => {
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.LeaseLost });
    expect(t.ec2.calls()).toHaveLength(0);
    expect(t.ssm.calls()).toHaveLength(0);
  });

  it('refuses a state without a claim (ValidationError) with no AWS calls', async () => {
    await expect(makeHandler(t.deps)(workflowState({ claim: null }))).rejects.toMatchObject({ name: ErrorNames.Validation });
    expect(t.ddb.calls()).toHaveLength(0);
  });

  describe('A4 boot-volume', () => {
    const token = rootVolumeClientToken(INCIDENT, NEW);

    it('A4: one CreateReplaceRootVolumeTask with a deterministic ClientToken (its answer carries the task state), then the task by id: one DescribeReplaceRootVolumeTasks per look, no second swap request', async () => {
      instanceIs(t, 'running');
      t.ec2.on(CreateReplaceRootVolumeTaskCommand).resolves({ ReplaceRootVolumeTask: { ReplaceRootVolumeTaskId: 'replacevol-1', TaskState: 'pending', StartTime: NOW.toISOString() } });
      t.ec2.on(DescribeReplaceRootVolumeTasksCommand).resolves({ ReplaceRootVolumeTasks: [{ ReplaceRootVolumeTaskId: 'replacevol-1', TaskState: 'in-progress', StartTime: new Date(NOW.getTime() - 30_000).toISOString() }] });
      const handler = makeHandler(t.deps);
      const first = await handler(search());
      expect(first.wait?.detail).toContain('pending');
      // No event for the task: first look when a swap typically ends (20 s after it started), later ones every 5 s.
      expect(first.wait?.until).toBe(new Date(NOW.getTime() + 20_000).toISOString());
      expect(first.progress['provision.rootVolumeTask']).toBe('replacevol-1');
      expect(t.ec2).not.toHaveReceivedCommand(DescribeReplaceRootVolumeTasksCommand);

      const { wait: _wait, ...again } = first;
      expect((await waitOf(handler(again))).until).toBe(new Date(NOW.getTime() + 5_000).toISOString());

      const tokens = t.ec2.commandCalls(CreateReplaceRootVolumeTaskCommand).map((c) => c.args[0].input.ClientToken);
      expect(tokens).toEqual([token]);
      expect(t.ec2).toHaveReceivedCommandWith(CreateReplaceRootVolumeTaskCommand, { InstanceId: NEW, ImageId: 'ami-0123456789abcdef0', DeleteReplacedRootVolume: false });
      expect(t.ec2).toHaveReceivedCommandTimes(DescribeReplaceRootVolumeTasksCommand, 1);
      // The look at the task needs no look at the instance: a node that stops fails its task.
      expect(t.ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    });

    it('without the task id in the state (a crash lost it), the swap is asked for again with the same ClientToken: the same task, never a second swap', async () => {
      instanceIs(t, 'running');
      t.ec2.on(CreateReplaceRootVolumeTaskCommand).resolves({ ReplaceRootVolumeTask: { ReplaceRootVolumeTaskId: 'replacevol-1', TaskState: 'in-progress', StartTime: NOW.toISOString() } });
      const handler = makeHandler(t.deps);
      await handler(search());
      await handler(search());
      expect(t.ec2.commandCalls(CreateReplaceRootVolumeTaskCommand).map((c) => c.args[0].input.ClientToken)).toEqual([token, token]);
    });

    it('a failed swap is ProvisioningFailedError; a succeeded one completes provisioning', async () => {
      instanceIs(t, 'running');
      t.ec2.on(DescribeReplaceRootVolumeTasksCommand).resolvesOnce({ ReplaceRootVolumeTasks: [{ ReplaceRootVolumeTaskId: 'replacevol-1', TaskState: 'failed-detached' }] }).resolves({
        ReplaceRootVolumeTasks: [{ ReplaceRootVolumeTaskId: 'replacevol-1', TaskState: 'succeeded' }],
      });
      const handler = makeHandler(t.deps);
      const swapping = search({ progress: { 'provision.rootVolumeTask': 'replacevol-1' } });
      await expect(handler(swapping)).rejects.toMatchObject({ name: ErrorNames.ProvisioningFailed, message: expect.stringContaining('failed-detached') });
      const state = await handler(swapping);
      expect(state.wait).toBeUndefined();
      expect(state.progress['provision.rootVolumeTask']).toBe('replacevol-1');
    });

    it('needs a running instance: a stopped node is started before the swap', async () => {
      instanceIs(t, 'stopped');
      await waitOf(makeHandler(t.deps)(search()));
      expect(t.ec2).toHaveReceivedCommand(StartInstancesCommand);
      expect(t.ec2).not.toHaveReceivedCommand(CreateReplaceRootVolumeTaskCommand);
    });
  });

  describe('A5 preemption', () => {
    const preempting = () => workflowState({ claim: { ...workflowState().claim!, preempts: ['low'] } });

    it('halts the lower-priority application with its own halt documents before provisioning', async () => {
      instanceIs(t, 'running');
      t.ddb.on(GetCommand, { TableName: TABLES.state }).resolves({ Item: { app: 'low', currentNode: NEW } });
      expect((await waitOf(makeHandler(t.deps)(preempting()))).detail).toEqual(expect.stringContaining('halting preempted low'));
      expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, {
        Parameters: { commands: ['systemctl stop low'], executionTimeout: ['600'] },
        Comment: commandComment({ instanceId: NEW, incidentId: INCIDENT, purpose: 'preempt:low' }, 0),
      });
      expect(t.events).not.toHaveReceivedCommand(PutEventsCommand);
    });

    it("once halted, marks it offline, announces 'Service Down' for its own policy and forgets its lease", async () => {
      instanceIs(t, 'running');
      t.ddb.on(GetCommand, { TableName: TABLES.state }).resolves({ Item: { app: 'low', currentNode: NEW } });
      commandsOnNode(t, 'preempt:low', ['Success']);
      await waitOf(makeHandler(t.deps)(preempting()));

      const entry = t.events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
      expect(entry).toMatchObject({ Source: 'rapid-failover', DetailType: 'Service Down' });
      expect(JSON.parse(entry?.Detail ?? '{}')).toMatchObject({ app: 'low', node: NEW, reason: 'preempted', preemptedBy: 'web' });
      const offline = t.ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.TableName === TABLES.state);
      expect(offline?.Key).toEqual({ app: 'low' });
      expect(Object.values(offline?.ExpressionAttributeValues ?? {})).toContain(true);
      expect(t.ddb).toHaveReceivedCommandWith(DeleteCommand, { TableName: TABLES.claims, Key: { nodeId: NEW, holder: 'low' } });
    });
  });
});
