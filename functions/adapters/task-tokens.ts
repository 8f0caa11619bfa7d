// The token store (the callback Lambda's table): per awaited key, the task token of the step that
// waits and the event that ends the wait, whichever is written first. Both writers read the item
// back in the same request (ReturnValues ALL_NEW): DynamoDB applies updates to one item one at a
// time, so whichever of the two writes second sees the other and resumes the task. A resumed
// token is marked, so a duplicated event does not resume it again.
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Arrival } from '../../core/awaited-events.ts';
import { TOKENS_TABLE } from '../../core/tables.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { ExpressionBuilder } from './update-expression.ts';

/** An arrival or a token nobody needs any more is swept by DynamoDB's TTL a day later. */
export const TOKEN_ITEM_TTL_SECONDS = 24 * 60 * 60;

export interface TokenItem {
  key: string;
  /** The waiting task's token and what it waits for (absent until the Await state stored it). */
  token?: string;
  since?: string;
  expect?: string[];
  failWith?: string;
  incidentId?: string;
  app?: string;
  step?: string;
  registeredAt?: string;
  /** The latest event under the key. */
  arrival?: Arrival;
  /** The token this item last resumed (a duplicate event finds it here). */
  resumed?: { token: string; at: string; how: 'resumed' | 'failed' | 'closed' };
  ttl?: number;
}

export interface Registration {
  key: string;
  token: string;
  since: string;
  expect: readonly string[];
  failWith?: string | undefined;
  incidentId: string;
  app: string;
  step: string;
  /** The wait's timeout: the item lives a day beyond it. */
  timeoutSeconds: number;
}

const keyOf = (key: string) => ({ [TOKENS_TABLE.partitionKey]: key });
const ttlAfter = (now: Date, seconds: number) => Math.floor(now.getTime() / 1000) + seconds + TOKEN_ITEM_TTL_SECONDS;

/** Stores the token (a retried Await state's new token replaces the old one) and returns the item as it is now. */
export async function registerToken(ddb: DynamoDBDocumentClient, table: string, r: Registration, now: Date): Promise<TokenItem> {
  const x = new ExpressionBuilder();
  const update = x.update({
    set: {
      token: r.token,
      since: r.since,
      expect: [...r.expect],
      incidentId: r.incidentId,
      app: r.app,
      step: r.step,
      registeredAt: now.toISOString(),
      [TOKENS_TABLE.ttlAttribute]: ttlAfter(now, r.timeoutSeconds),
      ...(r.failWith ? { failWith: r.failWith } : {}),
    },
    ...(r.failWith ? {} : { remove: ['failWith'] }),
  });
  const out = await ddb.send(new UpdateCommand({ TableName: table, Key: keyOf(r.key), UpdateExpression: update, ...x.attributes(), ReturnValues: 'ALL_NEW' }));
  return out.Attributes as TokenItem;
}

/**
 * Stores an event under its key, unless a later one is there already (EventBridge does not
 * keep order). Returns the item as it is now, or null when the event was older than the one stored.
 */
export async function recordArrival(ddb: DynamoDBDocumentClient, table: string, arrival: Arrival, now: Date): Promise<TokenItem | null> {
  const x = new ExpressionBuilder();
  const update = x.update({ set: { arrival: { ...arrival }, [TOKENS_TABLE.ttlAttribute]: ttlAfter(now, 0) } });
  const stored = x.name('arrival');
  const condition = `attribute_not_exists(${stored}) OR ${stored}.${x.name('at')} <= ${x.value(arrival.at)}`;
  try {
    const out = await ddb.send(
      new UpdateCommand({ TableName: table, Key: keyOf(arrival.key), UpdateExpression: update, ConditionExpression: condition, ...x.attributes(), ReturnValues: 'ALL_NEW' }),
    );
    return out.Attributes as TokenItem;
  } catch (error) {
    if (isConditionFailure(error)) return null;
    throw error;
  }
}

/** Notes that `token` was resumed (or found closed), unless the item holds another token by now. */
export async function markResumed(ddb: DynamoDBDocumentClient, table: string, key: string, resumed: NonNullable<TokenItem['resumed']>): Promise<void> {
  const x = new ExpressionBuilder();
  const update = x.update({ set: { resumed: { ...resumed } } });
  try {
    await ddb.send(
      new UpdateCommand({ TableName: table, Key: keyOf(key), UpdateExpression: update, ConditionExpression: `${x.name('token')} = ${x.value(resumed.token)}`, ...x.attributes() }),
    );
  } catch (error) {
    // A retried Await state stored a newer token meanwhile: that one is still to be resumed.
    if (!isConditionFailure(error)) throw error;
  }
}

export async function getTokenItem(ddb: DynamoDBDocumentClient, table: string, key: string): Promise<TokenItem | null> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: keyOf(key), ConsistentRead: true }));
  return (out.Item as TokenItem | undefined) ?? null;
}
