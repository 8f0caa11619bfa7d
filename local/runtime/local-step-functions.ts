// Step Functions for the local runtime, behind a real SFNClient (the intake Lambda, the callback
// Lambda and the CLI build the same client and commands as in AWS; only the transport differs).
// Executions run on the WorkflowRunner, each as one flow of virtual time; SendTaskSuccess,
// SendTaskFailure and SendTaskHeartbeat resume its callback tasks (task-tokens.ts).
import type { SFNClient } from '@aws-sdk/client-sfn';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../state-machine-definition.ts';
import type { TaskTokens } from './task-tokens.ts';
import type { VirtualTime } from './virtual-time.ts';
import type { ExecutionResult, WorkflowRunner } from './workflow-runner.ts';

export const LOCAL_STATE_MACHINE_ARN = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:rapid-failover-local`;

export interface LocalExecution {
  name: string;
  executionArn: string;
  input: string;
  startedAt: Date;
  /** Starts that collapsed onto this execution (same name). */
  duplicateStarts: number;
  done: Promise<ExecutionResult>;
  result?: ExecutionResult;
}

class AwsServiceError extends Error {
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 400 };
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** What a throttled request gets: the SDK marks a ThrottlingException retryable as throttling. */
class ThrottlingException extends AwsServiceError {
  readonly $retryable = { throttling: true };
  constructor() {
    super('ThrottlingException', 'Rate exceeded');
  }
}

export class LocalStepFunctions {
  readonly executions = new Map<string, LocalExecution>();
  /** Command ('StartExecution'…) → throttled until this virtual time (ms). */
  private readonly throttledUntil = new Map<string, number>();
  /** Requests answered with ThrottlingException, by command. */
  readonly throttled = new Map<string, number>();

  constructor(
    private readonly runner: WorkflowRunner,
    private readonly time: VirtualTime,
    private readonly tokens?: TaskTokens,
  ) {}

  /** StartExecution as AWS does it for a Standard state machine: a name is used once. */
  start(name: string, input: string): LocalExecution {
    const existing = this.executions.get(name);
    if (existing) {
      existing.duplicateStarts++;
      // Same name and input while running: AWS answers with the same execution.
      if (!existing.result && existing.input === input) return existing;
      throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.executionArn}'`);
    }
    const execution: LocalExecution = {
      name,
      executionArn: `${LOCAL_STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
      input,
      startedAt: this.time.now(),
      duplicateStarts: 0,
      done: Promise.resolve(null as never),
    };
    execution.done = this.time
      .flow(() => this.runner.execute(name, JSON.parse(input)))
      .then((result) => (execution.result = result));
    this.executions.set(name, execution);
    return execution;
  }

  private requireTokens(): TaskTokens {
    if (!this.tokens) throw new AwsServiceError('InvalidToken', 'this local Step Functions runs no callback tasks');
    return this.tokens;
  }

  /**
   * From now until `untilMs` (virtual time), every `command` request is refused with
   * ThrottlingException, as Step Functions refuses requests past its API rate ("Quotas related
   * to API action throttling", Step Functions Developer Guide: StartExecution has a bucket and a
   * refill rate per account and Region).
   */
  throttle(command: 'StartExecution' | 'DescribeExecution' | 'ListExecutions', untilMs: number): void {
    this.throttledUntil.set(`${command}Command`, untilMs);
  }

  running(): number {
    return [...this.executions.values()].filter((e) => !e.result).length;
  }

  async settled(): Promise<ExecutionResult[]> {
    return Promise.all([...this.executions.values()].map((e) => e.done));
  }

  async handle(command: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.time.now().getTime() < (this.throttledUntil.get(command) ?? 0)) {
      this.throttled.set(command, (this.throttled.get(command) ?? 0) + 1);
      throw new ThrottlingException();
    }
    switch (command) {
      case 'StartExecutionCommand': {
        if (input.stateMachineArn !== LOCAL_STATE_MACHINE_ARN) {
          throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(input.stateMachineArn)}'`);
        }
        const execution = this.start(String(input.name), String(input.input ?? '{}'));
        return { executionArn: execution.executionArn, startDate: execution.startedAt };
      }
      case 'DescribeExecutionCommand': {
        const execution = [...this.executions.values()].find((e) => e.executionArn === input.executionArn);
        if (!execution) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(input.executionArn)}'`);
        return describe(execution);
      }
      case 'ListExecutionsCommand':
        return { executions: [...this.executions.values()].map(describe) };
      // AWS Step Functions API Reference, SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat:
      // an empty answer; InvalidToken, TaskTimedOut (closed already), InvalidOutput.
      case 'SendTaskSuccessCommand':
        this.requireTokens().succeed(String(input.taskToken ?? ''), String(input.output ?? ''));
        return {};
      case 'SendTaskFailureCommand':
        this.requireTokens().fail(String(input.taskToken ?? ''), input.error as string | undefined, input.cause as string | undefined);
        return {};
      case 'SendTaskHeartbeatCommand':
        this.requireTokens().heartbeat(String(input.taskToken ?? ''));
        return {};
      default:
        throw new Error(`local Step Functions does not implement ${command}`);
    }
  }
}

function describe(execution: LocalExecution): Record<string, unknown> {
  const result = execution.result;
  return {
    executionArn: execution.executionArn,
    stateMachineArn: LOCAL_STATE_MACHINE_ARN,
    name: execution.name,
    status: result ? result.status : 'RUNNING',
    startDate: execution.startedAt,
    stopDate: result?.endedAt,
    input: execution.input,
    output: result?.status === 'SUCCEEDED' ? JSON.stringify(result.output) : undefined,
    error: result?.error?.Error,
    cause: result?.error ? String(result.error.Cause) : undefined,
  };
}

/** The middleware that answers an SFNClient's commands locally (a test can add its own before it). */
export const LOCAL_STEP_FUNCTIONS_MIDDLEWARE = 'localStepFunctions';

/** Sends an SFNClient's commands to the local service instead of AWS. */
export function attachLocalStepFunctions(client: SFNClient, service: LocalStepFunctions): SFNClient {
  client.middlewareStack.add(
    (_next, context) => async (args) => ({
      output: { $metadata: { httpStatusCode: 200 }, ...(await service.handle(context.commandName ?? '', args.input as Record<string, unknown>)) } as never,
      response: {},
    }),
    { step: 'initialize', name: LOCAL_STEP_FUNCTIONS_MIDDLEWARE, priority: 'high' },
  );
  return client;
}
