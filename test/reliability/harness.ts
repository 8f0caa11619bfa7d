// The reliability harness's shared pieces: faults injected into a task's Lambda (it dies before
// or after its side effect, it dies between two of its AWS calls, or Step Functions gives up on
// it while it goes on running), scenarios that run long enough in virtual time for leases to
// expire, and the invariants every run must hold: once right after the faulted incident settles
// (leases counted even when expired) and once at the end.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { HandlerExecutionContext, InitializeHandler, InitializeHandlerArguments, MetadataBearer } from '@smithy/types';
import { expect } from 'vitest';
import { LOCAL_STEP_FUNCTIONS_MIDDLEWARE } from '../../local/runtime/local-step-functions.ts';
import { CALLBACK_DELIVERY, openLocalRuntime, type SimulationOptions, type SimulationResult } from '../../local/runtime/simulation.ts';
import type { TaskHandler } from '../../local/runtime/workflow-runner.ts';
import { FLEET_MIDDLEWARE_NAME, type SimulatedFleet } from '../../local/fleet/index.ts';
import type { Scenario } from '../../local/scenario.ts';
import { extractStateMachine } from '../../local/state-machine-definition.ts';
import { synthesizeTemplate } from '../../local/runtime/synthesize.ts';
import { getAppStates } from '../../functions/adapters/app-state.ts';
import type { Deps } from '../../functions/deps.ts';
import { EnvNames } from '../../core/environment.ts';
import { CLAIM_LEASE_SECONDS, LOCK_LEASE_SECONDS } from '../../functions/policy.ts';
import { expectInvariants } from '../workflow/invariants.ts';

// ---- faults -------------------------------------------------------------------------------------

/**
 * How a task's Lambda misbehaves, once:
 * - `before-*`: it dies before its side effect (the handler is never called);
 * - `after-*`: the handler runs to the end (its effects are real), then the invocation dies;
 * - `crash-*` at call N: it dies between two of its AWS calls: calls 1 … N-1 happened, N and
 *   the rest never do (e.g. shift moved the address but did not deregister the old node);
 * - `timeout` at call N: Step Functions gives up on the invocation (States.Timeout) just before
 *   its Nth call and moves on (to Compensate, or whatever the state's Catch says), while the
 *   Lambda goes on running: it stalls there (a slow network, a long GC) and makes its remaining
 *   calls late, shortly before its own Lambda timeout (from the template) ends it.
 * `retryable` dies with `Lambda.ServiceException` (the workflow's Retry covers it);
 * `unexpected` with a plain error the workflow only catches.
 */
export const INVOCATION_FAULTS = ['before-retryable', 'before-unexpected', 'after-retryable', 'after-unexpected'] as const;
export const CALL_FAULTS = ['crash-retryable', 'crash-unexpected', 'timeout'] as const;
export type InvocationFault = (typeof INVOCATION_FAULTS)[number];
export type CallFault = (typeof CALL_FAULTS)[number];
export type FaultKind = InvocationFault | CallFault;

/** One place a fault is injected: the `invocation`-th invocation of `state` in the faulted incident (and its `call`-th AWS call). */
export interface FaultPoint {
  state: string;
  invocation: number;
  fault: FaultKind;
  /** For crash-* and timeout: the AWS call (1-based) the fault comes before. */
  call?: number;
}

export function describePoint(p: FaultPoint): string {
  return `${p.state}#${p.invocation} ${p.fault}${p.call !== undefined ? ` before call ${p.call}` : ''}`;
}

/** An error as Step Functions sees a failed Lambda invocation: matched by `name`. */
export function taskError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function faultError(point: FaultPoint): Error {
  const where = describePoint(point);
  if (point.fault === 'timeout') return taskError('States.Timeout', `injected: Step Functions gave up on ${where}`);
  if (point.fault.endsWith('-retryable')) return taskError('Lambda.ServiceException', `injected: the Lambda service failed ${where}`);
  // A plain Error: what a bug or a runtime crash in the function surfaces as.
  return taskError('Error', `injected: ${where} crashed`);
}

