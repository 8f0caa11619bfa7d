// SSM Run Command and the managed-node view: SendCommand, GetCommandInvocation, ListCommands,
// CancelCommand, DescribeInstanceInformation. A command is accepted only for an instance whose
// SSM Agent is Online; its invocation is Pending until the agent picks it up (DeliveryTimedOut
// if that does not happen within TimeoutSeconds), InProgress while the document runs (TimedOut,
// ExecutionTimedOut, past the document's executionTimeout), then Success (the document's effects
// happen) or Failed; CancelCommand moves it to Cancelled (through Cancelling once delivered).
// AWS Systems Manager User Guide, "Understanding command statuses" (monitor-commands.html):
// statuses, and "Understanding command timeout values": TimeoutSeconds is the delivery timeout,
// the document's executionTimeout bounds the run.
import type {
  CancelCommandCommandInput,
  CancelCommandCommandOutput,
  Command,
  CommandInvocationStatus,
  CommandStatus,
  DescribeInstanceInformationCommandInput,
  DescribeInstanceInformationCommandOutput,
  GetCommandInvocationCommandInput,
  GetCommandInvocationCommandOutput,
  InstanceInformation,
  ListCommandsCommandInput,
  ListCommandsCommandOutput,
  SendCommandCommandInput,
  SendCommandCommandOutput,
} from '@aws-sdk/client-ssm';
import { errorsFor } from './errors.ts';
import { agentOnline, installApp, setAppRunning, uninstallApp, visibleTags } from './instances.ts';
import type { DocumentRun, SimInstance, World } from './model.ts';
import { paginate } from './query.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('ssm');

/** What running a document does to the instance, on success. */
export interface DocumentEffect {
  /** Applications installed, enabled at boot and started. */
  installs?: string[];
  /** Installed applications started (the command fails if one is not installed). */
  starts?: string[];
  stops?: string[];
  uninstalls?: string[];
  /** How long the document runs (default: latency.ssm.documentRunMsByName or documentRunMs). */
  runMs?: number;
  /** Anything else, run at completion; return a message to make the command fail with it. */
  run?: (context: DocumentContext) => string | void;
}

export interface DocumentContext {
  instanceId: string;
  documentName: string;
  parameters: Record<string, string[]>;
  /** The instance's applications now (installed ones, with whether they run). */
  apps: ReadonlyMap<string, { installed: boolean; running: boolean }>;
  install(app: string, start?: boolean): void;
  start(app: string): void;
  stop(app: string): void;
  uninstall(app: string): void;
}

interface SimInvocation {
  command: SimCommand;
  instanceId: string;
  status: CommandInvocationStatus;
  statusDetails: string;
  startedAt?: number;
  endedAt?: number;
  responseCode: number;
  stdout: string;
  stderr: string;
  visibleAt: number;
  run: DocumentRun;
}

interface SimCommand {
  commandId: string;
  documentName: string;
  comment: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  targets: Array<{ Key?: string; Values?: string[] }>;
  requestedAt: number;
  /** Delivery timeout (SendCommand TimeoutSeconds). */
  timeoutSeconds: number;
  /** How long a delivered invocation may run (the executionTimeout parameter). */
  executionTimeoutMs: number;
  invocations: Map<string, SimInvocation>;
  /** The status its last "EC2 Command Status-change Notification" said. */
  lastStatus?: CommandStatus;
}

export interface SsmState {
  documents: Map<string, DocumentEffect>;
  commands: Map<string, SimCommand>;
  /** Reject SendCommand for documents neither defined nor AWS-owned (AWS-*, AWSEC2-*, ...). */
  strictDocuments: boolean;
}

export function createSsmState(strictDocuments = false): SsmState {
  return { documents: new Map(), commands: new Map(), strictDocuments };
}

const DONE: ReadonlySet<CommandInvocationStatus> = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

