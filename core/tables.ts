// Key schema of the three tables. lib/ creates them from these names; functions/ and
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