/** A call the harness refused because its Lambda is dead (crashed, or killed at its timeout). */
class DeadInvocationError extends Error {
  override readonly name = 'InjectedCrash';
}

// ---- what each invocation does ------------------------------------------------------------------

/** One invocation of a task state, and the AWS calls it made (service:Operation). */
export interface ObservedInvocation {
  state: string;
  /** 1-based, per state, within the incident. */
  invocation: number;
  calls: string[];
  /** How it ended: 'ok', or the error name (StepPendingError: a poll that found work still under way). */
  ended: string;
}

interface LiveInvocation extends ObservedInvocation {
  incidentId: string;
  /** Calls issued so far (numbered when issued: calls made in parallel get distinct numbers). */
  issued: number;
  /** No call of this invocation reaches AWS any more (it crashed, or Lambda ended it). */
  dead: boolean;
  /** Called before each call with its number; may stall it (virtual time) or kill the invocation. */
  beforeCall?: (call: number) => Promise<void>;
}

const SDK_CLIENTS = ['ec2', 'ssm', 'elb', 'sns', 'events', 'cloudwatch'] as const;
/** The workflow's last state: after it, events to the callback are not the faulted incident's. */
const FINISH_STATE = 'FinishIncident';

/**
 * The invocation a handler's AWS calls belong to. One storage for every injector: each enabled
 * AsyncLocalStorage adds work to every promise Node creates (async_hooks propagate to each), so
 * one per run made the 225-run harness spend a seventh of its CPU propagating stores (profiled).
 */
const liveInvocation = new AsyncLocalStorage<{ owner: FaultInjector; live: LiveInvocation }>();

/**
 * Fault injection and observation for one run: wraps every task handler of the faulted
 * incident, numbers its invocations per state and its AWS calls (DynamoDB included) through a
 * middleware on each of the handlers' SDK clients, and fires `point` once when it is reached.
 */
export class FaultInjector {
  private readonly invocations = new Map<string, number>();
  /** Every invocation of the faulted incident, in order. */
  readonly observed: ObservedInvocation[] = [];
  /** How often the fault fired (once, when the run reaches its point). */
  fired = 0;
  /** Calls a dead invocation attempted after it died (never made). */
  refusedCalls: string[] = [];
  private deps: Deps | undefined;
  private fleet: SimulatedFleet | undefined;
  /** The faulted incident, once its first execution has started. */
  incidentId: string | undefined;
  /** Its FinishIncident state has started: later events to the callback are no longer its own. */
  private faultedFinished = false;

  /**
   * @param faulted which incident is faulted: true for the workflow input of its executions.
   * @param lambdaTimeoutMs a task state's Lambda timeout (from the template), for `timeout` faults.
   */
  constructor(
    private readonly point: FaultPoint | null,
    private readonly faulted: (input: { incidentId: string; trigger: { kind: string } }) => boolean,
    private readonly lambdaTimeoutMs: (state: string) => number,
  ) {}

