// The DynamoDB adapters against DynamoDB Local: the expressions, conditions and transactions
// the handlers rely on are accepted by DynamoDB and do what the mocks in the handler tests
// assume. One emulator for the file (startup costs seconds).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createControlPlaneTables } from '../fixtures.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../../core/errors.ts';
import { NODE_HOLDER } from '../../../core/tables.ts';
import { acquireLock, getAppState, getAppStates, releaseLock, updateAppState } from '../../../functions/adapters/app-state.ts';
import {
  NO_EXPIRY,
  commitServing,
  forgetPreempted,
  getClaim,
  queryNode,
  releaseClaim,
  scanClaims,
  setAside,
  takeClaim,
  touchClaim,
  type ClaimItem,
} from '../../../functions/adapters/claims.ts';
import { recordLedger, type CommandEntry } from '../../../functions/adapters/command-ledger.ts';
import { getRecord, recordStepTiming, updateRecord } from '../../../functions/adapters/records.ts';
import { DOCUMENT_CLIENT_OPTIONS } from '../../../functions/deps.ts';
import { LOCAL_CLIENT_CONFIG } from '../../../local/dynamodb-local.ts';
import { sharedDynamoEndpoint } from '../../shared-dynamodb.ts';

const dynamoEndpoint = sharedDynamoEndpoint();
let raw: DynamoDBClient;
let ddb: DynamoDBDocumentClient;
let n = 0;
/** Fresh tables per test: no test sees another's items. */
let tables: { state: string; claims: string; records: string };

const NOW = new Date('2025-03-01T12:00:00.000Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const NODE = 'i-00000000000000002';

async function createTables() {
  n++;
  tables = await createControlPlaneTables(raw, `t${n}-`);
}

function claim(overrides: Partial<ClaimItem> = {}): ClaimItem {
  return {
    nodeId: NODE,
    holder: 'web',
    incidentId: 'inc-1',
    role: 'claimed',
    priority: 500,
    vcpu: 2,
    memoryMiB: 4096,
    pool: 'general',
    instanceType: 'm7i.xlarge',
    leaseExpiresAt: NOW_S + 3600,
    ttl: NOW_S + 3600 + 86_400,
    ...overrides,
  };
}

beforeAll(async () => {
  raw = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: dynamoEndpoint });
  ddb = DynamoDBDocumentClient.from(raw, DOCUMENT_CLIENT_OPTIONS);
});

afterAll(async () => {
  raw?.destroy();
});

describe('app state (locks, history) on DynamoDB Local', () => {
  beforeAll(createTables);

  it('one active failover per application: free → acquired, same incident → re-entered, other incident → refused, expired → taken', async () => {
    const first = await acquireLock(ddb, tables.state, { app: 'web', incidentId: 'a', now: NOW, leaseSeconds: 600 });
    const again = await acquireLock(ddb, tables.state, { app: 'web', incidentId: 'a', now: NOW, leaseSeconds: 600 });
    const other = await acquireLock(ddb, tables.state, { app: 'web', incidentId: 'b', now: NOW, leaseSeconds: 600 });
    const later = new Date(NOW.getTime() + 601_000);
    const expired = await acquireLock(ddb, tables.state, { app: 'web', incidentId: 'b', now: later, leaseSeconds: 600 });
    expect([first.acquired, again.acquired, other.acquired, expired.acquired]).toEqual([true, true, false, true]);
    expect(again.acquired && again.reentered).toBe(true);
    expect(!other.acquired && other.heldBy).toBe('a');
  });

  it('releases the lock only for its holder; conditional updates report whether they applied', async () => {
    await acquireLock(ddb, tables.state, { app: 'db', incidentId: 'x', now: NOW, leaseSeconds: 600 });
    expect(await releaseLock(ddb, tables.state, 'db', 'y')).toBe(false);
    expect(await releaseLock(ddb, tables.state, 'db', 'x')).toBe(true);
    expect((await getAppState(ddb, tables.state, 'db'))?.lockIncident).toBeUndefined();
    const applied = await updateAppState(ddb, tables.state, 'db', { set: { offline: true }, remove: ['currentNode'] }, (x) => `${x.name('currentNode')} = ${x.value('i-1')}`);
    expect(applied).toBe(false);
  });

  it('reads many state items at once', async () => {
    await updateAppState(ddb, tables.state, 'search', { set: { currentNode: NODE } });
    const states = await getAppStates(ddb, tables.state, ['search', 'web', 'missing']);
    expect(states.get('search')?.currentNode).toBe(NODE);
    expect(states.has('missing')).toBe(false);
  });
});