/** SendCommand's TimeoutSeconds: 30 s to 30 days (API Reference, SendCommand). */
const DELIVERY_TIMEOUT_RANGE = { min: 30, max: 2_592_000 };
/** ASSUMPTION: the API Reference gives no default for TimeoutSeconds; the console proposes 3600. */
const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3_600;
/** AWS-RunShellScript / AWS-RunPowerShellScript: executionTimeout 1-172800 s (their document parameters). */
const SHELL_DOCUMENTS = new Set(['AWS-RunShellScript', 'AWS-RunPowerShellScript']);
const EXECUTION_TIMEOUT_MAX = 172_800;

export function ssmHandlers(world: World, state: SsmState): Handlers {
  return {
    SendCommand: (input: SendCommandCommandInput): Output<SendCommandCommandOutput> => {
      if (!input.DocumentName) throw error('ValidationException', 'DocumentName is required');
      const documentName = input.DocumentName.replace(/^arn:[^:]+:ssm:[^:]*:\d*:document\//, '');
      const effect = state.documents.get(documentName);
      if (!effect && state.strictDocuments && !/^AWS(EC2|Support|FleetManager|-)/.test(documentName)) {
        throw error('InvalidDocument', `Document with name ${documentName} does not exist.`);
      }
      const timeoutSeconds = input.TimeoutSeconds ?? DEFAULT_DELIVERY_TIMEOUT_SECONDS;
      if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < DELIVERY_TIMEOUT_RANGE.min || timeoutSeconds > DELIVERY_TIMEOUT_RANGE.max) {
        throw error('ValidationException', `TimeoutSeconds must be between ${DELIVERY_TIMEOUT_RANGE.min} and ${DELIVERY_TIMEOUT_RANGE.max}; got ${timeoutSeconds}`);
      }
      const parameters = structuredClone(input.Parameters ?? {});
      const executionTimeout = parameters.executionTimeout?.[0];
      if (SHELL_DOCUMENTS.has(documentName) && executionTimeout !== undefined && !validExecutionTimeout(executionTimeout)) {
        throw error('InvalidParameters', `executionTimeout must be a whole number of seconds from 1 to ${EXECUTION_TIMEOUT_MAX}; got '${executionTimeout}'`);
      }
      const instanceIds = resolveTargets(world, input);
      if (instanceIds.length === 0) throw error('ValidationException', 'InstanceIds or Targets must name at least one instance');
      if (instanceIds.length > 50) throw error('ValidationException', 'InstanceIds may list at most 50 instances');
      // API Reference, SendCommand, InvalidInstanceId: "SSM Agent isn't running ... isn't registered
      // with the SSM endpoint ... The managed node isn't in a valid state".
      const unusable = instanceIds.filter((id) => {
        const instance = world.instances.get(id);
        return !instance || !agentOnline(world, instance);
      });
      if (unusable.length > 0) {
        throw error('InvalidInstanceId', `Instances [[${unusable.join(', ')}]] not in a valid state for account ${world.accountId}`);
      }

      const now = world.now();
      const command: SimCommand = {
        commandId: world.uuid(),
        documentName,
        comment: input.Comment ?? '',
        parameters,
        instanceIds,
        targets: structuredClone(input.Targets ?? []),
        requestedAt: now,
        timeoutSeconds,
        executionTimeoutMs: executionTimeoutMs(world, parameters),
        invocations: new Map(),
      };
      state.commands.set(command.commandId, command);
      for (const instanceId of instanceIds) {
        const instance = world.instances.get(instanceId)!;
        const run: DocumentRun = { commandId: command.commandId, documentName, parameters, requestedAt: now, status: 'Pending' };
        instance.documents.push(run);
        const invocation: SimInvocation = {
          command,
          instanceId,
          status: 'Pending',
          statusDetails: 'Pending',
          responseCode: -1,
          stdout: '',
          stderr: '',
          visibleAt: now + world.faults.invocationVisibilityLagMs,
          run,
        };
        command.invocations.set(instanceId, invocation);
        deliver(world, command, instance, invocation, effect);
      }
      return { Command: describeCommand(world, command) };
    },

    GetCommandInvocation: (input: GetCommandInvocationCommandInput): Output<GetCommandInvocationCommandOutput> => {
      const command = input.CommandId ? state.commands.get(input.CommandId) : undefined;
      const invocation = input.InstanceId ? command?.invocations.get(input.InstanceId) : undefined;
      if (!command || !invocation || world.now() < invocation.visibleAt) {
        throw error('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation');
      }
      const pluginName = input.PluginName ?? pluginFor(command.documentName);
      const started = invocation.startedAt !== undefined ? new Date(invocation.startedAt).toISOString() : '';
      const ended = invocation.endedAt !== undefined ? new Date(invocation.endedAt).toISOString() : '';
      const elapsed =
        invocation.startedAt !== undefined ? `PT${(((invocation.endedAt ?? world.now()) - invocation.startedAt) / 1000).toFixed(3)}S` : '';
      return {
        CommandId: command.commandId,
        InstanceId: invocation.instanceId,
        Comment: command.comment,
        DocumentName: command.documentName,
        DocumentVersion: '$DEFAULT',
        PluginName: pluginName,
        ResponseCode: invocation.responseCode,
        ExecutionStartDateTime: started,
        ExecutionElapsedTime: elapsed,
        ExecutionEndDateTime: ended,
        Status: invocation.status,
        StatusDetails: invocation.statusDetails,
        StandardOutputContent: invocation.stdout,
        StandardOutputUrl: '',
        StandardErrorContent: invocation.stderr,
        StandardErrorUrl: '',
        CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      };
    },

    ListCommands: (input: ListCommandsCommandInput): Output<ListCommandsCommandOutput> => {
      if (input.CommandId && !state.commands.has(input.CommandId)) throw error('InvalidCommandId', `Command ${input.CommandId} does not exist`);
      // Eventual consistency: a command sent within the listing lag is not listed yet.
      const listedBy = world.now() - world.latency.ssm.commandListingLagMs;
      let commands = (input.CommandId ? [state.commands.get(input.CommandId)!] : [...state.commands.values()].reverse()).filter((c) => c.requestedAt <= listedBy);
      if (input.InstanceId) commands = commands.filter((c) => c.invocations.has(input.InstanceId!));
      for (const filter of input.Filters ?? []) {
        const value = filter.value ?? '';
        switch (filter.key) {
          case 'DocumentName':
            commands = commands.filter((c) => c.documentName === value);
            break;
          case 'Status':
            commands = commands.filter((c) => commandStatus(c) === value);
            break;
          case 'InvokedAfter':
            commands = commands.filter((c) => c.requestedAt >= Date.parse(value));
            break;
          case 'InvokedBefore':
            commands = commands.filter((c) => c.requestedAt <= Date.parse(value));
            break;
          case 'ExecutionStage':
            commands = commands.filter((c) => (value === 'Complete') === isComplete(c));
            break;
          default:
            throw error('InvalidFilterKey', `The filter key ${filter.key} is not valid`);
        }
      }
      const { page, nextToken } = paginate(commands, input.MaxResults, input.NextToken, { min: 1, max: 50, default: 50 }, error, 'InvalidNextToken');
      return { Commands: page.map((c) => describeCommand(world, c)), ...(nextToken ? { NextToken: nextToken } : {}) };
    },

    // API Reference, CancelCommand: "Attempts to cancel the command ... If not provided [InstanceIds],
    // the command is canceled on every node on which it was requested." An empty HTTP 200 answer.
    CancelCommand: (input: CancelCommandCommandInput): Output<CancelCommandCommandOutput> => {
      const command = input.CommandId ? state.commands.get(input.CommandId) : undefined;
      if (!command) throw error('InvalidCommandId', `The specified command ID isn't valid: ${input.CommandId ?? '(none)'}`);
      const targets = input.InstanceIds?.length ? input.InstanceIds : command.instanceIds;
      const unknown = targets.filter((id) => !command.invocations.has(id));
      if (unknown.length > 0) throw error('InvalidInstanceId', `Command ${command.commandId} was not sent to [[${unknown.join(', ')}]]`);
      for (const id of targets) cancelInvocation(world, command.invocations.get(id)!);
      return {};
    },

    // API Reference, DescribeInstanceInformation: "does not return information for nodes that are
    // either Stopped or Terminated"; an instance id that is not valid is an error; Filters and the
    // deprecated InstanceInformationFilterList may not be combined; MaxResults 5-50.
    DescribeInstanceInformation: (input: DescribeInstanceInformationCommandInput): Output<DescribeInstanceInformationCommandOutput> => {
      const filters = [
        ...(input.Filters ?? []).map((f) => ({ key: f.Key ?? '', values: f.Values ?? [] })),
        ...(input.InstanceInformationFilterList ?? []).map((f) => ({ key: f.key ?? '', values: f.valueSet ?? [], legacy: true })),
      ];
      if (input.Filters?.length && input.InstanceInformationFilterList?.length) {
        throw error('InvalidFilterKey', 'Filters and InstanceInformationFilterList cannot be used together');
      }
      for (const filter of filters) {
        if (filter.values.length === 0) throw error('InvalidInstanceInformationFilterValue', `The filter ${filter.key} needs at least one value`);
        if (filter.key === 'InstanceIds') {
          const unknown = filter.values.filter((id) => !world.instances.has(id));
          if (unknown.length > 0) throw error('InvalidInstanceId', `Instance ids [${unknown.join(', ')}] are not valid`);
        }
      }
      const listed = [...world.instances.values()].filter(
        (instance) => instance.agent.registeredAt !== null && instance.state !== 'stopped' && instance.state !== 'terminated',
      );
      const matching = listed
        .map((instance) => ({ instance, info: instanceInformation(world, instance) }))
        .filter(({ instance, info }) => filters.every((f) => matchesInstanceFilter(world, instance, info, f.key, f.values, 'legacy' in f)));
      const { page, nextToken } = paginate(matching, input.MaxResults, input.NextToken, { min: 5, max: 50, default: 50 }, error, 'InvalidNextToken');
      return { InstanceInformationList: page.map(({ info }) => info), ...(nextToken ? { NextToken: nextToken } : {}) };
    },
  };
}

