// Lease expiry at the claims table itself: a crashed execution's claim must never keep its node
// from the pool, whether the claim is still there expired (same application or another), or
// DynamoDB's TTL has already deleted it (the node item's counters are then stale).
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAIMS_TABLE } from '../../core/tables.ts';
import { queryNode, takeClaim, type ClaimItem } from '../../functions/adapters/claims.ts';
import { CLAIM_LEASE_SECONDS, TTL_GRACE_SECONDS } from '../../functions/policy.ts';
import type { Deps } from '../../functions/deps.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { openLocalRuntime, type LocalRuntime } from '../../local/runtime/simulation.ts';
import { app, node, nodeId, scenario } from '../workflow/fixtures.ts';

const dynamoEndpoint = sharedDynamoEndpoint();
let runtime: LocalRuntime;
let deps: Deps;
let table: string;

beforeAll(async () => {
  const s = scenario({
    name: 'lease-expiry',
    applications: [app('ledger'), app('orders')],
    instances: [node(1, { runs: ['ledger'] }), node(2, { runs: ['orders'] }), node(3), node(4), node(5)],
    timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
  });
  runtime = await openLocalRuntime(s, { dynamoEndpoint });
  deps = runtime.deps;
  table = deps.env.tables.claims;
});

afterAll(async () => {
  await runtime?.close();
});

const T0 = Math.floor(Date.parse('2030-01-01T00:00:00Z') / 1000);

function claimOf(nodeId: string, holder: string, incidentId: string, at: number): ClaimItem {
  return {
    nodeId,
    holder,
    incidentId,
    role: 'claimed',
    priority: 500,
    vcpu: 2,
    memoryMiB: 4096,
    pool: 'general',
    instanceType: 'm7i.xlarge',
    leaseExpiresAt: at + CLAIM_LEASE_SECONDS,
    ttl: at + CLAIM_LEASE_SECONDS + TTL_GRACE_SECONDS,
    claimedAt: new Date(at * 1000).toISOString(),
  };
}

/** takeClaim as select calls it: with the node's claims as read just before. */
async function take(claim: ClaimItem, nowSeconds: number): Promise<boolean> {
  const seen = await queryNode(deps.ddb, table, claim.nodeId);
  return takeClaim(deps.ddb, table, { claim, seen, preempted: [], maxApplications: 1, nowSeconds });
}

describe('a crashed execution’s claim', () => {
  it('still holds the node while its lease runs: nobody else gets it', async () => {
    expect(await take(claimOf(nodeId(3), 'ledger', 'crashed-1', T0), T0)).toBe(true);
    expect(await take(claimOf(nodeId(3), 'orders', 'other-1', T0 + 60), T0 + 60)).toBe(false);
  });

  it('expired, another application takes the node and the stale claim is swept', async () => {
    const later = T0 + CLAIM_LEASE_SECONDS + 1;
    expect(await take(claimOf(nodeId(3), 'orders', 'other-2', later), later)).toBe(true);
    expect((await queryNode(deps.ddb, table, nodeId(3))).holders.map((h) => `${h.holder}/${h.incidentId}`)).toEqual(['orders/other-2']);
  });

  it('expired, the same application takes the node again in its next incident', async () => {
    expect(await take(claimOf(nodeId(4), 'ledger', 'crashed-2', T0), T0)).toBe(true);
    const later = T0 + CLAIM_LEASE_SECONDS + 1;
    expect(await take(claimOf(nodeId(4), 'ledger', 'next-2', later), later)).toBe(true);
    expect((await queryNode(deps.ddb, table, nodeId(4))).holders.map((h) => h.incidentId)).toEqual(['next-2']);
  });

  it('deleted by DynamoDB’s TTL a day after it expired: the node is not lost to its stale counters', async () => {
    expect(await take(claimOf(nodeId(5), 'ledger', 'crashed-3', T0), T0)).toBe(true);
    // What TTL does: the claim item goes; the node item (and its hosted count) stays.
    await deps.ddb.send(new DeleteCommand({ TableName: table, Key: { [CLAIMS_TABLE.partitionKey]: nodeId(5), [CLAIMS_TABLE.sortKey]: 'ledger' } }));
    const muchLater = T0 + CLAIM_LEASE_SECONDS + TTL_GRACE_SECONDS + 3_600;

    expect(await take(claimOf(nodeId(5), 'orders', 'after-ttl', muchLater), muchLater), 'a claim after TTL swept the crashed one').toBe(true);
    expect((await queryNode(deps.ddb, table, nodeId(5))).node).toMatchObject({ hostedCount: 1 });
  });
});
