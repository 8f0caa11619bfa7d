// The claims table: node leases (A5, B1). One item per (node, application) plus a node-level
// item (holder '#node') whose version and capacity counters every claim checks, so no node is
// given twice and a virtual-node host is never over-packed, whatever runs concurrently.
import {
  DeleteCommand,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { LeaseLostError } from '../../core/errors.ts';
import { CLAIMS_TABLE, NODE_HOLDER, STATE_TABLE } from '../../core/tables.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { ExpressionBuilder } from './update-expression.ts';

/**
 * claimed: being provisioned for an incident (expiring lease); serving: the application runs
 * there (no expiry); preempted: halting for a higher-priority application; quarantined /
 * retained: set aside with a reason, never selected until an operator deletes the item.
 */
export type ClaimRole = 'claimed' | 'serving' | 'preempted' | 'quarantined' | 'retained';

/** Lease value of items that do not expire (serving, quarantined, retained): 9999-12-31. */
export const NO_EXPIRY = 253_402_300_799;

export interface ClaimItem {
  nodeId: string;
  /** The application holding the node. */
  holder: string;
  incidentId: string;
  role: ClaimRole;
  /** What the application takes of the node (its hardware requirement) and its priority. */
  priority: number;
  vcpu: number;
  memoryMiB: number;
  pool?: string;
  instanceType?: string;
  preempts?: string[];
  shared?: boolean;
  lastPossibleNode?: boolean;
  /** Epoch seconds. */
  leaseExpiresAt: number;
  ttl?: number;
  claimedAt?: string;
  reason?: string;
  preemptedBy?: string;
  /** Durable start marks of the steps that time out (set once per claim). */
  provisionStartedAt?: string;
  joinStartedAt?: string;
  /** Join: the application answered on the node, which is registered from then on (A9). */
  joinRegisteredAt?: string;
  /** Join: the readiness command's attempt under way (1 when absent). */
  readinessAttempt?: number;
  shiftStartedAt?: string;
  servingSince?: string;
}

export interface NodeItem {
  nodeId: string;
  holder: typeof NODE_HOLDER;
  version: number;
  hostedCount?: number;
  vcpuUsed?: number;
  memoryMiBUsed?: number;
  maxApplications?: number;
}

export interface NodeClaims {
  node: NodeItem | null;
  holders: ClaimItem[];
}

const claimKey = (nodeId: string, holder: string) => ({ [CLAIMS_TABLE.partitionKey]: nodeId, [CLAIMS_TABLE.sortKey]: holder });

/** A lease still counts: it does not expire, or has not expired yet. */
export function isLive(item: ClaimItem, nowSeconds: number): boolean {
  return item.leaseExpiresAt >= nowSeconds;
}

/** Items that put the node to use: a live claim or a serving application. */
export function occupies(item: ClaimItem, nowSeconds: number): boolean {
  return (item.role === 'claimed' || item.role === 'serving') && isLive(item, nowSeconds);
}

/** Items that set the node aside, with their reason. */
export function setAsideReason(item: ClaimItem): string | null {
  if (item.role === 'quarantined') return item.reason ?? `quarantined by ${item.incidentId}`;
  if (item.role === 'retained') return item.reason ?? `retained by ${item.holder}`;
  return null;
}

function group(items: Record<string, unknown>[], into: Map<string, NodeClaims>): void {
  for (const raw of items) {
    const nodeId = String(raw[CLAIMS_TABLE.partitionKey]);
    const entry = into.get(nodeId) ?? { node: null, holders: [] };
    if (raw[CLAIMS_TABLE.sortKey] === NODE_HOLDER) entry.node = raw as unknown as NodeItem;
    else entry.holders.push(raw as unknown as ClaimItem);
    into.set(nodeId, entry);
  }
}

/** Every claim, by node. The table holds only nodes in use or set aside, so it stays small. */
export async function scanClaims(ddb: DynamoDBDocumentClient, table: string): Promise<Map<string, NodeClaims>> {
  const byNode = new Map<string, NodeClaims>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    group((out.Items ?? []) as Record<string, unknown>[], byNode);
    start = out.LastEvaluatedKey;
  } while (start);
  return byNode;
}