function validExecutionTimeout(value: string): boolean {
  return /^[1-9][0-9]*$/.test(value) && Number(value) <= EXECUTION_TIMEOUT_MAX;
}

/**
 * How long a delivered command may run. AWS-RunShellScript's executionTimeout parameter defaults
 * to 3600 s (its document); ASSUMPTION: other documents' aws:runShellScript steps have the same
 * plugin default (timeoutSeconds 3600, Command document plugin reference).
 */
function executionTimeoutMs(world: World, parameters: Record<string, string[]>): number {
  const seconds = Number(parameters.executionTimeout?.[0]);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : world.latency.ssm.defaultExecutionTimeoutMs;
}

function instanceInformation(world: World, instance: SimInstance): InstanceInformation {
  const online = agentOnline(world, instance);
  const eni = world.enis.get(instance.networkInterfaceId);
  const ip = eni?.primaryIp ?? '';
  return {
    InstanceId: instance.instanceId,
    PingStatus: online ? 'Online' : 'ConnectionLost',
    LastPingDateTime: new Date(instance.agent.lastPingAt ?? world.now()),
    AgentVersion: '3.3.1142.0',
    IsLatestVersion: true,
    PlatformType: 'Linux',
    PlatformName: 'Amazon Linux',
    PlatformVersion: '2023',
    ResourceType: 'EC2Instance',
    IPAddress: ip,
    ComputerName: `ip-${ip.replaceAll('.', '-')}.${world.region}.compute.internal`,
    SourceId: instance.instanceId,
    SourceType: 'AWS::EC2::Instance',
  };
}

