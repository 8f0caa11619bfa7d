// SSM Run Command: SendCommand, GetCommandInvocation, ListCommands. A command runs on running
// instances: Pending until the agent picks it up, InProgress while the document runs, then
// Success (and the document's effects happen), or Failed / TimedOut when a fault is injected.
import type {
  Command,
  CommandInvocationStatus,
  CommandStatus,
  GetCommandInvocationCommandInput,
  GetCommandInvocationCommandOutput,
  ListCommandsCommandInput,
  ListCommandsCommandOutput,
  SendCommandCommandInput,
  SendCommandCommandOutput,
} from '@aws-sdk/client-ssm';
import { errorsFor } from './errors.ts';
import { installApp, setAppRunning, uninstallApp, visibleTags } from './instances.ts';
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
  timeoutSeconds: number;
  invocations: Map<string, SimInvocation>;
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

export function ssmHandlers(world: World, state: SsmState): Handlers {
  return {
    SendCommand: (input: SendCommandCommandInput): Output<SendCommandCommandOutput> => {
      if (!input.DocumentName) throw error('ValidationException', 'DocumentName is required');
      const documentName = input.DocumentName.replace(/^arn:[^:]+:ssm:[^:]*:\d*:document\//, '');
      const effect = state.documents.get(documentName);
      if (!effect && state.strictDocuments && !/^AWS(EC2|Support|FleetManager|-)/.test(documentName)) {
        throw error('InvalidDocument', `Document with name ${documentName} does not exist.`);
      }
      const instanceIds = resolveTargets(world, input);
      if (instanceIds.length === 0) throw error('ValidationException', 'InstanceIds or Targets must name at least one instance');
      if (instanceIds.length > 50) throw error('ValidationException', 'InstanceIds may list at most 50 instances');
      const unusable = instanceIds.filter((id) => world.instances.get(id)?.state !== 'running');
      if (unusable.length > 0) {
        throw error('InvalidInstanceId', `Instances [[${unusable.join(', ')}]] not in a valid state for account ${world.accountId}`);
      }

      const now = world.now();
      const parameters = structuredClone(input.Parameters ?? {});
      const command: SimCommand = {
        commandId: world.uuid(),
        documentName,
        comment: input.Comment ?? '',
        parameters,
        instanceIds,
        targets: structuredClone(input.Targets ?? []),
        requestedAt: now,
        timeoutSeconds: input.TimeoutSeconds ?? 3_600,
        invocations: new Map(),
      };
      state.commands.set(command.commandId, command);
      for (const instanceId of instanceIds) {
        const instance = world.instances.get(instanceId)!;
        const run: DocumentRun = { commandId: command.commandId, documentName, parameters, requestedAt: now, status: 'Pending' };
        instance.documents.push(run);
        const invocation: SimInvocation = {
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
        execute(world, command, instance, invocation, effect);
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
      let commands = input.CommandId ? [state.commands.get(input.CommandId)!] : [...state.commands.values()].reverse();
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
  };
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

function execute(world: World, command: SimCommand, instance: SimInstance, invocation: SimInvocation, effect?: DocumentEffect): void {
  const generation = instance.bootGeneration;
  const setStatus = (status: CommandInvocationStatus, details: string) => {
    invocation.status = status;
    invocation.statusDetails = details;
    invocation.run.status = status;
    if (DONE.has(status)) {
      invocation.endedAt = world.now();
      invocation.run.completedAt = world.now();
    }
  };
  const interrupted = () => instance.bootGeneration !== generation || instance.state !== 'running';
  world.clock.after(
    world.latency.ssm.deliveryMs,
    () => {
      if (interrupted()) {
        setStatus('Failed', 'Undeliverable');
        return;
      }
      invocation.startedAt = world.now();
      setStatus('InProgress', 'InProgress');
      const fault = world.faults.takeCommandFault(instance.instanceId, command.documentName);
      if (fault?.mode === 'hang') {
        const timeoutMs = Number(command.parameters.executionTimeout?.[0]) * 1000 || world.latency.ssm.defaultExecutionTimeoutMs;
        world.clock.after(timeoutMs, () => {
          if (DONE.has(invocation.status)) return;
          invocation.stderr = 'Command execution timed out (fault injected)';
          setStatus('TimedOut', 'ExecutionTimedOut');
        });
        return;
      }
      const runMs = effect?.runMs ?? world.latency.ssm.documentRunMsByName[command.documentName] ?? world.latency.ssm.documentRunMs;
      world.clock.after(
        runMs,
        () => {
          if (interrupted()) {
            invocation.responseCode = 1;
            invocation.stderr = 'The instance stopped or rebooted while the command ran';
            setStatus('Failed', 'Failed');
            return;
          }
          if (fault) {
            invocation.responseCode = 1;
            invocation.stderr = fault.message;
            setStatus('Failed', 'Failed');
            return;
          }
          const problem = applyEffect(world, instance, command, effect);
          if (problem) {
            invocation.responseCode = 1;
            invocation.stderr = problem;
            setStatus('Failed', 'Failed');
            return;
          }
          invocation.responseCode = 0;
          invocation.stdout = `${command.documentName} completed on ${instance.instanceId}`;
          setStatus('Success', 'Success');
        },
        `ssm ${command.commandId} on ${instance.instanceId}`,
      );
    },
    `ssm ${command.commandId} delivery`,
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
  if (!statuses.every((s) => DONE.has(s))) return 'InProgress';
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
    ExpiresAfter: new Date(command.requestedAt + (command.timeoutSeconds + 3_600) * 1000),
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
    ErrorCount: done.filter((i) => i.status !== 'Success').length,
    DeliveryTimedOutCount: 0,
    TimeoutSeconds: command.timeoutSeconds,
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: 'Command' },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    OutputS3BucketName: '',
    OutputS3KeyPrefix: '',
    OutputS3Region: world.region,
  };
}