describe('claims on DynamoDB Local', () => {
  beforeAll(createTables);

  it('claims a node once: a second incident that read the same version loses', async () => {
    const seen = await queryNode(ddb, tables.claims, NODE);
    const won = await takeClaim(ddb, tables.claims, { claim: claim(), seen, preempted: [], maxApplications: 1, nowSeconds: NOW_S });
    const lost = await takeClaim(ddb, tables.claims, { claim: claim({ holder: 'search', incidentId: 'inc-2' }), seen, preempted: [], maxApplications: 1, nowSeconds: NOW_S });
    expect([won, lost]).toEqual([true, false]);
    const node = await queryNode(ddb, tables.claims, NODE);
    expect(node.node).toMatchObject({ holder: NODE_HOLDER, version: 1, hostedCount: 1, vcpuUsed: 2 });
    expect(node.holders.map((h) => h.holder)).toEqual(['web']);
  });

  it('the lease check stamps the first start once and refuses a lease that is not ours', async () => {
    const first = await touchClaim(ddb, tables.claims, { nodeId: NODE, app: 'web', incidentId: 'inc-1', mark: 'provisionStartedAt', now: NOW, roles: ['claimed'] });
    const later = await touchClaim(ddb, tables.claims, { nodeId: NODE, app: 'web', incidentId: 'inc-1', mark: 'provisionStartedAt', now: new Date(NOW.getTime() + 60_000), roles: ['claimed'] });
    expect(later.provisionStartedAt).toBe(first.provisionStartedAt);
    await expect(touchClaim(ddb, tables.claims, { nodeId: NODE, app: 'web', incidentId: 'inc-9', mark: 'joinStartedAt', now: NOW, roles: ['claimed'] })).rejects.toMatchObject({
      name: ErrorNames.LeaseLost,
    });
  });

  it('commits serving atomically with the state table, then releases', async () => {
    await commitServing(ddb, tables, { nodeId: NODE, app: 'web', incidentId: 'inc-1', now: NOW });
    await commitServing(ddb, tables, { nodeId: NODE, app: 'web', incidentId: 'inc-1', now: NOW });
    expect(await getClaim(ddb, tables.claims, NODE, 'web')).toMatchObject({ role: 'serving', leaseExpiresAt: NO_EXPIRY });
    expect((await getClaim(ddb, tables.claims, NODE, 'web'))?.ttl).toBeUndefined();
    expect((await ddb.send(new GetCommand({ TableName: tables.state, Key: { app: 'web' } }))).Item).toMatchObject({ currentNode: NODE, offline: false });
    await expect(commitServing(ddb, tables, { nodeId: NODE, app: 'web', incidentId: 'other', now: NOW })).rejects.toMatchObject({ name: ErrorNames.LeaseLost });

    expect(await releaseClaim(ddb, tables.claims, { nodeId: NODE, app: 'web', incidentId: 'other', nowSeconds: NOW_S })).toBe(false);
    expect(await releaseClaim(ddb, tables.claims, { nodeId: NODE, app: 'web', nowSeconds: NOW_S })).toBe(true);
    const node = await queryNode(ddb, tables.claims, NODE);
    expect(node.holders).toEqual([]);
    expect(node.node).toMatchObject({ version: 2, hostedCount: 0, vcpuUsed: 0 });
  });

  it('A5/B1: preempts a tenant and sweeps an expired lease in the same transaction', async () => {
    const host = 'i-00000000000000009';
    const tenant = claim({ nodeId: host, holder: 'low', incidentId: 'low-1', role: 'serving', priority: 10, leaseExpiresAt: NO_EXPIRY });
    const stale = claim({ nodeId: host, holder: 'batch', incidentId: 'crashed', leaseExpiresAt: NOW_S - 5 });
    const empty = await queryNode(ddb, tables.claims, host);
    await takeClaim(ddb, tables.claims, { claim: tenant, seen: empty, preempted: [], maxApplications: 3, nowSeconds: NOW_S - 10 });
    const seenBatch = await queryNode(ddb, tables.claims, host);
    await takeClaim(ddb, tables.claims, { claim: { ...stale, leaseExpiresAt: NOW_S - 5 }, seen: seenBatch, preempted: [], maxApplications: 3, nowSeconds: NOW_S - 10 });

    const seen = await queryNode(ddb, tables.claims, host);
    const victim = seen.holders.find((h) => h.holder === 'low')!;
    const won = await takeClaim(ddb, tables.claims, { claim: claim({ nodeId: host }), seen, preempted: [victim], maxApplications: 3, nowSeconds: NOW_S });
    expect(won).toBe(true);
    const after = await queryNode(ddb, tables.claims, host);
    expect(after.holders.map((h) => [h.holder, h.role]).sort()).toEqual([
      ['low', 'preempted'],
      ['web', 'claimed'],
    ]);
    expect(after.node).toMatchObject({ version: 3, hostedCount: 1 });
    await forgetPreempted(ddb, tables.claims, host, 'low', 'inc-1');
    expect(await getClaim(ddb, tables.claims, host, 'low')).toBeNull();
  });

  it('sets a node aside (quarantine) with a reason that no longer expires, and a full scan finds it', async () => {
    const node = 'i-00000000000000005';
    await setAside(ddb, tables.claims, { nodeId: node, app: 'web', incidentId: 'inc-3', role: 'quarantined', reason: 'root volume failed', now: NOW, priority: 500, vcpu: 2, memoryMiB: 4096 });
    const all = await scanClaims(ddb, tables.claims);
    expect(all.get(node)?.holders[0]).toMatchObject({ role: 'quarantined', reason: 'root volume failed', leaseExpiresAt: NO_EXPIRY });
  });
});