function matchesInstanceFilter(world: World, instance: SimInstance, info: InstanceInformation, key: string, values: string[], legacy: boolean): boolean {
  switch (key) {
    case 'InstanceIds':
      return values.includes(instance.instanceId);
    case 'PingStatus':
      return values.includes(info.PingStatus ?? '');
    case 'PlatformTypes':
      return values.includes(info.PlatformType ?? '');
    case 'ResourceType':
      return values.includes(info.ResourceType ?? '');
    case 'AgentVersion':
      return values.includes(info.AgentVersion ?? '');
    default:
      if (!legacy && key === 'tag-key') return visibleTags(world, instance).some(([k]) => values.includes(k));
      if (!legacy && key.startsWith('tag:')) return visibleTags(world, instance).some(([k, v]) => k === key.slice(4) && values.includes(v));
      throw error('InvalidFilterKey', `The filter key ${key} is not valid`);
  }
}

function resolveTargets(world: World, input: SendCommandCommandInput): string[] {
  if (input.InstanceIds?.length && input.Targets?.length) throw error('ValidationException', 'Specify InstanceIds or Targets, not both');
  if (input.InstanceIds?.length) return [...new Set(input.InstanceIds)];
  const ids = new Set<string>();
  for (const target of input.Targets ?? []) {
    const values = target.Values ?? [];
    if (target.Key === 'InstanceIds') values.forEach((v) => ids.add(v));
    else if (target.Key?.startsWith('tag:')) {
      const key = target.Key.slice(4);
      for (const instance of world.instances.values()) {
        if (visibleTags(world, instance).some(([k, v]) => k === key && values.includes(v))) ids.add(instance.instanceId);
      }
    } else throw error('ValidationException', `Target key ${target.Key} is not simulated (use InstanceIds or tag:<key>)`);
  }
  return [...ids];
}

