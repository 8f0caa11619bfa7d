// Counting hooks for one simulation run: Lambda invocations and Task entries per execution
// (from the runner's task events), DynamoDB calls (a middleware on the handlers' DynamoDB
// client, each call attributed to the state whose handler made it) and the moment the run
// settled, after which the report's own reads are not counted.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { HandlerExecutionContext, InitializeHandler, InitializeHandlerArguments, MetadataBearer } from '@smithy/types';
import { FLEET_MIDDLEWARE_NAME, type SimulatedFleet } from '../local/fleet/index.ts';
import type { SimulationOptions } from '../local/runtime/simulation.ts';
import type { TaskHandler } from '../local/runtime/workflow-runner.ts';
import type { TaskEntry } from '../local/runtime/state-path.ts';

export const DDB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
export const DDB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export interface DdbTally {
  /** Read requests (GetItem, BatchGetItem, Query, Scan, TransactGetItems). */
  reads: number;
  /** Write requests (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems). */
  writes: number;
  /** Items written: a transaction or batch counts each item. */
  writeItems: number;
  /** Capacity DynamoDB reported consumed (ReturnConsumedCapacity TOTAL), when it reported any. */
  readUnits: number;
  writeUnits: number;
  byCommand: Record<string, number>;
}

export function emptyTally(): DdbTally {
  return { reads: 0, writes: 0, writeItems: 0, readUnits: 0, writeUnits: 0, byCommand: {} };
}

/** An SDK command's operation name: GetItemCommand → GetItem. */
export function operationName(commandName: string): string {
  return commandName.replace(/Command$/, '');
}

/** Items a write request writes: one, or each item of a transaction or batch. */
export function writeItemCount(operation: string, input: Record<string, unknown>): number {
  if (operation === 'TransactWriteItems') return (input.TransactItems as unknown[] | undefined)?.length ?? 0;
  if (operation === 'BatchWriteItem') {
    return Object.values((input.RequestItems as Record<string, unknown[]> | undefined) ?? {}).reduce((n, items) => n + items.length, 0);
  }
  return 1;
}

interface Consumed {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

/** Adds one request to a tally. */
export function countRequest(tally: DdbTally, operation: string, input: Record<string, unknown>, consumed: Consumed | Consumed[] | undefined): void {
  tally.byCommand[operation] = (tally.byCommand[operation] ?? 0) + 1;
  const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
  if (DDB_READS.has(operation)) {
    tally.reads++;
    tally.readUnits += units;
  } else if (DDB_WRITES.has(operation)) {
    tally.writes++;
    tally.writeItems += writeItemCount(operation, input);
    tally.writeUnits += units;
  }
}

export interface ExecutionTrace {
  /** Task states entered, in order (a retry is not a new entry), and whether each ended in an error it did not retry. */
  entries: TaskEntry[];
  /** Invocations per Task state, retries included. */
  invocations: Record<string, number>;
  retries: number;
}

interface Attribution {
  owner: RunInstrument;
  state: string;
}

/**
 * The state a DynamoDB request is made for. One storage for every run: each enabled
 * AsyncLocalStorage adds work to every promise Node creates, so one per run slows later runs.
 */
const attribution = new AsyncLocalStorage<Attribution>();

export class RunInstrument {
  readonly executions = new Map<string, ExecutionTrace>();
  /** DynamoDB requests per state; '(intake)' for the intake Lambda (the only untagged caller while running). */
  readonly ddbByState = new Map<string, DdbTally>();
  readonly ddb = emptyTally();
  intakeInvocations = 0;
  settled = false;
  /** EC2 requests with the virtual time each was made (for the throttling check). */
  readonly ec2Calls: Array<{ command: string; atMs: number }> = [];

  /** The hooks to pass to runSimulation / openLocalRuntime, merged over `extra`. */
  options(extra: SimulationOptions = {}): SimulationOptions {
    return {
      ...extra,
      onProgress: (event) => {
        extra.onProgress?.(event);
        if (event.kind === 'intake' && !event.text.includes('matches no rule')) this.intakeInvocations++;
        const task = event.task;
        if (event.kind !== 'task' || !task) return;
        const trace = this.executions.get(task.execution) ?? { entries: [], invocations: {}, retries: 0 };
        this.executions.set(task.execution, trace);
        const current = trace.entries.at(-1);
        if (task.phase === 'start') trace.entries.push({ state: task.state, failed: false });
        if (task.phase === 'retry') trace.retries++;
        // An error is final unless a retry of the same entry follows (which clears it again).
        if (current && (task.phase === 'error' || task.phase === 'retry' || task.phase === 'end')) current.failed = task.phase === 'error';
        if (task.phase === 'start' || task.phase === 'retry') trace.invocations[task.state] = (trace.invocations[task.state] ?? 0) + 1;
      },
      wrapTask: (handler: TaskHandler, task) => {
        const inner = extra.wrapTask ? extra.wrapTask(handler, task) : handler;
        return (input) => attribution.run({ owner: this, state: task.state }, () => inner(input));
      },
      beforeRun: async (runtime) => {
        this.attachDdb(runtime.deps.ddb);
        this.attachEc2Log(runtime.deps.ec2, runtime.fleet);
        await extra.beforeRun?.(runtime);
      },
      onSettled: () => {
        this.settled = true;
        extra.onSettled?.();
      },
    };
  }

  /** Counts every DynamoDB request the handlers make until the run settles. */
  attachDdb(client: DynamoDBDocumentClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        const counting = !this.settled;
        if (counting) input.ReturnConsumedCapacity ??= 'TOTAL';
        const result = await next(args);
        if (counting) {
          const operation = operationName(context.commandName ?? 'Unknown');
          const consumed = (result.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity;
          const current = attribution.getStore();
          const state = (current?.owner === this ? current.state : undefined) ?? '(intake)';
          const tally = this.ddbByState.get(state) ?? emptyTally();
          this.ddbByState.set(state, tally);
          countRequest(tally, operation, input, consumed);
          countRequest(this.ddb, operation, input, consumed);
        }
        return result;
      },
      { step: 'initialize', name: 'benchDynamoDbCounter', priority: 'high' },
    );
  }

  /** Records when each EC2 request is made, ahead of the simulated fleet's transport. */
  attachEc2Log(client: EC2Client, fleet: SimulatedFleet): void {
    client.middlewareStack.addRelativeTo(
      (next: InitializeHandler<object, MetadataBearer>, context: HandlerExecutionContext) => async (args: InitializeHandlerArguments<object>) => {
        if (!this.settled) this.ec2Calls.push({ command: operationName(context.commandName ?? 'Unknown'), atMs: fleet.clock.nowMs() });
        return next(args);
      },
      { relation: 'before', toMiddleware: FLEET_MIDDLEWARE_NAME, name: 'benchEc2CallLog' },
    );
  }

  /** Lambda invocations of the workflow's steps (poll retries included). */
  stepInvocations(): number {
    let n = 0;
    for (const trace of this.executions.values()) n += Object.values(trace.invocations).reduce((a, b) => a + b, 0);
    return n;
  }
}