  /** Options for openLocalRuntime, merged over `extra`. */
  options(extra: SimulationOptions = {}): SimulationOptions {
    return {
      ...extra,
      beforeRun: async (runtime) => {
        this.deps = runtime.deps;
        this.fleet = runtime.fleet;
        this.attach(runtime.deps);
        await extra.beforeRun?.(runtime);
      },
      wrapTask: (handler, task) => {
        const inner = extra.wrapTask ? extra.wrapTask(handler, task) : handler;
        return async (input) => {
          const incident = input as { incidentId?: string; trigger?: { kind?: string } };
          // An AWS event EventBridge delivers to the callback names no incident: it belongs to the
          // faulted incident while that one runs (the bases run no other incident meanwhile).
          const delivery = task.state === CALLBACK_DELIVERY && this.incidentId !== undefined && !this.faultedFinished;
          if (typeof incident?.incidentId !== 'string' && !delivery) return inner(input);
          const incidentId = delivery ? this.incidentId! : incident.incidentId!;
          // The first incident the predicate picks is the faulted one; any other runs untouched.
          if (this.incidentId === undefined && this.faulted({ incidentId, trigger: { kind: String(incident.trigger?.kind) } })) this.incidentId = incidentId;
          if (incidentId !== this.incidentId) return inner(input);
          if (task.state === FINISH_STATE) this.faultedFinished = true;
          const key = `${incidentId}|${task.state}`;
          const invocation = (this.invocations.get(key) ?? 0) + 1;
          this.invocations.set(key, invocation);
          const live: LiveInvocation = { state: task.state, invocation, calls: [], ended: 'running', incidentId, issued: 0, dead: false };
          this.observed.push(live);
          const point = this.point;
          const hit = point !== null && point.state === task.state && point.invocation === invocation;
          return liveInvocation.run({ owner: this, live }, () => (hit ? this.misbehave(point, live, inner, input, task) : this.observe(live, inner, input)));
        };
      },
    };
  }

  private async observe(live: LiveInvocation, handler: TaskHandler, input: unknown): Promise<unknown> {
    try {
      const output = await handler(input);
      live.ended = 'ok';
      return output;
    } catch (error) {
      live.ended = (error as Error)?.name ?? 'Error';
      throw error;
    }
  }

  private async misbehave(
    point: FaultPoint,
    live: LiveInvocation,
    handler: TaskHandler,
    input: unknown,
    task: { state: string; background: <T>(work: () => Promise<T>) => Promise<T>; sleep: (ms: number) => Promise<void>; now: () => Date },
  ): Promise<unknown> {
    switch (point.fault) {
      case 'before-retryable':
      case 'before-unexpected':
        this.fired++;
        live.ended = 'fault';
        throw faultError(point);
      case 'after-retryable':
      case 'after-unexpected':
        // The side effect happens; whatever the handler answered (a result, or an error such as
        // StepPendingError) is lost with the invocation.
        await this.observe(live, handler, input).catch(() => undefined);
        this.fired++;
        throw faultError(point);
      case 'crash-retryable':
      case 'crash-unexpected': {
        live.beforeCall = async (call) => {
          if (call !== point.call) return;
          this.fired++;
          live.dead = true;
        };
        await this.observe(live, handler, input).catch(() => undefined);
        // Reached its Nth call or not, the invocation ends in the fault (a point past the last call is an after-* fault).
        throw faultError(point);
      }
      case 'timeout': {
        const startedAt = task.now().getTime();
        const killAt = startedAt + this.lambdaTimeoutMs(task.state);
        let gaveUp!: () => void;
        const givenUp = new Promise<void>((resolve) => (gaveUp = resolve));
        let finished!: () => void;
        const zombie = new Promise<void>((resolve) => (finished = resolve));
        live.beforeCall = async (call) => {
          if (call === point.call) {
            this.fired++;
            // From here the Lambda runs beside the execution, which goes on without it.
            void task.background(() => zombie);
            gaveUp();
            // It stalls, then makes its remaining calls late: at nine tenths of its timeout.
            const resumeAt = startedAt + Math.floor(this.lambdaTimeoutMs(task.state) * 0.9);
            await task.sleep(Math.max(0, resumeAt - task.now().getTime()));
          }
          // Lambda ends the invocation at its timeout: what it had not done by then never happens.
          if (call >= point.call! && task.now().getTime() >= killAt) live.dead = true;
        };
        const run = this.observe(live, handler, input)
          .catch(() => undefined)
          .finally(finished);
        // Had the handler ended before its Nth call, Step Functions would still not have its answer (and `fired` stays 0).
        await Promise.race([givenUp, run]);
        throw faultError(point);
      }
    }
  }

