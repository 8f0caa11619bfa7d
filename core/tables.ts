// Key schema of the tables. lib/ creates them from these names; functions/ and
// local/ address them by these names, so the three cannot drift apart.

/** Applications: current node, lock (one active failover per application), failover history for flap damping. */
export const STATE_TABLE = { partitionKey: 'app' } as const;

/**
 * Node claims (leases). One item per (node, holder): holder is an application name, or
 * NODE_HOLDER for the node-level item that carries capacity counters on a virtual-node host.
 * `ttl` (epoch seconds) lets DynamoDB sweep expired leases; conditions check `leaseExpiresAt` too,
 * because TTL deletion can lag by days.
 */
export const CLAIMS_TABLE = { partitionKey: 'nodeId', sortKey: 'holder', ttlAttribute: 'ttl' } as const;
export const NODE_HOLDER = '#node';

/** Failover records (audit trail): one item per incident, sorted by incident id within an application. */
export const RECORDS_TABLE = { partitionKey: 'app', sortKey: 'incidentId' } as const;

/**
 * Task tokens of waiting workflow steps, and the AWS events that end their waits (the callback
 * Lambda's store). One item per awaited key ('ssm:<command id>:<instance id>',
 * 'ec2:<instance id>'), whichever comes first: the token (stored by the Await state) or the
 * event (stored by the callback on arrival). Keyed by what an event carries, which no other
 * table is; arrivals nobody waits for expire through `ttl` (epoch seconds).
 */
export const TOKENS_TABLE = { partitionKey: 'key', ttlAttribute: 'ttl' } as const;
