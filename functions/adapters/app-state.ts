// The state table: one item per application with the node serving it, the incident lock,
// the failover history (flap damping), switching disabled (C7) and the watchdog marks (C4).
import { BatchGetCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FailoverHistoryEntry } from '../../core/decisions.ts';
import { STATE_TABLE } from '../../core/tables.ts';
import type { Outcome } from '../../core/workflow-state.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { ExpressionBuilder, type UpdateSpec } from './update-expression.ts';

export interface HistoryEntry extends FailoverHistoryEntry {
  incidentId: string;
  outcome: Outcome | null;
}

/** C4: what the watchdog knows about the group's last halt. */
export interface HaltMark {
  node: string;
  at: string;
  incidentId: string;
  /** What became of the node: returned to the pool, quarantined, retained, halted on a shared host. */
  disposition: string;
}

export interface AppStateItem {
  app: string;
  /** The node serving the application (absent: unknown, or offline). */
  currentNode?: string | null;
  lockIncident?: string;
  /** Epoch seconds. */
  lockExpiresAt?: number;
  lockedAt?: string;
  history?: HistoryEntry[];
  /** C7: the application reached its last possible node. */
  switchingDisabled?: boolean;
  switchingDisabledReason?: string;
  /** C5/C4: no node serves the application (halted, preempted, or failed with no replacement). */
  offline?: boolean;
  offlineSince?: string;
  offlineReason?: string;
  lastHalt?: HaltMark;
  updatedAt?: string;
}

/** History entries kept per application: enough for any flap window that matters. */
export const HISTORY_LIMIT = 25;

const key = (app: string) => ({ [STATE_TABLE.partitionKey]: app });

export async function getAppState(ddb: DynamoDBDocumentClient, table: string, app: string): Promise<AppStateItem | null> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: key(app), ConsistentRead: true }));
  return (out.Item as AppStateItem | undefined) ?? null;
}

/** State items of many applications (missing ones are absent from the map). */
export async function getAppStates(ddb: DynamoDBDocumentClient, table: string, apps: readonly string[]): Promise<Map<string, AppStateItem>> {
  const found = new Map<string, AppStateItem>();
  const unique = [...new Set(apps)];
  for (let i = 0; i < unique.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map(key);
    for (let round = 0; keys && keys.length > 0 && round < 5; round++) {
      const out = await ddb.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of out.Responses?.[table] ?? []) found.set(String(item.app), item as AppStateItem);
      keys = out.UnprocessedKeys?.[table]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return found;
}

/** `abandoned`: an expired lock this call took over, whose incident never finished. */
export type LockResult = { acquired: true; item: AppStateItem; reentered: boolean; abandoned?: string } | { acquired: false; heldBy: string };

/**
 * One active failover per application: take the lock if it is free, expired, or already
 * ours (a retried lock step re-enters).
 */
export async function acquireLock(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: { app: string; incidentId: string; now: Date; leaseSeconds: number },
): Promise<LockResult> {
  const nowSeconds = Math.floor(input.now.getTime() / 1000);
  const x = new ExpressionBuilder();
  const update = x.update({
    set: { lockIncident: input.incidentId, lockExpiresAt: nowSeconds + input.leaseSeconds, lockedAt: input.now.toISOString(), updatedAt: input.now.toISOString() },
  });
  const condition = `attribute_not_exists(${x.name('lockIncident')}) OR ${x.name('lockExpiresAt')} < ${x.value(nowSeconds)} OR ${x.name('lockIncident')} = ${x.value(input.incidentId)}`;
  try {
    const out = await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: key(input.app),
        UpdateExpression: update,
        ConditionExpression: condition,
        ...x.attributes(),
        ReturnValues: 'ALL_OLD',
      }),
    );
    const old = (out.Attributes as AppStateItem | undefined) ?? { app: input.app };
    const reentered = old.lockIncident === input.incidentId;
    const abandoned = old.lockIncident !== undefined && !reentered ? { abandoned: old.lockIncident } : {};
    return { acquired: true, reentered, item: { ...old, lockIncident: input.incidentId }, ...abandoned };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const current = await getAppState(ddb, table, input.app);
    return { acquired: false, heldBy: current?.lockIncident ?? 'another incident' };
  }
}

/** Releases the lock only if this incident holds it. */
export async function releaseLock(ddb: DynamoDBDocumentClient, table: string, app: string, incidentId: string): Promise<boolean> {
  return updateAppState(ddb, table, app, { remove: ['lockIncident', 'lockExpiresAt', 'lockedAt'] }, (x) => `${x.name('lockIncident')} = ${x.value(incidentId)}`);
}

/** Plain update of an application's state item (creates it when missing). */
export async function updateAppState(ddb: DynamoDBDocumentClient, table: string, app: string, spec: UpdateSpec, condition?: (x: ExpressionBuilder) => string): Promise<boolean> {
  const x = new ExpressionBuilder();
  const update = x.update(spec);
  const conditionExpression = condition?.(x);
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: key(app),
        UpdateExpression: update,
        ...(conditionExpression ? { ConditionExpression: conditionExpression } : {}),
        ...x.attributes(),
      }),
    );
    return true;
  } catch (error) {
    if (conditionExpression && isConditionFailure(error)) return false;
    throw error;
  }
}

/** The history with this incident's entry replaced or appended, newest last, capped. */
export function withHistoryEntry(history: readonly HistoryEntry[] | undefined, entry: HistoryEntry): HistoryEntry[] {
  return [...(history ?? []).filter((e) => e.incidentId !== entry.incidentId), entry].slice(-HISTORY_LIMIT);
}