  /** Numbers every AWS call the handlers make, per invocation, and enforces the fault. */
  private attach(deps: Deps): void {
    const middleware =
      (next: InitializeHandler<object, MetadataBearer>, context: HandlerExecutionContext) =>
      async (args: InitializeHandlerArguments<object>) => {
        const current = liveInvocation.getStore();
        const live = current?.owner === this ? current.live : undefined;
        if (live) {
          const name = `${context.clientName?.replace(/Client$/, '') ?? '?'}:${(context.commandName ?? '?').replace(/Command$/, '')}`;
          const call = ++live.issued;
          if (live.dead) {
            this.refusedCalls.push(name);
            throw new DeadInvocationError(`injected: ${name} never made: the invocation is dead`);
          }
          await live.beforeCall?.(call);
          if (live.dead) {
            this.refusedCalls.push(name);
            throw new DeadInvocationError(`injected: ${name} never made: the invocation died before call ${call}`);
          }
          live.calls.push(name);
        }
        return next(args);
      };
    for (const name of SDK_CLIENTS) {
      deps[name].middlewareStack.addRelativeTo(middleware as never, { relation: 'before', toMiddleware: FLEET_MIDDLEWARE_NAME, name: 'reliabilityFaults' });
    }
    // Step Functions too: the callback's SendTaskSuccess / SendTaskFailure (the local Step Functions answers them).
    deps.sfn.middlewareStack.addRelativeTo(middleware as never, { relation: 'before', toMiddleware: LOCAL_STEP_FUNCTIONS_MIDDLEWARE, name: 'reliabilityFaults' });
    deps.ddb.middlewareStack.add(middleware as never, { step: 'initialize', priority: 'high', name: 'reliabilityFaults' });
  }

  /**
   * SSM commands sent more than once for the same incident, purpose, document and node: the
   * Comment of every command starts with that tag (adapters/commands.ts), which the command
   * ledger promises to send once.
   */
  commandsSentTwice(): string[] {
    if (!this.fleet) return ['the run never started'];
    const byTag = new Map<string, string[]>();
    let token: string | undefined;
    do {
      const page = this.fleet.answerNow('ssm', 'ListCommands', { NextToken: token }) as { Commands?: Array<{ Comment?: string; CommandId?: string }>; NextToken?: string };
      for (const command of page.Commands ?? []) {
        const tag = command.Comment?.split(' ')[0] ?? '';
        byTag.set(tag, [...(byTag.get(tag) ?? []), `${command.CommandId} (${command.Comment})`]);
      }
      token = page.NextToken;
    } while (token);
    return [...byTag.values()].filter((sent) => sent.length > 1).map((sent) => sent.join(' and '));
  }
}

/** Milliseconds each task state's Lambda may run (its function's Timeout in the template). */
export function lambdaTimeouts(s: Scenario): (state: string) => number {
  const template = synthesizeTemplate(s.config);
  const { definition, functionArns } = extractStateMachine(template);
  const states = definition.States as Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }>;
  const callback = Object.entries(template.Resources).find(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && (r.Properties as { Environment?: { Variables?: Record<string, unknown> } } | undefined)?.Environment?.Variables?.[EnvNames.Step] === 'callback',
  )?.[0];
  return (state) => {
    // The callback invoked by EventBridge (not a state): its own function's timeout. An Await
    // state (lambda:invoke.waitForTaskToken) names its function in Parameters.FunctionName.
    const task = states[state];
    const logicalId =
      state === CALLBACK_DELIVERY ? (callback ?? '') : (functionArns.get(task?.Resource ?? '') ?? functionArns.get(task?.Parameters?.FunctionName ?? '') ?? '');
    const seconds = (template.Resources[logicalId]?.Properties as { Timeout?: number } | undefined)?.Timeout;
    if (typeof seconds !== 'number') throw new Error(`no Lambda timeout for task state ${state}`);
    return seconds * 1000;
  };
}

