// Contract cases for the SSM, ELBv2, CloudWatch, SNS, EventBridge and Step Functions calls the
// adapters make (functions/adapters/commands.ts, targets.ts, alarms.ts, metrics-source.ts,
// notify.ts, executions.ts): the same adapter code against moto and against the simulated fleet
// (Step Functions: the local runtime's), seeded alike; answers compared by label.
import { DescribeLoadBalancersCommand, DescribeTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CancelCommandCommand,
  CancelCommandRequest$,
  DescribeInstanceInformationCommand,
  DescribeInstanceInformationRequest$,
  GetCommandInvocationCommand,
  InstanceInformation$,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { NormalizedSchema } from '@smithy/core/schema';
import { expect, it } from 'vitest';
import { PerformanceDetectionSchema, SsmDocumentSchema } from '../../core/config.ts';
import { EVENT_SOURCE } from '../../core/metrics.ts';
import { describeAlert } from '../../core/decisions.ts';
import type { TargetGroupFacts } from '../../core/load-balancing.ts';
import type { CommandEntry, CommandLedger } from '../../functions/adapters/command-ledger.ts';
import { advanceDocuments, agentStatus, cancelCommands, DELIVERY_TIMEOUT_SECONDS, type CommandDeps, type DocumentRun } from '../../functions/adapters/commands.ts';
import { startIncident } from '../../functions/adapters/executions.ts';
import { describeTargetGroups } from '../../functions/adapters/load-balancers.ts';
import { failTask, resumeTask } from '../../functions/adapters/task-callbacks.ts';
import { stopInstance } from '../../functions/adapters/instances.ts';
import { readPerformance } from '../../functions/adapters/metrics-source.ts';
import { publishAlert, putServiceEvent } from '../../functions/adapters/notify.ts';
import { deregisterTarget, registerTarget, setDeregistrationDelay, targetHealth } from '../../functions/adapters/targets.ts';
import { IncidentInputSchema, type IncidentInput } from '../../core/workflow-state.ts';
import { bothSides, CASE_START, describeCall, useMoto, type Outcome } from './contract.ts';
import { MOTO_CLIENT_CONFIG } from './moto-server.ts';
import type { Side } from './sides.ts';
import { POOL_TAG, seedFleet } from './world.ts';

const moto = useMoto();

const UNKNOWN_INSTANCE = 'i-0123456789abcdef0';

// ---- SSM ----------------------------------------------------------------------------------------

function documents(...commands: string[]) {
  return commands.map((command) => SsmDocumentSchema.parse({ name: 'AWS-RunShellScript', parameters: { commands: [command] } }));
}

function provisionRun(instanceId: string): DocumentRun {
  return { instanceId, documents: documents('install web', 'start web'), incidentId: '20300101T000000-web-failure-abc123', purpose: 'provision' };
}

/** The command ledger in memory: DynamoDB is not what these cases compare (DynamoDB Local tests it). */
function memoryLedger(): CommandLedger {
  const entries = new Map<string, CommandEntry>();
  return {
    read: async (tags) => new Map(tags.flatMap((tag) => (entries.has(tag) ? [[tag, { ...entries.get(tag)! }] as const] : []))),
    readAll: async () => new Map([...entries].map(([tag, entry]) => [tag, { ...entry }])),
    recordIntent: async (tag, entry, replacing) => {
      const current = entries.get(tag);
      if (replacing === undefined ? current !== undefined : current?.intentAt !== replacing || current.commandId !== undefined) return false;
      entries.set(tag, { ...entry });
      return true;
    },
    recordSent: async (tag, entry) => void entries.set(tag, { ...entry }),
    forgetIntent: async (tag) => void entries.delete(tag),
    recordCancelled: async (tag, at) => void entries.set(tag, { ...entries.get(tag)!, cancelledAt: at }),
  };
}

/**
 * The SSM client a side's adapter uses. moto has no DescribeInstanceInformation (see its own case
 * below): on moto's side the adapter's agent check is answered from EC2 (a running instance is
 * Online, a stopped one is not listed), so the calls moto does implement can be compared.
 */
function ssmOf(side: Side): SSMClient {
  if (side.name !== 'moto') return side.ssm;
  return new Proxy(side.ssm, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: { input: unknown }) => {
        if (!(command instanceof DescribeInstanceInformationCommand)) return target.send(command as SendCommandCommand);
        const ids = command.input.Filters?.find((f) => f.Key === 'InstanceIds')?.Values ?? [];
        const described = await side.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
        const running = (described.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === 'running');
        return { InstanceInformationList: running.map((i) => ({ InstanceId: i.InstanceId, PingStatus: 'Online' })) };
      };
    },
  });
}

/** What advanceDocuments needs on a side, with one ledger for the case and the side's clock read at each call. */
function commandsOn(side: Side, ledger: CommandLedger = memoryLedger()): () => CommandDeps {
  const ssm = ssmOf(side);
  return () => ({ ssm, ledger, now: side.now() });
}

