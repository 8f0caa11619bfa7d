// Runs the synthesized state machine definition with aws-local-stepfunctions, each Task
// invoking the real handler in-process. Retry intervals and Wait states take virtual time:
// the library is told to wait 0 ms, and the runner sleeps the interval AWS would have waited
// on the virtual clock instead. So do Step Functions' own state transitions (every state
// entered, derived from the definition between two tasks, and every retry) and each Lambda
// invocation (cold or warm, see lambda-environments.ts).
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LambdaEnvironments } from './lambda-environments.ts';
import { legToEnd, legToTask, type Definition, type TaskEntry } from './state-path.ts';

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
  Retry?: Retrier[];
  Seconds?: number;
  SecondsPath?: string;
}

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

export class WorkflowRunner {
  private readonly machine: StateMachine;
  private readonly states: Record<string, StateDefinition>;

  constructor(private readonly options: WorkflowRunnerOptions) {
    const key = JSON.stringify(options.definition);
    this.machine = new StateMachine(options.definition as unknown as StateMachineDefinition, { validationOptions: { noValidate: validated.has(key) } });
    validated.add(key);
    this.states = options.definition.States as Record<string, StateDefinition>;
    for (const [name, state] of Object.entries(this.states)) {
      if (state.Type === 'Task' && !options.handlers[name]) throw new Error(`no local handler for task state ${name}`);
    }
  }

  async execute(name: string, input: unknown): Promise<ExecutionResult> {
    const startedAt = this.options.now();
    const tracker = new ExecutionTracker(name, this.states, this.options);
    const zero = Object.fromEntries(Object.keys(this.states).map((s) => [s, 0]));
    const { result } = this.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: tracker.handlers(),
        waitTimeOverrides: zero,
        retryIntervalOverrides: zero,
      },
      context: { Execution: { Name: name, Id: name, StartTime: startedAt.toISOString(), Input: input } } as never,
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
      // The Wait states on the way from the last task (its Catch chosen by its error) take their time here.
      const leg = legToTask(this.definition(), this.previousTask(), state);
      if (this.options.stateTransitionMs) await this.transitions(leg.states.length);
      this.retriesByRetrier.clear();
      this.path.push(state);
      for (const name of leg.states) {
        const entered = this.states[name];
        if (entered?.Type === 'Wait') await this.options.sleep(waitSeconds(entered, input) * 1000);
      }
    }
    this.lastState = state;
    const startedAt = this.options.now();
    this.options.onTask?.({ execution: this.execution, state, phase: isRetry ? 'retry' : 'start', at: startedAt });
    const timing = this.steps.get(state) ?? { state, startedAt, endedAt: startedAt, invocations: 0 };
    this.steps.set(state, timing);
    timing.invocations++;
    try {
      const environments = this.options.environments;
      const fn = this.states[state]?.Resource ?? state;
      const output = environments ? await environments.invoke(fn, this.options.sleep, () => handler(input)) : await handler(input);
      this.lastError = null;
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

  /** The interval Step Functions would wait before this retry (FULL jitter: its mean, half). */
  private retryDelayMs(state: string, error: string): number {
    const retriers = this.states[state]?.Retry ?? [];
    const index = retriers.findIndex((r) => r.ErrorEquals.some((e) => e === error || e === 'States.ALL' || e === 'States.TaskFailed'));
    const retrier = retriers[index];
    if (!retrier) return 0;
    const attempt = this.retriesByRetrier.get(index) ?? 0;
    this.retriesByRetrier.set(index, attempt + 1);
    const interval = (retrier.IntervalSeconds ?? DEFAULTS.IntervalSeconds) * (retrier.BackoffRate ?? DEFAULTS.BackoffRate) ** attempt;
    const capped = Math.min(interval, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
    return (retrier.JitterStrategy === 'FULL' ? capped / 2 : capped) * 1000;
  }
}

function waitSeconds(wait: StateDefinition, input: unknown): number {
  if (wait.Seconds !== undefined) return wait.Seconds;
  if (wait.SecondsPath) {
    const value = wait.SecondsPath.replace(/^\$\.?/, '')
      .split('.')
      .filter(Boolean)
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], input);
    if (typeof value === 'number') return value;
    throw new Error(`Wait ${wait.SecondsPath} did not resolve to a number`);
  }
  return 0;
}