/** The synthesized state machine's Task states: what the harness must fault. */
export function taskStates(s: Scenario): string[] {
  const { definition } = extractStateMachine(synthesizeTemplate(s.config));
  return Object.entries(definition.States as Record<string, { Type: string }>)
    .filter(([, state]) => state.Type === 'Task')
    .map(([name]) => name);
}

// ---- running --------------------------------------------------------------------------------

/** Virtual seconds after which a crashed execution's claim and lock have both expired. */
export const LEASES_EXPIRED_AFTER = Math.max(CLAIM_LEASE_SECONDS, LOCK_LEASE_SECONDS) + 60;

export interface RecordItem {
  app: string;
  incidentId: string;
  outcome?: string;
  explanation?: string[];
  [attribute: string]: unknown;
}

export interface RunResult {
  result: SimulationResult;
  /** The failover records table as the run left it. */
  records: RecordItem[];
}

async function scanRecords(deps: Deps): Promise<RecordItem[]> {
  const out = await deps.ddb.send(new ScanCommand({ TableName: deps.env.tables.records, ConsistentRead: true }));
  return (out.Items ?? []) as RecordItem[];
}

/** Runs a scenario on the local runtime and reads the failover records table before closing. */
export async function simulate(s: Scenario, options: SimulationOptions): Promise<RunResult> {
  const runtime = await openLocalRuntime(s, options);
  try {
    const result = await runtime.run();
    return { result, records: await scanRecords(runtime.deps) };
  } finally {
    await runtime.close();
  }
}

// ---- the check right after the faulted incident ---------------------------------------------------

/** The run as it stood when it first went quiet (every execution ended, timeline events still due). */
export interface QuietCheckpoint {
  at: string;
  run: RunResult;
  /** Applications whose state item names a lock, expired or not. */
  locks: string[];
}

/**
 * Options that take a checkpoint the first time the run goes quiet with timeline events still
 * to come: right after the faulted incident settled, long before any lease could expire.
 */
export function checkpointWhenQuiet(options: SimulationOptions = {}): { checkpoints: QuietCheckpoint[]; options: SimulationOptions } {
  const checkpoints: QuietCheckpoint[] = [];
  return {
    checkpoints,
    options: {
      ...options,
      onQuiet: async (quiet) => {
        await options.onQuiet?.(quiet);
        if (checkpoints.length > 0) return;
        const result = await quiet.report();
        const states = await getAppStates(quiet.deps.ddb, quiet.deps.env.tables.state, quiet.deps.env.config.applications.map((a) => a.name));
        const locks = [...states.values()].filter((s) => s.lockIncident).map((s) => `${s.app}: ${s.lockIncident} (expires ${new Date((s.lockExpiresAt ?? 0) * 1000).toISOString()})`);
        checkpoints.push({ at: quiet.at.toISOString(), run: { result, records: await scanRecords(quiet.deps) }, locks });
      },
    },
  };
}

/**
 * Right after the faulted incident settled: the invariants hold with every lease counted, expired
 * or not. A lock still named in the state table, or a node still claimed (or marked preempted)
 * by an incident that has ended, is a leak even if its lease would expire one day.
 */
export function expectNothingLeaked(checkpoint: QuietCheckpoint | undefined, s: Scenario): void {
  expect(checkpoint, 'the run went quiet after the faulted incident (a checkpoint was taken)').toBeDefined();
  const { run, locks } = checkpoint!;
  expect(locks, `locks left in the state table at ${checkpoint!.at}`).toEqual([]);
  const leaked = run.result.fleet.flatMap((n) => n.lease.filter((l) => l.role === 'claimed' || l.role === 'preempted').map((l) => `${n.id}: ${l.role} by ${l.holder}/${l.incidentId} until ${l.expiresAt}`));
  expect(leaked, `claims left behind at ${checkpoint!.at}`).toEqual([]);
  expectReliable(run, s);
}

// ---- invariants ---------------------------------------------------------------------------------