function setStatus(world: World, invocation: SimInvocation, status: CommandInvocationStatus, details: string): void {
  const changed = invocation.status !== status;
  invocation.status = status;
  invocation.statusDetails = details;
  invocation.run.status = status;
  if (DONE.has(status)) {
    invocation.endedAt = world.now();
    invocation.run.completedAt = world.now();
  }
  if (changed) emitStatusChange(world, invocation);
}

/**
 * Run Command's events ("Amazon EventBridge event examples for Systems Manager", Run Command
 * events): "EC2 Command Invocation Status-change Notification" per instance (command-id,
 * document-name, instance-id, requested-date-time, status), and "EC2 Command Status-change
 * Notification" when the command's own status changes (command-id, document-name,
 * expire-after, parameters, requested-date-time, status; its instances in resources).
 */
function emitStatusChange(world: World, invocation: SimInvocation): void {
  const command = invocation.command;
  const requested = new Date(command.requestedAt).toISOString();
  world.emit('aws.ssm', 'EC2 Command Invocation Status-change Notification', [world.arn('ec2', `instance/${invocation.instanceId}`)], {
    'command-id': command.commandId,
    'document-name': command.documentName,
    'instance-id': invocation.instanceId,
    'requested-date-time': requested,
    status: invocation.status,
  });
  const status = commandStatus(command);
  if (status === command.lastStatus) return;
  command.lastStatus = status;
  world.emit('aws.ssm', 'EC2 Command Status-change Notification', command.instanceIds.map((id) => world.arn('ec2', `instance/${id}`)), {
    'command-id': command.commandId,
    'document-name': command.documentName,
    'expire-after': new Date(command.requestedAt + command.timeoutSeconds * 1000 + command.executionTimeoutMs).toISOString(),
    parameters: structuredClone(command.parameters),
    'requested-date-time': requested,
    status,
  });
}