/** The claims on one node. */
export async function queryNode(ddb: DynamoDBDocumentClient, table: string, nodeId: string): Promise<NodeClaims> {
  const byNode = new Map<string, NodeClaims>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: '#pk = :node',
        ExpressionAttributeNames: { '#pk': CLAIMS_TABLE.partitionKey },
        ExpressionAttributeValues: { ':node': nodeId },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    group((out.Items ?? []) as Record<string, unknown>[], byNode);
    start = out.LastEvaluatedKey;
  } while (start);
  return byNode.get(nodeId) ?? { node: null, holders: [] };
}

export async function getClaim(ddb: DynamoDBDocumentClient, table: string, nodeId: string, app: string): Promise<ClaimItem | null> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: claimKey(nodeId, app), ConsistentRead: true }));
  return (out.Item as ClaimItem | undefined) ?? null;
}

export interface TakeClaim {
  claim: ClaimItem;
  /** The node's claims as read for the selection: the node item's version is checked. */
  seen: NodeClaims;
  /** Live holders this claim preempts (A5): marked 'preempted'. */
  preempted: readonly ClaimItem[];
  maxApplications: number;
  nowSeconds: number;
}

/**
 * Claims a node in one transaction: the application's item (absent, expired or ours), the
 * node item (unchanged since it was read; counters rewritten), preempted tenants marked,
 * expired leases of crashed executions swept. Returns false when another writer won.
 */
