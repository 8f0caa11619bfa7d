// Runs the synthesized state machine definition with aws-local-stepfunctions, each Task
// invoking the real handler in-process. Retry intervals and Wait states take virtual time:
// the library is told to wait 0 ms, and the runner sleeps the interval AWS would have waited
// on the virtual clock instead (a Wait state's time, when the states entered between two tasks
// pass through it). So do Step Functions' own state transitions (every state entered, derived
// from the definition between two tasks, and every retry) and each Lambda invocation (cold or
// warm, see lambda-environments.ts).
//
// Callback tasks (`.waitForTaskToken`), which the library does not support: the context object
// gives each task attempt its own `$$.Task.Token` (task-tokens.ts); the task invokes its Lambda
// (the optimized `lambda:invoke` integration hands it `Parameters.Payload`), then waits until the
// token is resumed through the local Step Functions (SendTaskSuccess / SendTaskFailure) or its
// TimeoutSeconds(Path) / HeartbeatSeconds(Path) pass, in virtual time. The runner enforces those
// itself, resolved against the state's input; the library, whose timer is wall-clock, gets the
// same definition without them on callback tasks (nothing else differs).
import { createHash } from 'node:crypto';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LambdaEnvironments } from './lambda-environments.ts';
import { legToEnd, legToTask, type Definition, type TaskEntry } from './state-path.ts';
import { TaskError, type TaskTokens } from './task-tokens.ts';

export type TaskHandler = (input: unknown) => Promise<unknown>;

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxAttempts?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

interface StateDefinition {
  Type: string;
  Next?: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Retry?: Retrier[];
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number;
  HeartbeatSecondsPath?: string;
}

/** The optimized Lambda integration (`arn:aws:states:::lambda:invoke`, with or without a callback). */
const LAMBDA_INVOKE = /^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/;
const CALLBACK = '.waitForTaskToken';

export interface StepTiming {
  state: string;
  startedAt: Date;
  endedAt: Date;
  invocations: number;
  /** The error the last invocation ended with, if it failed. */
  error?: string;
}

export interface ExecutionResult {
  name: string;
  status: 'SUCCEEDED' | 'FAILED';
  output: unknown;
  error?: { Error: string; Cause: unknown };
  startedAt: Date;
  endedAt: Date;
  steps: StepTiming[];
  /** State names in the order the execution entered them (tasks only), retries collapsed. */
  path: string[];
}

export interface WorkflowRunnerOptions {
  definition: Record<string, unknown>;
  /** Task state name → the handler it runs. */
  handlers: Record<string, TaskHandler>;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Called as each task starts and ends (for a progress view). */
  onTask?: (event: TaskEvent) => void;
  /** Execution environments of the functions the Tasks invoke (default: invocations take no time). */
  environments?: LambdaEnvironments;
  /** Step Functions' latency per state transition (default 0). */
  stateTransitionMs?: number;
  /** Tokens of callback tasks, shared with the local Step Functions' SendTask* (needed when the definition has any). */
  taskTokens?: TaskTokens;
}

export interface TaskEvent {
  execution: string;
  state: string;
  phase: 'start' | 'retry' | 'end' | 'error';
  at: Date;
  error?: string;
}

const DEFAULTS = { IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 } as const;

/** Definitions validated in this process: validating compiles JSON schemas (a few hundred ms) each time. */
const validated = new Set<string>();

/**
 * aws-local-stepfunctions 3 needs Node 22 (its package.json engines; it uses Promise.withResolvers).
 * On Node 20 every Task state fails inside the library and the execution takes its Catch, which
 * reads like a defect of the workflow ("no path in the definition from StartAt to
 * NotifyAdministrators"): say what is wrong instead.
 */
export function requireNode22(version = process.versions.node): void {
  if (Number(version.split('.')[0]) < 22) {
    throw new Error(`the local runtime needs Node.js 22 or later (aws-local-stepfunctions uses Promise.withResolvers); this is Node ${version}. Run it through npm (npm start, npx failover …): npm scripts use the Node 22 that npm ci installs in node_modules/.bin`);
  }
}

export class WorkflowRunner {
  private readonly machine: StateMachine;
  private readonly states: Record<string, StateDefinition>;

  constructor(private readonly options: WorkflowRunnerOptions) {
    requireNode22();
    this.states = options.definition.States as Record<string, StateDefinition>;
    for (const [name, state] of Object.entries(this.states)) {
      if (state.Type === 'Task' && !options.handlers[name]) throw new Error(`no local handler for task state ${name}`);
      if (isCallback(state) && !options.taskTokens) throw new Error(`task state ${name} waits for a task token: the runner needs taskTokens`);
    }
    const forLibrary = withoutCallbackTimeouts(options.definition);
    const key = JSON.stringify(forLibrary);
    this.machine = new StateMachine(forLibrary as unknown as StateMachineDefinition, { validationOptions: { noValidate: validated.has(key) } });
    validated.add(key);
  }