/**
 * Pending until the agent picks the command up: after deliveryMs if it is Online then, else when
 * it next comes Online; past TimeoutSeconds it is DeliveryTimedOut and never runs.
 */
function deliver(world: World, command: SimCommand, instance: SimInstance, invocation: SimInvocation, effect?: DocumentEffect): void {
  const pickUp = () => {
    if (invocation.status !== 'Pending') return;
    if (!agentOnline(world, instance)) {
      instance.agent.whenOnline.push(() => world.clock.after(world.latency.ssm.deliveryMs, pickUp, `ssm ${command.commandId} delivery`));
      return;
    }
    execute(world, command, instance, invocation, effect);
  };
  world.clock.after(world.latency.ssm.deliveryMs, pickUp, `ssm ${command.commandId} delivery`);
  world.clock.after(
    command.timeoutSeconds * 1000,
    () => {
      if (invocation.status !== 'Pending') return;
      invocation.stderr = `The command was not delivered to ${instance.instanceId} within ${command.timeoutSeconds} s`;
      setStatus(world, invocation, 'TimedOut', 'DeliveryTimedOut');
    },
    `ssm ${command.commandId} delivery timeout`,
  );
}

/** The agent runs the document: done after its run time, unless it is cancelled, exceeds executionTimeout or the instance goes down. */
function execute(world: World, command: SimCommand, instance: SimInstance, invocation: SimInvocation, effect?: DocumentEffect): void {
  const generation = instance.bootGeneration;
  const interrupted = () => instance.bootGeneration !== generation || instance.state !== 'running';
  invocation.startedAt = world.now();
  setStatus(world, invocation, 'InProgress', 'InProgress');
  const fault = world.faults.takeCommandFault(instance.instanceId, command.documentName);
  const runMs = fault?.mode === 'hang' ? Number.POSITIVE_INFINITY : (effect?.runMs ?? world.latency.ssm.documentRunMsByName[command.documentName] ?? world.latency.ssm.documentRunMs);
  if (runMs >= command.executionTimeoutMs) {
    world.clock.after(
      command.executionTimeoutMs,
      () => {
        if (invocation.status !== 'InProgress') return;
        invocation.stderr = fault?.mode === 'hang' ? 'Command execution timed out (fault injected)' : `Command execution timed out after ${command.executionTimeoutMs / 1000} s`;
        setStatus(world, invocation, 'TimedOut', 'ExecutionTimedOut');
      },
      `ssm ${command.commandId} execution timeout`,
    );
    return;
  }
  world.clock.after(
    runMs,
    () => {
      if (invocation.status !== 'InProgress') return;
      const fail = (message: string) => {
        invocation.responseCode = 1;
        invocation.stderr = message;
        setStatus(world, invocation, 'Failed', 'Failed');
      };
      if (interrupted()) return fail('The instance stopped or rebooted while the command ran');
      if (fault) return fail(fault.message);
      const problem = applyEffect(world, instance, command, effect);
      if (problem) return fail(problem);
      invocation.responseCode = 0;
      invocation.stdout = `${command.documentName} completed on ${instance.instanceId}`;
      setStatus(world, invocation, 'Success', 'Success');
    },
    `ssm ${command.commandId} on ${instance.instanceId}`,
  );
}

/**
 * A Pending invocation is cancelled at once (it never reaches the agent); an InProgress one is
 * Cancelling until the agent gets the cancel (deliveryMs), then Cancelled and its document's
 * effect never happens. Finished invocations stay as they are.
 */
function cancelInvocation(world: World, invocation: SimInvocation): void {
  if (invocation.status === 'Pending') {
    setStatus(world, invocation, 'Cancelled', 'Cancelled');
    return;
  }
  if (invocation.status !== 'InProgress') return;
  setStatus(world, invocation, 'Cancelling', 'Cancelling');
  world.clock.after(
    world.latency.ssm.deliveryMs,
    () => {
      if (invocation.status !== 'Cancelling') return;
      invocation.stderr = 'The command was cancelled';
      setStatus(world, invocation, 'Cancelled', 'Cancelled');
    },
    `ssm cancel on ${invocation.instanceId}`,
  );
}