describe('failover records on DynamoDB Local', () => {
  beforeAll(createTables);

  it('keeps the first start of a step and the last end, counting invocations', async () => {
    const key = { app: 'web', incidentId: 'inc-1' };
    const t0 = NOW;
    const t1 = new Date(NOW.getTime() + 5_000);
    await recordStepTiming(ddb, tables.records, key, { step: 'provision', startedAt: t0, endedAt: t0, error: null });
    await recordStepTiming(ddb, tables.records, key, { step: 'provision', startedAt: t1, endedAt: t1, error: 'StepTimeoutError' });
    await updateRecord(ddb, tables.records, key, { setIfNotExists: { shiftedAt: t1.toISOString() }, set: { toNode: NODE, fromNode: undefined } });
    const record = await getRecord(ddb, tables.records, key);
    expect(record).toMatchObject({
      provisionStartedAt: t0.toISOString(),
      provisionEndedAt: t1.toISOString(),
      provisionLastError: 'StepTimeoutError',
      provisionInvocations: 2,
      shiftedAt: t1.toISOString(),
      toNode: NODE,
    });
  });
});

describe('the SSM command ledger on the failover record, on DynamoDB Local', () => {
  beforeAll(createTables);
  const intent = (intentAt: string): CommandEntry => ({ instanceId: NODE, purpose: 'provision', index: 0, documentName: 'AWS-RunShellScript', intentAt });
  const T0 = NOW.toISOString();
  const T1 = new Date(NOW.getTime() + 61_000).toISOString();

  it('A3: one intent per command: a second writer is refused; an unsent intent is superseded only by naming it', async () => {
    const ledger = recordLedger(ddb, tables.records, { app: 'web', incidentId: 'ledger-1' });

    const first = await ledger.recordIntent('rf-a', intent(T0));
    const second = await ledger.recordIntent('rf-a', intent(T1));
    const wrongPrevious = await ledger.recordIntent('rf-a', intent(T1), T1);
    const superseded = await ledger.recordIntent('rf-a', intent(T1), T0);

    expect([first, second, wrongPrevious, superseded]).toEqual([true, false, false, true]);
    expect((await ledger.read(['rf-a'])).get('rf-a')).toEqual(intent(T1));
  });

  it('A3: once a command id is recorded, no intent replaces it and no other id overwrites it', async () => {
    const ledger = recordLedger(ddb, tables.records, { app: 'web', incidentId: 'ledger-2' });
    await ledger.recordIntent('rf-a', intent(T0));
    await ledger.recordSent('rf-a', { ...intent(T0), commandId: 'cmd-1', sentAt: T0 });

    await ledger.recordSent('rf-a', { ...intent(T0), commandId: 'cmd-1', sentAt: T0 }); // the same id again: fine
    await expect(ledger.recordSent('rf-a', { ...intent(T0), commandId: 'cmd-2', sentAt: T1 })).rejects.toThrow(/already records another command/);
    expect(await ledger.recordIntent('rf-a', intent(T1), T0)).toBe(false);
    await ledger.forgetIntent('rf-a', T0); // only an unsent intent may go
    await ledger.recordCancelled('rf-a', T1);

    expect((await ledger.read(['rf-a'])).get('rf-a')).toEqual({ ...intent(T0), commandId: 'cmd-1', sentAt: T0, cancelledAt: T1 });
  });

  it('forgets an unsent intent; reads only the tags asked for, or every entry, beside the record\'s other attributes', async () => {
    const key = { app: 'web', incidentId: 'ledger-3' };
    const ledger = recordLedger(ddb, tables.records, key);
    await recordStepTiming(ddb, tables.records, key, { step: 'provision', startedAt: NOW, endedAt: NOW, error: null });
    await ledger.recordIntent('rf-a', intent(T0));
    await ledger.recordIntent('rf-b', intent(T0));
    await ledger.recordIntent('rf-c', intent(T0));
    await ledger.forgetIntent('rf-c', T0);

    expect([...(await ledger.read(['rf-b', 'rf-missing'])).keys()]).toEqual(['rf-b']);
    expect([...(await ledger.readAll()).keys()].sort()).toEqual(['rf-a', 'rf-b']);
    expect(await getRecord(ddb, tables.records, key)).toMatchObject({ provisionInvocations: 1, 'command#rf-a': intent(T0) });
  });
});