export async function takeClaim(ddb: DynamoDBDocumentClient, table: string, t: TakeClaim): Promise<boolean> {
  const { claim, seen, nowSeconds } = t;
  const preemptedHolders = new Set(t.preempted.map((p) => p.holder));
  const expired = seen.holders.filter((h) => h.holder !== claim.holder && h.role === 'claimed' && !isLive(h, nowSeconds));
  const stays = seen.holders.filter(
    (h) => h.holder !== claim.holder && !preemptedHolders.has(h.holder) && occupies(h, nowSeconds),
  );
  const tenants = [...stays, claim];
  const version = seen.node?.version ?? 0;

  const claimX = new ExpressionBuilder();
  const claimCondition = `attribute_not_exists(${claimX.name(CLAIMS_TABLE.partitionKey)}) OR ${claimX.name('leaseExpiresAt')} < ${claimX.value(nowSeconds)} OR ${claimX.name('incidentId')} = ${claimX.value(claim.incidentId)}`;

  const nodeX = new ExpressionBuilder();
  const nodeUpdate = nodeX.update({
    set: {
      version: version + 1,
      hostedCount: tenants.length,
      vcpuUsed: tenants.reduce((s, h) => s + h.vcpu, 0),
      memoryMiBUsed: tenants.reduce((s, h) => s + h.memoryMiB, 0),
      maxApplications: t.maxApplications,
    },
  });
  const nodeCondition =
    seen.node === null
      ? `attribute_not_exists(${nodeX.name('version')})`
      : `${nodeX.name('version')} = ${nodeX.value(version)}`;
  // The stored count is checked too, not just the version: it may only be above what this claim
  // leaves room for by the tenants this transaction removes (preempted, expired) or replaces:
  // the application's own earlier claim (a crashed execution's expired lease, or this
  // incident's own) is still counted, and the Put overwrites it.
  const replaced = seen.holders.filter((h) => h.holder === claim.holder && (h.role === 'claimed' || h.role === 'serving'));
  // Expired claims that DynamoDB's TTL has deleted are still in the stored count (no one wrote
  // the node item when they went): what the count holds beyond the claims still there is gone.
  const counted = seen.holders.filter((h) => h.role === 'claimed' || h.role === 'serving').length;
  const gone = Math.max(0, (seen.node?.hostedCount ?? 0) - counted);
  const countLimit = t.maxApplications - 1 + t.preempted.length + expired.length + replaced.length + gone;
  const capacityCondition = `${nodeCondition} AND (attribute_not_exists(${nodeX.name('hostedCount')}) OR ${nodeX.name('hostedCount')} <= ${nodeX.value(countLimit)})`;

  const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
    { Put: { TableName: table, Item: { ...claim }, ConditionExpression: claimCondition, ...claimX.attributes() } },
    {
      Update: {
        TableName: table,
        Key: claimKey(claim.nodeId, NODE_HOLDER),
        UpdateExpression: nodeUpdate,
        ConditionExpression: capacityCondition,
        ...nodeX.attributes(),
      },
    },
  ];
  for (const victim of t.preempted) {
    const x = new ExpressionBuilder();
    const update = x.update({ set: { role: 'preempted', preemptedBy: claim.incidentId } });
    items.push({
      Update: {
        TableName: table,
        Key: claimKey(victim.nodeId, victim.holder),
        UpdateExpression: update,
        ConditionExpression: `${x.name('incidentId')} = ${x.value(victim.incidentId)} AND ${x.name('role')} = ${x.value(victim.role)}`,
        ...x.attributes(),
      },
    });
  }
  for (const stale of expired) {
    const x = new ExpressionBuilder();
    const condition = `${x.name('incidentId')} = ${x.value(stale.incidentId)} AND ${x.name('leaseExpiresAt')} < ${x.value(nowSeconds)}`;
    items.push({ Delete: { TableName: table, Key: claimKey(stale.nodeId, stale.holder), ConditionExpression: condition, ...x.attributes() } });
  }
  try {
    await ddb.send(new TransactWriteCommand({ TransactItems: items }));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Checks our lease and stamps a step's first start on it (if_not_exists). Our lease is gone
 * (expired and taken, released, or never ours) → LeaseLostError: stop touching the node.
 */
export async function touchClaim(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: { nodeId: string; app: string; incidentId: string; mark: 'provisionStartedAt' | 'joinStartedAt' | 'joinRegisteredAt' | 'shiftStartedAt'; now: Date; roles: ClaimRole[] },
): Promise<ClaimItem> {
  const x = new ExpressionBuilder();
  const update = x.update({ setIfNotExists: { [input.mark]: input.now.toISOString() } });
  const roles = input.roles.map((role) => x.value(role)).join(', ');
  const condition = `${x.name('incidentId')} = ${x.value(input.incidentId)} AND ${x.name('role')} IN (${roles})`;
  try {
    const out = await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: claimKey(input.nodeId, input.app),
        UpdateExpression: update,
        ConditionExpression: condition,
        ...x.attributes(),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes as ClaimItem;
  } catch (error) {
    if (isConditionFailure(error)) {
      throw new LeaseLostError(`${input.app} no longer holds ${input.nodeId} for incident ${input.incidentId}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Moves the readiness command on to the attempt after `failedAttempt`. Conditional on the
 * attempt still being `failedAttempt`, so a poll that runs twice never skips an attempt.
 */
export async function nextReadinessAttempt(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: { nodeId: string; app: string; incidentId: string; failedAttempt: number },
): Promise<void> {
  const x = new ExpressionBuilder();
  const update = x.update({ set: { readinessAttempt: input.failedAttempt + 1 } });
  const attempt = x.name('readinessAttempt');
  const current = input.failedAttempt === 1 ? `(attribute_not_exists(${attempt}) OR ${attempt} = ${x.value(1)})` : `${attempt} = ${x.value(input.failedAttempt)}`;
  const condition = `${x.name('incidentId')} = ${x.value(input.incidentId)} AND ${current}`;
  try {
    await ddb.send(new UpdateCommand({ TableName: table, Key: claimKey(input.nodeId, input.app), UpdateExpression: update, ConditionExpression: condition, ...x.attributes() }));
  } catch (error) {
    // Already moved on (a repeated poll), or the lease is gone (the next touchClaim says so).
    if (!isConditionFailure(error)) throw error;
  }
}

function counterDelta(item: ClaimItem | null, nowSeconds: number): Record<string, number> {
  if (!item || !occupies(item, nowSeconds)) return { version: 1 };
  return { version: 1, hostedCount: -1, vcpuUsed: -item.vcpu, memoryMiBUsed: -item.memoryMiB };
}

/**
 * Gives an application's claim on a node up: the item is deleted (only if it belongs to
 * `incidentId` when given) and the node's counters drop. Idempotent: nothing to release → false.
 */
export async function releaseClaim(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: { nodeId: string; app: string; incidentId?: string; nowSeconds: number },
): Promise<boolean> {
  const existing = await getClaim(ddb, table, input.nodeId, input.app);
  if (!existing || (input.incidentId !== undefined && existing.incidentId !== input.incidentId)) return false;
  const x = new ExpressionBuilder();
  const condition = `${x.name('incidentId')} = ${x.value(existing.incidentId)} AND ${x.name('role')} = ${x.value(existing.role)}`;
  const nodeX = new ExpressionBuilder();
  const nodeUpdate = nodeX.update({ add: counterDelta(existing, input.nowSeconds) });
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          { Delete: { TableName: table, Key: claimKey(input.nodeId, input.app), ConditionExpression: condition, ...x.attributes() } },
          { Update: { TableName: table, Key: claimKey(input.nodeId, NODE_HOLDER), UpdateExpression: nodeUpdate, ...nodeX.attributes() } },
        ],
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Sets a node aside for an application (quarantine with a reason, or retained for inspection):
 * the item no longer expires and no longer counts as occupying the node.
 */
export async function setAside(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: { nodeId: string; app: string; incidentId: string; role: 'quarantined' | 'retained'; reason: string; now: Date; priority: number; vcpu: number; memoryMiB: number },
): Promise<void> {
  const nowSeconds = Math.floor(input.now.getTime() / 1000);
  const existing = await getClaim(ddb, table, input.nodeId, input.app);
  const item: ClaimItem = {
    ...(existing ?? {}),
    nodeId: input.nodeId,
    holder: input.app,
    incidentId: input.incidentId,
    role: input.role,
    reason: input.reason,
    priority: existing?.priority ?? input.priority,
    vcpu: existing?.vcpu ?? input.vcpu,
    memoryMiB: existing?.memoryMiB ?? input.memoryMiB,
    leaseExpiresAt: NO_EXPIRY,
    claimedAt: existing?.claimedAt ?? input.now.toISOString(),
  };
  delete item.ttl;
  const nodeX = new ExpressionBuilder();
  const nodeUpdate = nodeX.update({ add: counterDelta(existing, nowSeconds) });
  await ddb.send(
    new TransactWriteCommand({
      TransactItems: [
        { Put: { TableName: table, Item: { ...item } } },
        { Update: { TableName: table, Key: claimKey(input.nodeId, NODE_HOLDER), UpdateExpression: nodeUpdate, ...nodeX.attributes() } },
      ],
    }),
  );
}

/** A preempted tenant has been halted: its item goes (counters were already adjusted by the claim). */
export async function forgetPreempted(ddb: DynamoDBDocumentClient, table: string, nodeId: string, app: string, byIncident: string): Promise<void> {
  const x = new ExpressionBuilder();
  const condition = `${x.name('role')} = ${x.value('preempted')} AND ${x.name('preemptedBy')} = ${x.value(byIncident)}`;
  try {
    await ddb.send(new DeleteCommand({ TableName: table, Key: claimKey(nodeId, app), ConditionExpression: condition, ...x.attributes() }));
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/**
 * The point of no return of a failover, in one transaction: the claim becomes 'serving' (no
 * expiry) and the application's state names the new node. Already done → no-op.
 */
export async function commitServing(
  ddb: DynamoDBDocumentClient,
  tables: { claims: string; state: string },
  input: { nodeId: string; app: string; incidentId: string; now: Date },
): Promise<void> {
  const claimX = new ExpressionBuilder();
  const claimUpdate = claimX.update({ set: { role: 'serving', leaseExpiresAt: NO_EXPIRY, servingSince: input.now.toISOString() }, remove: ['ttl'] });
  const claimCondition = `${claimX.name('incidentId')} = ${claimX.value(input.incidentId)} AND ${claimX.name('role')} IN (${claimX.value('claimed')}, ${claimX.value('serving')})`;
  const stateX = new ExpressionBuilder();
  const stateUpdate = stateX.update({
    set: { currentNode: input.nodeId, offline: false, updatedAt: input.now.toISOString(), servingIncident: input.incidentId },
    remove: ['offlineSince', 'offlineReason'],
  });
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: tables.claims,
              Key: claimKey(input.nodeId, input.app),
              UpdateExpression: claimUpdate,
              ConditionExpression: claimCondition,
              ...claimX.attributes(),
            },
          },
          { Update: { TableName: tables.state, Key: { [STATE_TABLE.partitionKey]: input.app }, UpdateExpression: stateUpdate, ...stateX.attributes() } },
        ],
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) {
      throw new LeaseLostError(`${input.app} no longer holds ${input.nodeId} for incident ${input.incidentId}`, { cause: error });
    }
    throw error;
  }
}
