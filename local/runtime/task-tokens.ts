// Task tokens for the local runtime's `.waitForTaskToken` tasks (aws-local-stepfunctions 3.0
// has no callback pattern). As in Step Functions ("Wait for a Callback with Task Token"):
// each task attempt gets its own token through the context object (`$$.Task.Token` in its
// Parameters); the task then waits until SendTaskSuccess (its output becomes the task's
// result), SendTaskFailure (its error and cause fail the task) or its TimeoutSeconds /
// HeartbeatSeconds run out (States.Timeout / States.HeartbeatTimeout), all in virtual time.
// A token is closed once: a second send answers TaskTimedOut.
import { createHash } from 'node:crypto';
import type { TimerHandle } from '../fleet/clock.ts';
import type { VirtualTime } from './virtual-time.ts';

/** An error a task fails with: Step Functions matches Retry and Catch on `name`. */
export class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** An SFN API error, as the SDK surfaces it (name = error code). */
export class SfnApiError extends Error {
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 400 };
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface OpenTask {
  execution: string;
  state: string;
  settle: { resolve: (output: unknown) => void; reject: (error: Error) => void } | null;
  /** Settled before anyone waited (a callback during the Lambda invocation itself). */
  early: { output: unknown } | { error: Error } | null;
  timers: TimerHandle[];
  heartbeat?: TimerHandle;
  heartbeatMs: number | undefined;
}

export class TaskTokens {
  private minted = 0;
  /** Per execution: the token `$$.Task.Token` resolves to until a task takes it. */
  private readonly current = new Map<string, string>();
  private readonly open = new Map<string, OpenTask>();
  private readonly closed = new Set<string>();

  constructor(private readonly time: VirtualTime) {}

  /** What `$$.Task.Token` reads in `execution` now: the token of the next callback task. */
  tokenFor(execution: string): string {
    let token = this.current.get(execution);
    if (!token) {
      token = this.mint(execution);
      this.current.set(execution, token);
    }
    return token;
  }

  /**
   * A callback task starts with the current token (its Parameters carried it); the next task
   * attempt gets a new one. Timeouts run from now.
   */
  take(execution: string, state: string, limits: { timeoutMs?: number | undefined; heartbeatMs?: number | undefined }): string {
    const token = this.tokenFor(execution);
    this.current.set(execution, this.mint(execution));
    const task: OpenTask = { execution, state, settle: null, early: null, timers: [], heartbeatMs: limits.heartbeatMs };
    this.open.set(token, task);
    if (limits.timeoutMs !== undefined) {
      task.timers.push(this.time.clock.after(limits.timeoutMs, () => this.close(token, { error: new TaskError('States.Timeout', `${state} timed out after ${limits.timeoutMs! / 1000} s`) }), `${state} timeout`));
    }
    this.armHeartbeat(token, task);
    return token;
  }

  /** Resolves with the task's output, or rejects with its failure or timeout. Idle time meanwhile. */
  wait(token: string): Promise<unknown> {
    const task = this.open.get(token);
    if (!task) return Promise.reject(new TaskError('States.Runtime', `no open task for token ${token.slice(0, 16)}…`));
    const early = task.early;
    if (early) {
      this.open.delete(token);
      return 'error' in early ? Promise.reject(early.error) : Promise.resolve(early.output);
    }
    return this.time.idleUntil(
      new Promise((resolve, reject) => {
        task.settle = { resolve, reject };
      }),
    );
  }

  /** The task failed before it waited (its Lambda invocation failed): its token closes. */
  abandon(token: string): void {
    const task = this.open.get(token);
    if (!task) return;
    for (const timer of task.timers) timer.cancel();
    task.heartbeat?.cancel();
    this.open.delete(token);
    this.closed.add(token);
  }

  /** SendTaskSuccess. */
  succeed(token: string, output: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new SfnApiError('InvalidOutput', 'The provided JSON output data is not valid.');
    }
    this.close(this.require(token), { output: parsed });
  }

  /** SendTaskFailure. */
  fail(token: string, error: string | undefined, cause: string | undefined): void {
    this.close(this.require(token), { error: new TaskError(error ?? 'States.TaskFailed', cause ?? '') });
  }

  /** SendTaskHeartbeat. */
  heartbeat(token: string): void {
    const task = this.open.get(this.require(token))!;
    this.armHeartbeat(token, task);
  }

  /** Tasks waiting for a callback now. */
  waiting(): number {
    return this.open.size;
  }

  private require(token: string): string {
    if (this.open.has(token) && !this.open.get(token)!.early) return token;
    if (this.closed.has(token)) throw new SfnApiError('TaskTimedOut', 'Task Timed Out: the task token has either expired or the task associated with the token has already been closed.');
    throw new SfnApiError('InvalidToken', 'Invalid token');
  }

  private armHeartbeat(token: string, task: OpenTask): void {
    if (task.heartbeatMs === undefined) return;
    const ms = task.heartbeatMs;
    task.heartbeat?.cancel();
    task.heartbeat = this.time.clock.after(ms, () => this.close(token, { error: new TaskError('States.HeartbeatTimeout', `${task.state} sent no heartbeat for ${ms / 1000} s`) }), `${task.state} heartbeat`);
  }

  private close(token: string, result: { output: unknown } | { error: Error }): void {
    const task = this.open.get(token);
    if (!task || task.early) return;
    for (const timer of task.timers) timer.cancel();
    task.heartbeat?.cancel();
    this.closed.add(token);
    if (!task.settle) {
      task.early = result;
      return;
    }
    this.open.delete(token);
    if ('error' in result) task.settle.reject(result.error);
    else task.settle.resolve(result.output);
  }

  private mint(execution: string): string {
    // Opaque like AWS's (which are long base64 strings); unique per execution and attempt.
    const digest = createHash('sha256').update(`${execution}|${++this.minted}`).digest('base64url');
    return `AQC${digest}${digest}`;
  }
}