  async execute(name: string, input: unknown): Promise<ExecutionResult> {
    const startedAt = this.options.now();
    const tracker = new ExecutionTracker(name, this.states, this.options);
    const zero = Object.fromEntries(Object.keys(this.states).map((s) => [s, 0]));
    const tokens = this.options.taskTokens;
    const { result } = this.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: tracker.handlers(),
        waitTimeOverrides: zero,
        retryIntervalOverrides: zero,
      },
      context: {
        Execution: { Name: name, Id: name, StartTime: startedAt.toISOString(), Input: input },
        // $$.Task.Token: each callback task attempt takes the current token and leaves a new one.
        Task: {
          get Token() {
            return tokens?.tokenFor(name);
          },
        },
      } as never,
    });
    try {
      const output = await result;
      await tracker.end('SUCCEEDED');
      return { name, status: 'SUCCEEDED', output, startedAt, endedAt: this.options.now(), steps: tracker.timings(), path: tracker.path };
    } catch (error) {
      if (!(error instanceof ExecutionError)) throw error;
      await tracker.end('FAILED');
      const cause = (error as ExecutionError & { cause?: { name?: string; message?: string } }).cause;
      return {
        name,
        status: 'FAILED',
        output: null,
        error: { Error: cause?.name ?? error.name, Cause: cause?.message ?? error.message },
        startedAt,
        endedAt: this.options.now(),
        steps: tracker.timings(),
        path: tracker.path,
      };
    }
  }
}

/** Per execution: which state ran last, how often it was retried, and step timings. */
class ExecutionTracker {
  readonly path: string[] = [];
  private readonly steps = new Map<string, StepTiming>();
  private lastState: string | null = null;
  private lastError: string | null = null;
  private retriesByRetrier = new Map<number, number>();
  /** The last task's output: the raw input of a state that follows it without a Catch (TimeoutSecondsPath reads it). */
  private lastOutput: unknown = undefined;

  constructor(
    private readonly execution: string,
    private readonly states: Record<string, StateDefinition>,
    private readonly options: WorkflowRunnerOptions,
  ) {}

  handlers(): Record<string, (input: unknown) => Promise<never>> {
    return Object.fromEntries(
      Object.entries(this.options.handlers).map(([state, handler]) => [state, (input: unknown) => this.invoke(state, handler, input) as Promise<never>]),
    );
  }

  timings(): StepTiming[] {
    return [...this.steps.values()];
  }

  /** The states entered after the last task until the execution ended: their transitions. */
  async end(status: 'SUCCEEDED' | 'FAILED'): Promise<void> {
    if (!this.options.stateTransitionMs) return;
    await this.transitions(legToEnd(this.definition(), this.previousTask(), status).states.length);
  }

  private definition(): Definition {
    return { StartAt: this.options.definition.StartAt as string, States: this.states as Definition['States'] };
  }

  /** The last task entered, and whether its last invocation failed (then only its Catch leads on). */
  private previousTask(): TaskEntry | null {
    return this.lastState === null ? null : { state: this.lastState, failed: this.lastError !== null, error: this.lastError ?? undefined };
  }

  private async transitions(count: number): Promise<void> {
    await this.options.sleep(count * (this.options.stateTransitionMs ?? 0));
  }

  private async invoke(state: string, handler: TaskHandler, input: unknown): Promise<unknown> {
    const isRetry = this.lastState === state && this.lastError !== null;
    if (isRetry) {
      await this.options.sleep(this.retryDelayMs(state, this.lastError!));
      await this.transitions(1);
    } else {
      // Each state entered since the last task is a transition; a Wait (which passes its input
      // on unchanged, so the task's input is its input) also waits, from when it is entered.
      for (const name of legToTask(this.definition(), this.previousTask(), state).states) {
        await this.transitions(1);
        const between = this.states[name];
        if (between?.Type === 'Wait') await this.options.sleep(waitMs(between, input, this.options.now()));
      }
      this.retriesByRetrier.clear();
      this.path.push(state);
    }
    this.lastState = state;
    const startedAt = this.options.now();
    this.options.onTask?.({ execution: this.execution, state, phase: isRetry ? 'retry' : 'start', at: startedAt });
    const timing = this.steps.get(state) ?? { state, startedAt, endedAt: startedAt, invocations: 0 };
    this.steps.set(state, timing);
    timing.invocations++;
    try {
      const output = await this.run(state, handler, input);
      this.lastError = null;
      this.lastOutput = output;
      delete timing.error;
      this.options.onTask?.({ execution: this.execution, state, phase: 'end', at: this.options.now() });
      return output;
    } catch (error) {
      this.lastError = error instanceof Error ? error.name : 'Error';
      timing.error = this.lastError;
      this.options.onTask?.({ execution: this.execution, state, phase: 'error', at: this.options.now(), error: this.lastError });
      throw error;
    } finally {
      timing.endedAt = this.options.now();
    }
  }