/**
 * A pending run says when its command was sent: the side's own clock at the call (moto: the
 * wall clock, the simulator: virtual time), so it is compared as "the call's now".
 */
function sentAtTheCall<T>(status: T, now: Date): T {
  const s = status as { status?: string; sentAt?: string };
  return (s.status === 'pending' && s.sentAt !== undefined ? { ...status, sentAt: s.sentAt === now.toISOString() ? "the call's now" : s.sentAt } : status) as T;
}

/** advanceDocuments, with its pending run's sentAt compared as "the call's now". */
async function advance(deps: CommandDeps, run: DocumentRun) {
  return sentAtTheCall(await advanceDocuments(deps, run), deps.now);
}

describeCall('ssm:SendCommand', () => {
  it('agreed: advanceDocuments sends the first document, then the second once the first succeeded, then reports both done', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1'] });
      const run = provisionRun(fleet.node('web-1'));
      const deps = commandsOn(side);
      const steps = [await advance(deps(), run)];
      side.settle();
      steps.push(await advance(deps(), run));
      side.settle();
      steps.push(await advance(deps(), run));
      return steps;
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({
      ok: true,
      value: [
        // The workflow gives up on a command after its delivery, execution and grace allowances: 120 + 600 + 60 s.
        { status: 'pending', index: 0, commandId: '<uuid 1>', sentAt: "the call's now", remainingSeconds: 780, detail: 'sent AWS-RunShellScript' },
        { status: 'pending', index: 1, commandId: '<uuid 2>', sentAt: "the call's now", remainingSeconds: 780, detail: 'sent AWS-RunShellScript' },
        { status: 'done', commandIds: ['<uuid 1>', '<uuid 2>'] },
      ],
    });
  });

  it('agreed: the command carries the instance, document, parameters (timeoutSeconds as executionTimeout), the delivery timeout and the Comment', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1'] });
      const out = await side.ssm.send(
        new SendCommandCommand({
          InstanceIds: [fleet.node('web-1')],
          DocumentName: 'AWS-RunShellScript',
          Parameters: { commands: ['install web'], executionTimeout: ['600'] },
          TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
          Comment: 'rf-0123456789abcdef provision#0 incident',
        }),
      );
      const c = out.Command;
      return { id: c?.CommandId, document: c?.DocumentName, parameters: c?.Parameters, timeout: c?.TimeoutSeconds, comment: c?.Comment, targets: c?.InstanceIds };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({
      ok: true,
      value: {
        id: '<uuid 1>',
        document: 'AWS-RunShellScript',
        parameters: { commands: ['install web'], executionTimeout: ['600'] },
        timeout: DELIVERY_TIMEOUT_SECONDS,
        comment: 'rf-0123456789abcdef provision#0 incident',
        targets: ['<web-1>'],
      },
    });
  });

  // moto defect: moto runs commands on stopped instances. AWS, SSM InvalidInstanceId: "The
  // following problems can cause this exception: ... SSM Agent isn't running. Verify that SSM
  // Agent is running." (SSM API reference, SendCommand errors); on a stopped instance no agent
  // runs. The adapter does not send before DescribeInstanceInformation says Online.
  it('moto defect (runs commands on stopped instances): SendCommand to a stopped node is InvalidInstanceId', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['spare'] });
      const out = await side.ssm.send(new SendCommandCommand({ InstanceIds: [fleet.node('spare')], DocumentName: 'AWS-RunShellScript', Parameters: { commands: ['install web'] } }));
      return out.Command?.Status;
    });

    expect(simulator).toEqual({ ok: false, error: 'InvalidInstanceId' });
    expect(moto).toEqual({ ok: true, value: 'Success' });
  });
});