/**
 * What must hold after any run: the workflow suite's invariants (one host or an alert, every
 * node free / serving / set aside with a reason, no node given twice, no lock held, traffic
 * where the application runs), and a failover record for every incident that says what
 * happened: an outcome and a non-empty explanation.
 */
export function expectReliable({ result, records }: RunResult, s: Scenario): void {
  expectInvariants(result, s);
  const executions = result.incidents.filter((i) => i.outcome !== 'deduplicated' || i.steps.length > 0);
  for (const incident of executions) {
    const record = records.find((r) => r.app === incident.app && r.incidentId === incident.incidentId);
    expect(record, `incident ${incident.incidentId} has a failover record`).toBeDefined();
    expect(record?.outcome, `the record of ${incident.incidentId} states its outcome`).toEqual(expect.any(String));
    expect(record?.explanation ?? [], `the record of ${incident.incidentId} explains what happened`).not.toEqual([]);
  }
  for (const incident of result.incidents) {
    expect(incident.explanation, `incident ${incident.incidentId} (${incident.outcome}) is explained`).not.toEqual([]);
  }
}

// ---- where to fault ---------------------------------------------------------------------------

/** Calls that only read: whether one happened before a crash changes nothing. */
const READ_ONLY = /:(Describe|Get|List|Query|Scan|BatchGet)/;

export function isMutating(call: string): boolean {
  return !READ_ONLY.test(call);
}

/**
 * The fault points of one observed invocation:
 * - every invocation fault (before / after, retryable / unexpected);
 * - a crash right after each call that changed something, when more calls were to follow
 *   (a crash after a read is the same as a crash before it). The last call of every step is
 *   its timing record (step.ts), so a crash before it is an `after-*` fault. Right after a
 *   SendCommand, also a retried crash: the step comes back to a command sent but not recorded
 *   (the command ledger's case);
 * - a timeout before the first call (the whole invocation runs late), and just before each
 *   call that changes something right after what it read: the Lambda has read what it needed,
 *   Step Functions gives up on it, and the change (with the ones that follow) lands late.
 */
export function pointsOf(o: ObservedInvocation): FaultPoint[] {
  const at = { state: o.state, invocation: o.invocation };
  const points: FaultPoint[] = INVOCATION_FAULTS.map((fault) => ({ ...at, fault }));
  const last = o.calls.length;
  if (last > 1) points.push({ ...at, fault: 'timeout', call: 1 });
  o.calls.forEach((call, i) => {
    const n = i + 1;
    if (n >= last) return;
    if (isMutating(call) && n + 1 < last) points.push({ ...at, fault: 'crash-unexpected', call: n + 1 });
    if (call === 'SSM:SendCommand') points.push({ ...at, fault: 'crash-retryable', call: n + 1 });
    if (n > 1 && isMutating(call) && !isMutating(o.calls[i - 1]!)) points.push({ ...at, fault: 'timeout', call: n });
  });
  return points;
}

/** Discovers what each invocation of the faulted incident does in a run without faults. */
export async function discover(s: Scenario, faulted: (input: { incidentId: string; trigger: { kind: string } }) => boolean, options: SimulationOptions): Promise<ObservedInvocation[]> {
  const injector = new FaultInjector(null, faulted, lambdaTimeouts(s));
  await simulate(s, injector.options(options));
  return injector.observed.map(({ state, invocation, calls, ended }) => ({ state, invocation, calls: [...calls], ended }));
}

/** "N fault points across S states (K between calls, T concurrent timeouts): M survived" */
export function summaryLine(points: readonly FaultPoint[], survived: number): string {
  const states = new Set(points.map((p) => p.state)).size;
  const between = points.filter((p) => p.fault.startsWith('crash-')).length;
  const timeouts = points.filter((p) => p.fault === 'timeout').length;
  return `${points.length} fault points across ${states} states (${between} between calls, ${timeouts} concurrent timeouts): ${survived} survived`;
}