  /** The Lambda invocation (and, for a callback task, the wait for its token): the task's result. */
  private async run(state: string, handler: TaskHandler, input: unknown): Promise<unknown> {
    const definition = this.states[state]!;
    const environments = this.options.environments;
    const integration = LAMBDA_INVOKE.test(definition.Resource ?? '');
    const fn = integration ? String((input as { FunctionName?: unknown }).FunctionName ?? state) : (definition.Resource ?? state);
    const payload = integration ? (input as { Payload?: unknown }).Payload : input;
    const invoke = () => (environments ? environments.invoke(fn, this.options.sleep, () => handler(payload)) : handler(payload));
    if (!isCallback(definition)) {
      const output = await invoke();
      // Request-response lambda:invoke returns the Invoke response, the function's result under Payload.
      return integration ? { ExecutedVersion: '$LATEST', Payload: output, StatusCode: 200 } : output;
    }
    const tokens = this.options.taskTokens!;
    const token = tokens.take(this.execution, state, {
      timeoutMs: this.secondsFor(definition.TimeoutSeconds, definition.TimeoutSecondsPath, input),
      heartbeatMs: this.secondsFor(definition.HeartbeatSeconds, definition.HeartbeatSecondsPath, input),
    });
    if (!JSON.stringify(payload ?? null).includes(token)) {
      tokens.abandon(token);
      throw new TaskError('States.Runtime', `${state} waits for a task token but its Parameters do not pass $$.Task.Token`);
    }
    try {
      await invoke();
    } catch (error) {
      tokens.abandon(token);
      throw error;
    }
    return tokens.wait(token);
  }

  /** A literal, or a path resolved against the state's input (the last task's output; else the task's own input): in ms. */
  private secondsFor(literal: number | undefined, path: string | undefined, input: unknown): number | undefined {
    if (literal !== undefined) return literal * 1000;
    if (!path) return undefined;
    const value = resolvePath(path, this.lastOutput) ?? resolvePath(path, (input as { Payload?: unknown }).Payload ?? input);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new TaskError('States.Runtime', `${path} must be a positive integer; got ${JSON.stringify(value)}`);
    return value * 1000;
  }

  /**
   * The interval Step Functions would wait before this retry. FULL jitter "calculates the delay
   * to be a random number between 0 and the computed backoff for the given retry attempt count"
   * (AWS CDK API reference, aws_stepfunctions.JitterType, the retrier's JitterStrategy field);
   * drawn from a hash of the execution, state and attempt, so runs repeat exactly and concurrent
   * executions do not all retry at one instant.
   */
  private retryDelayMs(state: string, error: string): number {
    const retriers = this.states[state]?.Retry ?? [];
    const index = retriers.findIndex((r) => r.ErrorEquals.some((e) => e === error || e === 'States.ALL' || e === 'States.TaskFailed'));
    const retrier = retriers[index];
    if (!retrier) return 0;
    const attempt = this.retriesByRetrier.get(index) ?? 0;
    this.retriesByRetrier.set(index, attempt + 1);
    const interval = (retrier.IntervalSeconds ?? DEFAULTS.IntervalSeconds) * (retrier.BackoffRate ?? DEFAULTS.BackoffRate) ** attempt;
    const capped = Math.min(interval, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
    return (retrier.JitterStrategy === 'FULL' ? capped * unitFraction(`${this.execution}|${state}|${index}|${attempt}`) : capped) * 1000;
  }
}

/** A fraction in [0, 1) from a string: repeatable "randomness". */
function unitFraction(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
}

function isCallback(state: StateDefinition): boolean {
  return state.Type === 'Task' && (state.Resource ?? '').endsWith(CALLBACK);
}

/** The definition the library runs: callback tasks without the timeouts the runner enforces in virtual time. */
function withoutCallbackTimeouts(definition: Record<string, unknown>): Record<string, unknown> {
  const states = definition.States as Record<string, StateDefinition>;
  return {
    ...definition,
    States: Object.fromEntries(
      Object.entries(states).map(([name, state]) => {
        if (!isCallback(state)) return [name, state];
        const { TimeoutSeconds: _t, TimeoutSecondsPath: _tp, HeartbeatSeconds: _h, HeartbeatSecondsPath: _hp, ...rest } = state;
        return [name, rest];
      }),
    ),
  };
}

/** A simple JSONPath ($.a.b.c) into a value; undefined when it is not there. */
function resolvePath(path: string, input: unknown): unknown {
  return path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)
    .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), input);
}

/** How long a Wait state waits, given its input and the time it is entered. */
function waitMs(wait: StateDefinition, input: unknown, now: Date): number {
  if (wait.Seconds !== undefined) return wait.Seconds * 1000;
  if (wait.SecondsPath) {
    const value = resolvePath(wait.SecondsPath, input);
    if (typeof value === 'number') return value * 1000;
    throw new Error(`Wait ${wait.SecondsPath} did not resolve to a number`);
  }
  const timestamp = wait.Timestamp ?? (wait.TimestampPath ? resolvePath(wait.TimestampPath, input) : undefined);
  if (timestamp !== undefined) {
    const at = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
    if (Number.isNaN(at)) throw new Error(`Wait ${wait.TimestampPath ?? 'Timestamp'} did not resolve to a timestamp`);
    return Math.max(0, at - now.getTime());
  }
  return 0;
}