describeCall('ssm:ListCommands', () => {
  it('agreed: after a crash between SendCommand and the record of its id, advancing finds the command by its Comment tag and sends it no second time', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1'] });
      const run = provisionRun(fleet.node('web-1'));
      const ledger = memoryLedger();
      const crashing: CommandLedger = { ...ledger, recordSent: () => Promise.reject(new Error('crashed before recording the id')) };
      await advanceDocuments(commandsOn(side, crashing)(), run).catch(() => undefined);
      side.settle();
      const again = await advance(commandsOn(side, ledger)(), run);
      side.settle(); // past ListCommands' lag
      const listed = (await side.ssm.send(new ListCommandsCommand({ InstanceId: fleet.node('web-1'), MaxResults: 50 }))).Commands ?? [];
      const second = listed.find((c) => c.Comment?.split(' ')[1] === 'provision#1')?.CommandId;
      // ListCommands documents no order (SSM API reference): compare the documents as a set.
      return { again: { ...again, commandId: again.status === 'pending' && again.commandId === second ? 'the second document' : again }, listed: listed.map((c) => c.Comment?.split(' ')[1]).sort() };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({
      ok: true,
      value: {
        again: { status: 'pending', index: 1, commandId: 'the second document', sentAt: "the call's now", remainingSeconds: 780, detail: 'sent AWS-RunShellScript' },
        listed: ['provision#0', 'provision#1'],
      },
    });
  });

  // moto defect: moto ignores MaxResults ("Pagination ... is not yet implemented", moto's
  // list_commands). AWS, ListCommands: "MaxResults - (Optional) The maximum number of items to
  // return for this call. The call also returns a token that you can specify in a subsequent call
  // to get the next set of results."
  it('moto defect (no pagination): ListCommands returns at most MaxResults commands and a NextToken', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1'] });
      for (const command of ['one', 'two', 'three']) {
        await side.ssm.send(new SendCommandCommand({ InstanceIds: [fleet.node('web-1')], DocumentName: 'AWS-RunShellScript', Parameters: { commands: [command] } }));
      }
      side.settle(); // past ListCommands' lag (eventual consistency)
      const page = await side.ssm.send(new ListCommandsCommand({ InstanceId: fleet.node('web-1'), MaxResults: 2 }));
      return { listed: page.Commands?.length, nextToken: page.NextToken !== undefined };
    });

    expect(simulator).toEqual({ ok: true, value: { listed: 2, nextToken: true } });
    expect(moto).toEqual({ ok: true, value: { listed: 3, nextToken: false } });
  });

  // moto defect: moto adds every instance of the account to a command sent by InstanceIds, so it
  // lists it for instances it was never sent to. AWS, ListCommands: "InstanceId - (Optional) Lists
  // commands issued against this managed node ID."
  it('moto defect (commands reach every instance): ListCommands for an instance lists only the commands sent to it', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1', 'web-3'] });
      await advanceDocuments(commandsOn(side)(), provisionRun(fleet.node('web-1')));
      side.settle();
      const mine = await side.ssm.send(new ListCommandsCommand({ InstanceId: fleet.node('web-1'), MaxResults: 50 }));
      const other = await side.ssm.send(new ListCommandsCommand({ InstanceId: fleet.node('web-3'), MaxResults: 50 }));
      return [mine.Commands?.length, other.Commands?.length];
    });

    expect(simulator).toEqual({ ok: true, value: [1, 0] });
    expect(moto).toEqual({ ok: true, value: [1, 1] });
  });
});

describeCall('ssm:GetCommandInvocation', () => {
  it('agreed: the invocation of a document that ran reads Status Success, StatusDetails Success and no error output', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1'] });
      const sent = await advanceDocuments(commandsOn(side)(), provisionRun(fleet.node('web-1')));
      side.settle();
      const commandId = sent.status === 'pending' ? sent.commandId! : '';
      const out = await side.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: fleet.node('web-1') }));
      return { command: out.CommandId, instance: out.InstanceId, status: out.Status, details: out.StatusDetails, stderr: out.StandardErrorContent ?? '' };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: { command: '<uuid 1>', instance: '<web-1>', status: 'Success', details: 'Success', stderr: '' } });
  });
});

/** moto answers an SSM action it does not implement with HTTP 500. */
async function expectMotoLacks(command: DescribeInstanceInformationCommand | CancelCommandCommand): Promise<void> {
  const error = await moto
    .sides()
    .moto.ssm.send(command as CancelCommandCommand)
    .then(
      () => null,
      (e: { $metadata?: { httpStatusCode?: number } }) => e,
    );
  expect(error?.$metadata?.httpStatusCode).toBe(500);
}

/** The first request `run` makes through an SSM client that never reaches a server: its input and JSON body. */
async function firstSsmRequest(name: string, run: (ssm: SSMClient) => Promise<unknown>): Promise<{ input: Record<string, unknown>; target: string; body: Record<string, unknown> }> {
  const client = new SSMClient({ ...MOTO_CLIENT_CONFIG, endpoint: 'http://127.0.0.1:9' });
  let captured: { input: Record<string, unknown>; target: string; body: Record<string, unknown> } | undefined;
  let input: Record<string, unknown> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === `${name}Command`) input = structuredClone(args.input as Record<string, unknown>);
      return next(args);
    },
    { step: 'initialize', name: 'captureInput', priority: 'high' },
  );
  client.middlewareStack.add(
    () => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      captured ??= { input, target: request.headers?.['x-amz-target'] ?? '', body: JSON.parse(String(request.body ?? '{}')) as Record<string, unknown> };
      throw new Error('captured');
    },
    { step: 'finalizeRequest', name: 'captureRequest', priority: 'low' },
  );
  await run(client).catch(() => undefined);
  client.destroy();
  if (!captured) throw new Error(`no ${name} request was made`);
  return captured;
}