function applyEffect(world: World, instance: SimInstance, command: SimCommand, effect?: DocumentEffect): string | undefined {
  if (!effect) return undefined;
  for (const app of effect.starts ?? []) {
    if (!instance.apps.get(app)?.installed && !(effect.installs ?? []).includes(app)) return `application ${app} is not installed on ${instance.instanceId}`;
  }
  for (const app of effect.uninstalls ?? []) uninstallApp(world, instance, app);
  for (const app of effect.stops ?? []) if (instance.apps.has(app)) setAppRunning(world, instance, app, false);
  for (const app of effect.installs ?? []) installApp(world, instance, app, true);
  for (const app of effect.starts ?? []) setAppRunning(world, instance, app, true);
  if (!effect.run) return undefined;
  const context: DocumentContext = {
    instanceId: instance.instanceId,
    documentName: command.documentName,
    parameters: structuredClone(command.parameters),
    apps: new Map([...instance.apps].map(([app, r]) => [app, { installed: r.installed, running: r.running }])),
    install: (app, start = true) => installApp(world, instance, app, start),
    start: (app) => setAppRunning(world, instance, app, true),
    stop: (app) => setAppRunning(world, instance, app, false),
    uninstall: (app) => uninstallApp(world, instance, app),
  };
  return effect.run(context) ?? undefined;
}

function pluginFor(documentName: string): string {
  if (documentName === 'AWS-RunPowerShellScript') return 'aws:runPowerShellScript';
  return 'aws:runShellScript';
}

function isComplete(command: SimCommand): boolean {
  return [...command.invocations.values()].every((i) => DONE.has(i.status));
}

function commandStatus(command: SimCommand): CommandStatus {
  const statuses = [...command.invocations.values()].map((i) => i.status);
  if (statuses.every((s) => s === 'Pending')) return 'Pending';
  if (!statuses.every((s) => DONE.has(s))) return statuses.includes('Cancelling') ? 'Cancelling' : 'InProgress';
  if (statuses.includes('Failed')) return 'Failed';
  if (statuses.includes('TimedOut')) return 'TimedOut';
  if (statuses.includes('Cancelled')) return 'Cancelled';
  return 'Success';
}

function describeCommand(world: World, command: SimCommand): Command {
  const invocations = [...command.invocations.values()];
  const done = invocations.filter((i) => DONE.has(i.status));
  return {
    CommandId: command.commandId,
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    Comment: command.comment,
    // API Reference, Command: ExpiresAfter "is calculated based on the total timeout": delivery + execution.
    ExpiresAfter: new Date(command.requestedAt + command.timeoutSeconds * 1000 + command.executionTimeoutMs),
    Parameters: structuredClone(command.parameters),
    InstanceIds: [...command.instanceIds],
    Targets: structuredClone(command.targets),
    RequestedDateTime: new Date(command.requestedAt),
    Status: commandStatus(command),
    StatusDetails: commandStatus(command),
    MaxConcurrency: '50',
    MaxErrors: '0',
    TargetCount: invocations.length,
    CompletedCount: done.length,
    // API Reference, Command: ErrorCount counts Failed and Execution Timed Out; delivery timeouts apart.
    ErrorCount: done.filter((i) => i.status === 'Failed' || i.statusDetails === 'ExecutionTimedOut').length,
    DeliveryTimedOutCount: done.filter((i) => i.statusDetails === 'DeliveryTimedOut').length,
    TimeoutSeconds: command.timeoutSeconds,
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: 'Command' },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    OutputS3BucketName: '',
    OutputS3KeyPrefix: '',
    OutputS3Region: world.region,
  };
}
