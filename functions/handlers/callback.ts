// The callback Lambda: ends the waits of workflow steps on AWS events. Two callers:
// - the workflow's Await states (`lambda:invoke.waitForTaskToken`): the step's task token and
//   what it waits for are stored under the awaited key; if the event has already arrived (it
//   came before the token), the task is resumed at once (store, then check);
// - EventBridge, with an SSM command invocation status change or an EC2 instance state change:
//   the event is stored under its key; if a token waits there, the task is resumed
//   (SendTaskSuccess), or failed with the wait's error when the event is not what the step
//   hoped for and it said so (SendTaskFailure).
// A duplicated event finds the token already resumed and does nothing; Step Functions closes a
// task once anyway. Anything else is rejected before it touches the store.
import { z } from 'zod';
import { arrivalOf, AwaitedEventSchema, COMMAND_STATUS_CHANGE, endsWait, outcomeOf, type Arrival } from '../../core/awaited-events.ts';
import { ConfigError } from '../../core/config.ts';
import { EnvNames } from '../../core/environment.ts';
import { ValidationError } from '../../core/errors.ts';
import { WaitSchema } from '../../core/workflow-state.ts';
import { failTask, resumeTask } from '../adapters/task-callbacks.ts';
import { markResumed, recordArrival, registerToken, type TokenItem } from '../adapters/task-tokens.ts';
import { lazyHandler, type Deps } from '../deps.ts';
import { parseInput } from '../step.ts';

/** What an Await state passes (its Payload): the token, and the wait the step asked for. */
export const RegisterInputSchema = z.strictObject({
  taskToken: z.string().min(1).max(2_048),
  incidentId: z.string().min(1).max(80),
  app: z.string().min(1).max(40),
  wait: WaitSchema,
});

export interface CallbackResult {
  key: string;
  /** stored: the token or the event now waits for the other; resumed / failed: the task was ended; stale / closed: nothing to do. */
  outcome: 'stored' | 'resumed' | 'failed' | 'closed' | 'stale';
}

export function makeHandler(deps: Deps): (event: unknown) => Promise<CallbackResult> {
  return async (event) => {
    if (!hasTokenStore(deps)) throw new ConfigError('environment', [`${EnvNames.TokensTable}: the callback Lambda needs its token store`]);
    if (isRecord(event) && 'taskToken' in event) return register(deps, parseInput(RegisterInputSchema, event, 'callback: input is not a valid wait registration'));
    if (isRecord(event) && event['detail-type'] === COMMAND_STATUS_CHANGE) {
      throw new ValidationError(`callback: '${COMMAND_STATUS_CHANGE}' names no instance; route 'EC2 Command Invocation Status-change Notification' instead`);
    }
    return arrive(deps, parseInput(AwaitedEventSchema, event, 'callback: input is neither a wait registration nor an SSM command invocation or EC2 instance state-change event'));
  };
}

/** The callback's deps once its token store is known to be configured. */
type CallbackDeps = Deps & { env: { tables: { tokens: string } } };

function hasTokenStore(deps: Deps): deps is CallbackDeps {
  return Boolean(deps.env.tables.tokens);
}

async function register(deps: CallbackDeps, input: z.infer<typeof RegisterInputSchema>): Promise<CallbackResult> {
  const event = input.wait.event;
  if (!event) throw new ValidationError('callback: wait.event: an Await state needs a wait on an event (a wait with `until` is a Wait state)');
  deps.logger.appendKeys({ incidentId: input.incidentId, app: input.app, step: input.wait.step });
  try {
    const item = await registerToken(
      deps.ddb,
      deps.env.tables.tokens,
      {
        key: event.key,
        token: input.taskToken,
        since: event.since,
        expect: event.expect,
        failWith: event.failWith,
        incidentId: input.incidentId,
        app: input.app,
        step: input.wait.step,
        timeoutSeconds: event.timeoutSeconds,
      },
      deps.clock(),
    );
    // The event may have come before the token: it is in the item already.
    if (item.arrival && endsWait(item.arrival, { since: event.since, expect: event.expect, failWith: event.failWith })) return end(deps, item, item.arrival, 'arrived first');
    deps.logger.info('waiting for an event', { key: event.key, detail: input.wait.detail });
    return { key: event.key, outcome: 'stored' };
  } finally {
    deps.logger.removeKeys(['incidentId', 'app', 'step']);
  }
}

async function arrive(deps: CallbackDeps, event: z.infer<typeof AwaitedEventSchema>): Promise<CallbackResult> {
  const arrival = arrivalOf(event);
  const item = await recordArrival(deps.ddb, deps.env.tables.tokens, arrival, deps.clock());
  if (!item) return { key: arrival.key, outcome: 'stale' };
  if (!item.token || !item.since || !endsWait(arrival, { since: item.since, expect: item.expect ?? [], failWith: item.failWith })) return { key: arrival.key, outcome: 'stored' };
  // A duplicated (or redelivered) event: this token was resumed already.
  if (item.resumed?.token === item.token) return { key: arrival.key, outcome: 'closed' };
  return end(deps, item, arrival, 'event');
}

/** Resumes (or fails) the item's token with what the arrival says, once. */
async function end(deps: CallbackDeps, item: TokenItem, arrival: Arrival, via: string): Promise<CallbackResult> {
  const token = item.token!;
  const how =
    outcomeOf(arrival, { expect: item.expect ?? [], failWith: item.failWith }) === 'resume'
      ? await resumeTask(deps.sfn, token, { key: arrival.key, status: arrival.status, at: arrival.at, eventId: arrival.eventId, via })
      : await failTask(deps.sfn, token, item.failWith!, `${arrival.key} ended ${arrival.status} (expected ${(item.expect ?? []).join(' or ')}; event ${arrival.eventId} at ${arrival.at})`);
  await markResumed(deps.ddb, deps.env.tables.tokens, item.key, { token, at: deps.clock().toISOString(), how });
  deps.logger.info('wait ended', { key: item.key, status: arrival.status, how, via, incidentId: item.incidentId });
  return { key: item.key, outcome: how };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const handler = lazyHandler(makeHandler);