function members(schema: unknown): Record<string, string> {
  const normalized = NormalizedSchema.of(schema as Parameters<typeof NormalizedSchema.of>[0]);
  return Object.fromEntries(
    [...normalized.structIterator()].map(([name, member]) => [
      name,
      member.isStringSchema() ? 'string' : member.isBooleanSchema() ? 'boolean' : member.isNumericSchema() ? 'number' : member.isTimestampSchema() ? 'timestamp' : member.isListSchema() ? 'list' : 'structure',
    ]),
  );
}

function kindOf(value: unknown): string {
  return value instanceof Date ? 'timestamp' : Array.isArray(value) ? 'list' : typeof value === 'object' ? 'structure' : typeof value;
}

describeCall('ssm:DescribeInstanceInformation', { notCoveredByMoto: true }, () => {
  it("agentStatus sends a DescribeInstanceInformationRequest filtered by instance id; the simulator answers InstanceInformation members only, PingStatus as documented", async () => {
    await expectMotoLacks(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [UNKNOWN_INSTANCE] }] }));
    const request = await firstSsmRequest('DescribeInstanceInformation', (ssm) => agentStatus(ssm, UNKNOWN_INSTANCE));
    expect(request.target).toBe('AmazonSSM.DescribeInstanceInformation');
    expect(request.body).toEqual({ Filters: [{ Key: 'InstanceIds', Values: [UNKNOWN_INSTANCE] }] });
    const shape = members(DescribeInstanceInformationRequest$);
    for (const [key, value] of Object.entries(request.input)) expect(shape[key], `${key} is a member of DescribeInstanceInformationRequest`).toBe(kindOf(value));

    const { simulator } = moto.sides();
    const fleet = await seedFleet(simulator, { nodes: ['web-1', 'spare'] });
    const out = await simulator.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [fleet.node('web-1'), fleet.node('spare')] }] }));
    const listed = out.InstanceInformationList ?? [];
    // API reference: "This operation does not return information for nodes that are either Stopped or Terminated."
    expect(listed.map((i) => i.InstanceId)).toEqual([fleet.node('web-1')]);
    const info = listed[0] as Record<string, unknown>;
    const infoShape = members(InstanceInformation$);
    for (const [key, value] of Object.entries(info)) expect(infoShape[key], `${key} is a member of InstanceInformation`).toBe(kindOf(value));
    // API reference, InstanceInformation: PingStatus "Online | ConnectionLost | Inactive".
    expect(['Online', 'ConnectionLost', 'Inactive']).toContain(info.PingStatus);
    expect(await agentStatus(simulator.ssm, fleet.node('web-1'))).toBe('Online');
  });
});

describeCall('ssm:CancelCommand', { notCoveredByMoto: true }, () => {
  it('cancelCommands sends a CancelCommandRequest (CommandId and the instance); the simulator accepts it and the invocation ends Cancelled', async () => {
    await expectMotoLacks(new CancelCommandCommand({ CommandId: '00000000-0000-4000-8000-000000000000' }));
    const { simulator } = moto.sides();
    const fleet = await seedFleet(simulator, { nodes: ['web-1'] });
    const ledger = memoryLedger();
    const deps = () => ({ ssm: simulator.ssm, ledger, now: simulator.now() });
    const sent = await advanceDocuments(deps(), provisionRun(fleet.node('web-1')));
    const commandId = sent.status === 'pending' ? sent.commandId! : '';

    const request = await firstSsmRequest('CancelCommand', async (ssm) => {
      // The same ledger; only the cancel goes to the capturing client.
      await cancelCommands({ ssm: new Proxy(simulator.ssm, { get: (t, p, r) => (p === 'send' ? (c: unknown) => (c instanceof CancelCommandCommand ? ssm.send(c) : t.send(c as SendCommandCommand)) : Reflect.get(t, p, r)) }), ledger, now: simulator.now() }, () => true);
    });
    expect(request.target).toBe('AmazonSSM.CancelCommand');
    expect(request.body).toEqual({ CommandId: commandId, InstanceIds: [fleet.node('web-1')] });
    const shape = members(CancelCommandRequest$);
    for (const [key, value] of Object.entries(request.input)) expect(shape[key], `${key} is a member of CancelCommandRequest`).toBe(kindOf(value));

    expect(await cancelCommands(deps(), () => true)).toEqual([commandId]);
    simulator.settle();
    const invocation = await simulator.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: fleet.node('web-1') }));
    expect(invocation.Status).toBe('Cancelled');
  });
});

// ---- ELBv2 --------------------------------------------------------------------------------------

/** A well-formed ARN of a target group that does not exist (same account and region). */
function unknownTargetGroup(arn: string): string {
  return arn.replace(/targetgroup\/[^/]+\/[0-9a-f]{16}$/, 'targetgroup/gone/0123456789abcdef');
}

