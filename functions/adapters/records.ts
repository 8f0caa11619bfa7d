// The failover records table: one audit item per incident (trigger, nodes, step timings, outcome, RTO).
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RECORDS_TABLE } from '../../core/tables.ts';
import { ExpressionBuilder, type UpdateSpec } from './update-expression.ts';

export interface RecordKey {
  app: string;
  incidentId: string;
}

export interface FailoverRecord extends RecordKey {
  startedAt?: string;
  /** When traffic moved to the new node (first time): the end of the RTO. */
  shiftedAt?: string;
  outcome?: string;
  [attribute: string]: unknown;
}

const key = (k: RecordKey) => ({ [RECORDS_TABLE.partitionKey]: k.app, [RECORDS_TABLE.sortKey]: k.incidentId });

export async function updateRecord(ddb: DynamoDBDocumentClient, table: string, k: RecordKey, spec: UpdateSpec): Promise<FailoverRecord> {
  const x = new ExpressionBuilder();
  const update = x.update(spec);
  const out = await ddb.send(
    new UpdateCommand({ TableName: table, Key: key(k), UpdateExpression: update, ...x.attributes(), ReturnValues: 'ALL_NEW' }),
  );
  return (out.Attributes as FailoverRecord | undefined) ?? { ...k };
}

export async function getRecord(ddb: DynamoDBDocumentClient, table: string, k: RecordKey): Promise<FailoverRecord | null> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: key(k), ConsistentRead: true }));
  return (out.Item as FailoverRecord | undefined) ?? null;
}

/** Attribute names of a step's timing: first start and last end (flat, so no parent map must exist). */
export function stepTimingAttributes(step: string): { startedAt: string; endedAt: string; lastError: string; invocations: string } {
  return {
    startedAt: `${step}StartedAt`,
    endedAt: `${step}EndedAt`,
    lastError: `${step}LastError`,
    invocations: `${step}Invocations`,
  };
}

/** Records one invocation of a step: its first start is kept, its last end and error overwritten. */
export async function recordStepTiming(
  ddb: DynamoDBDocumentClient,
  table: string,
  k: RecordKey,
  timing: { step: string; startedAt: Date; endedAt: Date; error: string | null },
): Promise<void> {
  const names = stepTimingAttributes(timing.step);
  await updateRecord(ddb, table, k, {
    setIfNotExists: { [names.startedAt]: timing.startedAt.toISOString() },
    set: { [names.endedAt]: timing.endedAt.toISOString(), ...(timing.error ? { [names.lastError]: timing.error } : {}) },
    add: { [names.invocations]: 1 },
  });
}

/** An application's failover records, newest first (incident ids start with their UTC time). */
export async function listRecords(ddb: DynamoDBDocumentClient, table: string, app: string, limit = 20): Promise<FailoverRecord[]> {
  const result = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: '#app = :app',
      ExpressionAttributeNames: { '#app': RECORDS_TABLE.partitionKey },
      ExpressionAttributeValues: { ':app': app },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return (result.Items ?? []) as FailoverRecord[];
}