describeCall('elbv2:DescribeTargetHealth', () => {
  it('agreed: targetHealth: a registered running node is healthy once checked, one never registered is unused (Target.NotRegistered), a registered node that stopped is unused (Target.InvalidState)', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1', 'web-3', 'spare'], targetGroup: true });
      const at = (label: string) => ({ targetGroupArns: [fleet.targetGroup], instanceId: fleet.node(label) });
      await registerTarget(side.elb, fleet.targetGroup, at('web-1'));
      await registerTarget(side.elb, fleet.targetGroup, at('web-3'));
      await stopInstance(side.ec2, fleet.node('web-3'), true);
      side.settle();
      const health = async (label: string) => Object.fromEntries(await targetHealth(side.elb, at(label)));
      return { 'web-1': await health('web-1'), 'web-3': await health('web-3'), spare: await health('spare') };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({
      ok: true,
      value: {
        'web-1': { '<tg-web>': { state: 'healthy', reason: '' } },
        'web-3': { '<tg-web>': { state: 'unused', reason: 'Target.InvalidState: Target is in the stopped state' } },
        spare: { '<tg-web>': { state: 'unused', reason: 'Target.NotRegistered: Target is not registered to the target group' } },
      },
    });
  });

  // moto defect: moto reports a registered running instance healthy whatever its zone. AWS,
  // Elastic Load Balancing API reference, TargetHealth, Reason: "Target.NotInUse - The target
  // group is not used by any load balancer or the target is in an Availability Zone that is not
  // enabled for its load balancer." Join waits for healthy (A6): a node in such a zone never is.
  it('moto defect (ignores zones): a registered node in a zone its load balancer does not enable is unused (Target.NotInUse)', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, {
        nodes: ['web-1', { label: 'web-c', instanceType: 'm7i.large', subnet: 'c1', privateIp: '10.0.33.10', tags: { [POOL_TAG]: 'general' } }],
        targetGroup: true,
      });
      const at = (label: string) => ({ targetGroupArns: [fleet.targetGroup], instanceId: fleet.node(label) });
      await registerTarget(side.elb, fleet.targetGroup, at('web-1'));
      await registerTarget(side.elb, fleet.targetGroup, at('web-c'));
      side.settle();
      return { 'web-1': Object.fromEntries(await targetHealth(side.elb, at('web-1'))), 'web-c': Object.fromEntries(await targetHealth(side.elb, at('web-c'))) };
    });

    expect(simulator).toEqual({
      ok: true,
      value: {
        'web-1': { '<tg-web>': { state: 'healthy', reason: '' } },
        'web-c': { '<tg-web>': { state: 'unused', reason: 'Target.NotInUse: Target is in an Availability Zone that is not enabled for the load balancer' } },
      },
    });
    expect(moto).toEqual({ ok: true, value: { 'web-1': { '<tg-web>': { state: 'healthy', reason: '' } }, 'web-c': { '<tg-web>': { state: 'healthy', reason: '' } } } });
  });

  it('agreed: a target group that does not exist is TargetGroupNotFoundException', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1'], targetGroup: true });
      return targetHealth(side.elb, { targetGroupArns: [unknownTargetGroup(fleet.targetGroup)], instanceId: fleet.node('web-1') });
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: false, error: 'TargetGroupNotFoundException' });
  });
});

describeCall('elbv2:RegisterTargets', () => {
  it('agreed: registering a node on a port of its own is seen on that port', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1'], targetGroup: true });
      const target = { targetGroupArns: [fleet.targetGroup], instanceId: fleet.node('web-1'), port: 8080 };
      await registerTarget(side.elb, fleet.targetGroup, target);
      side.settle();
      return Object.fromEntries(await targetHealth(side.elb, target));
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: { '<tg-web>': { state: 'healthy', reason: '' } } });
  });

  it('agreed: registering a stopped node is InvalidTargetException (RegisterTargets: "If the target is an EC2 instance, it must be in the running state")', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['spare'], targetGroup: true });
      return registerTarget(side.elb, fleet.targetGroup, { targetGroupArns: [fleet.targetGroup], instanceId: fleet.node('spare') });
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: false, error: 'InvalidTargetException' });
  });

  // moto defect: moto registers instance ids EC2 does not know. AWS, RegisterTargets errors:
  // "InvalidTarget - The specified target does not exist, is not in the same VPC as the target
  // group, or has an unsupported instance type."
  it('moto defect (registers unknown instances): registering an instance EC2 does not know is InvalidTargetException', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: [], targetGroup: true });
      return registerTarget(side.elb, fleet.targetGroup, { targetGroupArns: [fleet.targetGroup], instanceId: UNKNOWN_INSTANCE });
    });

    expect(simulator).toEqual({ ok: false, error: 'InvalidTargetException' });
    expect(moto).toEqual({ ok: true, value: undefined });
  });
});

describeCall('elbv2:DeregisterTargets', () => {
  it('agreed: deregisterTarget takes the node out (not registered once the deregistration delay passed), and a node that is not registered is no error for the adapter', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: ['web-1', 'web-3'], targetGroup: true });
      const at = (label: string) => ({ targetGroupArns: [fleet.targetGroup], instanceId: fleet.node(label) });
      await registerTarget(side.elb, fleet.targetGroup, at('web-1'));
      await deregisterTarget(side.elb, at('web-1'));
      await deregisterTarget(side.elb, at('web-3'));
      side.settle();
      return Object.fromEntries(await targetHealth(side.elb, at('web-1')));
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: { '<tg-web>': { state: 'unused', reason: 'Target.NotRegistered: Target is not registered to the target group' } } });
  });
});

describeCall('elbv2:ModifyTargetGroupAttributes', () => {
  it('agreed: setDeregistrationDelay sets deregistration_delay.timeout_seconds', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: [], targetGroup: true });
      await setDeregistrationDelay(side.elb, fleet.targetGroup, 30);
      const out = await side.elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: fleet.targetGroup }));
      return out.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: '30' });
  });

  it('agreed: setting an attribute of a target group that does not exist is TargetGroupNotFoundException', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const fleet = await seedFleet(side, { nodes: [], targetGroup: true });
      return setDeregistrationDelay(side.elb, unknownTargetGroup(fleet.targetGroup), 30);
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: false, error: 'TargetGroupNotFoundException' });
  });
});

/** An application load balancer in two zones with a group whose health checks are set, and a network load balancer in three with a group left at the defaults. */
async function seedLoadBalancing(side: Side) {
  const web = await side.seed.loadBalancer({ label: 'lb-web', name: 'web', type: 'application', subnets: ['a1', 'b1'] });
  const db = await side.seed.loadBalancer({ label: 'lb-db', name: 'db', type: 'network', subnets: ['a1', 'b1', 'c1'] });
  const webGroup = await side.seed.targetGroup({
    label: 'tg-web',
    name: 'web',
    port: 80,
    loadBalancer: 'lb-web',
    healthCheck: { intervalSeconds: 10, healthyThresholdCount: 3, unhealthyThresholdCount: 4 },
  });
  const dbGroup = await side.seed.targetGroup({ label: 'tg-db', name: 'db', port: 5432, loadBalancer: 'lb-db' });
  return { web, db, webGroup, dbGroup };
}

/** Zones in name order: neither API documents the order of a load balancer's AvailabilityZones. */
function zonesSorted(facts: TargetGroupFacts[]): TargetGroupFacts[] {
  return facts.map((group) => ({ ...group, loadBalancers: group.loadBalancers.map((lb) => ({ ...lb, availabilityZones: [...lb.availabilityZones].sort() })) }));
}

describeCall('elbv2:DescribeTargetGroups', () => {
  it("agreed: describeTargetGroups reads each group's name, health-check interval and thresholds (set, and CreateTargetGroup's defaults 30 s / 5 / 2), and the load balancer its listener belongs to", async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const { webGroup, dbGroup } = await seedLoadBalancing(side);
      return zonesSorted(await describeTargetGroups(side.elb, [webGroup, dbGroup], side.now()));
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({
      ok: true,
      value: [
        {
          targetGroupArn: '<tg-web>',
          name: 'web',
          loadBalancers: [{ arn: '<lb-web>', name: 'web', type: 'application', availabilityZones: ['us-east-1a', 'us-east-1b'] }],
          healthCheckIntervalSeconds: 10,
          healthyThresholdCount: 3,
          unhealthyThresholdCount: 4,
        },
        {
          targetGroupArn: '<tg-db>',
          name: 'db',
          loadBalancers: [{ arn: '<lb-db>', name: 'db', type: 'network', availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] }],
          healthCheckIntervalSeconds: 30,
          healthyThresholdCount: 5,
          unhealthyThresholdCount: 2,
        },
      ],
    });
  });

  it('agreed: describeTargetGroups asking for a group that does not exist, among others, is TargetGroupNotFoundException', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const { webGroup } = await seedLoadBalancing(side);
      return describeTargetGroups(side.elb, [webGroup, unknownTargetGroup(webGroup)], side.now());
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: false, error: 'TargetGroupNotFoundException' });
  });
});

describeCall('elbv2:DescribeLoadBalancers', () => {
  it('agreed: a load balancer reads its name, type, VPC and enabled zones, one subnet each', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const { web, db } = await seedLoadBalancing(side);
      const out = await side.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [web, db] }));
      return [web, db].map((arn) => {
        const lb = out.LoadBalancers?.find((l) => l.LoadBalancerArn === arn);
        const zones = (lb?.AvailabilityZones ?? []).map((z) => [z.ZoneName, z.SubnetId]).sort();
        return { arn: lb?.LoadBalancerArn, name: lb?.LoadBalancerName, type: lb?.Type, vpc: lb?.VpcId, zones };
      });
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({
      ok: true,
      value: [
        {
          arn: '<lb-web>',
          name: 'web',
          type: 'application',
          vpc: '<vpc>',
          zones: [
            ['us-east-1a', '<subnet-a1>'],
            ['us-east-1b', '<subnet-b1>'],
          ],
        },
        {
          arn: '<lb-db>',
          name: 'db',
          type: 'network',
          vpc: '<vpc>',
          zones: [
            ['us-east-1a', '<subnet-a1>'],
            ['us-east-1b', '<subnet-b1>'],
            ['us-east-1c', '<subnet-c1>'],
          ],
        },
      ],
    });
  });

  it('agreed: a load balancer that does not exist is LoadBalancerNotFoundException', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const { web } = await seedLoadBalancing(side);
      return side.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [web.replace(/\/[0-9a-f]{16}$/, '/0123456789abcdef')] }));
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: false, error: 'LoadBalancerNotFoundException' });
  });
});

// ---- CloudWatch ---------------------------------------------------------------------------------

const OLD_NODE = 'i-0aaa0000000000001';
const NEW_NODE = 'i-0aaa0000000000002';

describeCall('cloudwatch:GetMetricData', () => {
  it("agreed: readPerformance returns the last evaluationPeriods datapoints, oldest first, of the node's metric (its InstanceId dimension)", async () => {
    const minute = 60_000;
    const end = CASE_START;
    const perf = PerformanceDetectionSchema.parse({
      namespace: 'Shop',
      metricName: 'CheckoutLatency',
      dimensions: { Service: 'checkout', InstanceId: 'set-per-node' },
      threshold: 500,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 5,
    });
    const { moto, simulator } = await bothSides(async (side) => {
      for (const [node, base] of [
        [NEW_NODE, 100],
        [OLD_NODE, 900],
      ] as const) {
        await side.seed.metricData({
          namespace: 'Shop',
          metricName: 'CheckoutLatency',
          dimensions: { Service: 'checkout', InstanceId: node },
          // One datapoint a minute, 5 s into each of the 7 minutes before `end`.
          points: Array.from({ length: 7 }, (_, i) => ({ at: new Date(end.getTime() - (7 - i) * minute + 5_000), value: base + i })),
        });
      }
      return readPerformance(side.cloudwatch, perf, NEW_NODE, end);
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: [102, 103, 104, 105, 106] });
  });
});

// ---- SNS and EventBridge ------------------------------------------------------------------------

const CONTEXT = { app: 'web', incidentId: '20300101T000000-web-failure-abc123' };

describeCall('sns:Publish', () => {
  it('agreed: publishAlert publishes an alert core builds and returns the MessageId SNS gave it', async () => {
    const alert = describeAlert('quarantine', { app: 'web', incidentId: CONTEXT.incidentId, trigger: 'failure', node: OLD_NODE });
    const { moto, simulator } = await bothSides(async (side) => publishAlert(side.sns, await side.seed.topic({ label: 'alerts', name: 'alerts' }), alert, CONTEXT));

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: '<uuid 1>' });
  });

  it('agreed: an alert core builds for a long application name and node id is published (A13: core cuts its subject under the 100 characters SNS allows)', async () => {
    const app = `checkout-${'x'.repeat(60)}`;
    const alert = describeAlert('quarantine', { app, incidentId: CONTEXT.incidentId, trigger: 'failure', node: `${OLD_NODE}-${'y'.repeat(40)}` });
    const { moto, simulator } = await bothSides(async (side) => publishAlert(side.sns, await side.seed.topic({ label: 'alerts', name: 'alerts' }), alert, { ...CONTEXT, app }));

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: '<uuid 1>' });
  });

  // The simulator took only printable ASCII subjects (an older wording of the rule). AWS, Publish:
  // "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100
  // characters long." core's describeAlert ends a cut subject with "…".
  it('fixed (simulator refused non-ASCII subjects): a UTF-8 subject is published; one with a line break is InvalidParameterException', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const topic = await side.seed.topic({ label: 'alerts', name: 'alerts' });
      const publish = (subject: string) =>
        publishAlert(side.sns, topic, { kind: 'quarantine', subject, message: 'm' }, CONTEXT).then(
          () => 'published',
          (error: Error) => error.name,
        );
      return { utf8: await publish('rapid-failover: café: node i-0aaa… quarantined'), lineBreak: await publish('rapid-failover:\nweb') };
    });

    expect(simulator).toEqual({ ok: true, value: { utf8: 'published', lineBreak: 'InvalidParameterException' } });
    // moto checks no subject at all (see the next case).
    expect(moto).toEqual({ ok: true, value: { utf8: 'published', lineBreak: 'published' } });
  });

  // moto defect: moto publishes any subject. AWS, Publish: "Subject ... Constraints: Subjects must
  // be UTF-8 text with no line breaks or control characters, and less than 100 characters long."
  it('moto defect (no subject check): a subject of 100 characters is InvalidParameterException; 99 are fine', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const topic = await side.seed.topic({ label: 'alerts', name: 'alerts' });
      const publish = (length: number) =>
        publishAlert(side.sns, topic, { kind: 'quarantine', subject: 'x'.repeat(length), message: 'm' }, CONTEXT).then(
          () => 'published',
          (error: Error) => error.name,
        );
      return { 99: await publish(99), 100: await publish(100) };
    });

    expect(simulator).toEqual({ ok: true, value: { 99: 'published', 100: 'InvalidParameterException' } });
    expect(moto).toEqual({ ok: true, value: { 99: 'published', 100: 'published' } });
  });
});

describeCall('eventbridge:PutEvents', () => {
  it('agreed: putServiceEvent puts the event on the bus; the answer has no failed entry and an EventId', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      await putServiceEvent(side.events, 'default', 'Service Up', { app: 'web', node: NEW_NODE });
      const raw = await side.events.send(
        new PutEventsCommand({ Entries: [{ Source: EVENT_SOURCE, DetailType: 'Service Up', Detail: JSON.stringify({ app: 'web' }), EventBusName: 'default' }] }),
      );
      return { failed: raw.FailedEntryCount, entries: raw.Entries };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: { failed: 0, entries: [{ EventId: '<uuid 1>' }] } });
  });
});

// ---- Step Functions -----------------------------------------------------------------------------

function incident(name: string, kind: IncidentInput['trigger']['kind']): IncidentInput {
  return IncidentInputSchema.parse({
    incidentId: name,
    app: 'web',
    trigger: { kind, source: 'rapid-failover-web-status-check', reason: 'status checks failed', observedAt: '2030-01-01T00:00:00.000Z' },
  });
}

describeCall('sfn:StartExecution', () => {
  it('agreed: startIncident starts an execution named by the incident; the same name and input while it runs is the same start; other input, or after it ended, is a duplicate (ExecutionAlreadyExists)', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const machine = await side.seed.stateMachine({ label: 'workflow' });
      const outcomes = [
        await startIncident(side.sfn, machine, incident('incident-1', 'failure')),
        await startIncident(side.sfn, machine, incident('incident-1', 'failure')),
        await startIncident(side.sfn, machine, incident('incident-1', 'performance')),
      ];
      await side.seed.finishExecution(machine, 'incident-1');
      outcomes.push(await startIncident(side.sfn, machine, incident('incident-1', 'failure')));
      return outcomes;
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: ['started', 'started', 'duplicate', 'duplicate'] });
  });

  it('agreed: a state machine that does not exist is StateMachineDoesNotExist', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const machine = await side.seed.stateMachine({ label: 'workflow' });
      return startIncident(side.sfn, machine.replace(/:stateMachine:.*$/, ':stateMachine:gone'), incident('incident-1', 'failure'));
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: false, error: 'StateMachineDoesNotExist' });
  });
});

// moto's default Step Functions backend accepts any token (its send_task_* do nothing); with
// execute_state_machine on, it runs executions and checks tokens against their callback tasks,
// as Step Functions does (AWS Step Functions API Reference, SendTaskSuccess: InvalidToken "The
// provided token is not valid"; TaskTimedOut once the task is closed).
async function withExecutingStepFunctions(endpoint: string, on: boolean): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/config`, { method: 'POST', body: JSON.stringify({ stepfunctions: { execute_state_machine: on } }) });
  if (!response.ok) throw new Error(`moto config answered ${response.status}: ${await response.text()}`);
}

/** A token no task was given (the shape of AWS's: opaque, long). */
const UNKNOWN_TOKEN = `AQC${'x'.repeat(300)}`;

describeCall('sfn:SendTaskSuccess', () => {
  it('agreed: resumeTask with a token no task holds is InvalidToken (not a closed task: the callback does not swallow it)', async () => {
    const outcomes = await withExecuting(moto.server().endpoint, () => bothSides((side) => resumeTask(side.sfn, UNKNOWN_TOKEN, { key: 'ssm:c:i', status: 'Success' })));
    expect(outcomes.moto).toEqual(outcomes.simulator);
    expect(outcomes.simulator).toMatchObject({ ok: false, error: 'InvalidToken' });
  });
});

describeCall('sfn:SendTaskFailure', () => {
  it('agreed: failTask with a token no task holds is InvalidToken', async () => {
    const outcomes = await withExecuting(moto.server().endpoint, () => bothSides((side) => failTask(side.sfn, UNKNOWN_TOKEN, 'ProvisioningFailedError', 'the command ended Failed')));
    expect(outcomes.moto).toEqual(outcomes.simulator);
    expect(outcomes.simulator).toMatchObject({ ok: false, error: 'InvalidToken' });
  });
});

async function withExecuting<T extends { moto: Outcome; simulator: Outcome }>(endpoint: string, run: () => Promise<T>): Promise<T> {
  await withExecutingStepFunctions(endpoint, true);
  try {
    return await run();
  } finally {
    await withExecutingStepFunctions(endpoint, false);
  }
}
