// What the domain core knows about pool nodes. Adapters build these from
// DescribeInstances / DescribeInstanceTypes and the claims table; the core never calls AWS.
import type { TargetGroupFacts } from './load-balancing.ts';
import type { TriggerKind } from './workflow-state.ts';

export type Architecture = 'x86_64' | 'arm64';
export type Feature = 'gpu' | 'nvme' | 'inferentia' | 'efa';

/** Hardware of an instance type, from DescribeInstanceTypes (cached). */
export interface InstanceTypeFacts {
  instanceType: string;
  vcpu: number;
  memoryMiB: number;
  architectures: Architecture[];
  features: Feature[];
}

export type NodeState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

/** An application running on a node, as recorded by its claim. */
export interface HostedApplication {
  app: string;
  priority: number;
  /** What it takes of the node: its hardware requirement (vCPU, MiB). */
  vcpu: number;
  memoryMiB: number;
}

export interface PoolNode {
  nodeId: string;
  pool: string;
  tier: 'failover' | 'backup';
  facts: InstanceTypeFacts;
  state: NodeState;
  /** Placement.AvailabilityZone from DescribeInstances (null: not known). */
  availabilityZone: string | null;
  /** EC2 status checks pass (or the node is stopped and has no status). */
  healthy: boolean;
  /** Set aside by an earlier failure, with the reason. */
  quarantine: string | null;
  /** Applications it runs now. Empty: idle. */
  hosted: HostedApplication[];
  /** How many applications it may host (1, or the pool's virtualNodes.maxApplications). */
  maxApplications: number;
  /** Share of vCPU/memory kept for the host on a virtual-node host. */
  reservedFraction: number;
}

export interface SelectionRequest {
  trigger: TriggerKind;
  /** The node the application runs on now (if known): a performance trigger prefers a more capable node. */
  currentNode: PoolNode | null;
  /** Nodes already tried in this incident. */
  triedNodes: readonly string[];
  /** Operator switchover to a named node (C6). */
  requestedNode?: string;
  candidates: readonly PoolNode[];
  /** The application's target groups and their load balancers (A6: enabled zones). Absent: not known, not checked. */
  targetGroups?: readonly TargetGroupFacts[];
}

export interface Rejection {
  nodeId: string;
  reasons: string[];
}

export interface Candidate {
  node: PoolNode;
  /** Applications on the node to halt first (lower priority than the one failing over, A5). */
  preempts: HostedApplication[];
  /** Shares the node with applications that stay (B1). */
  shared: boolean;
  /** Taken from the application's sequenced list and it is the last one there (C7). */
  lastPossibleNode: boolean;
  why: string;
}

/**
 * Eligible nodes best first: the select step claims the first it can, and moves on to the
 * next when it loses a claim race. Empty `ranked`: `decision` says what to do (A14).
 */
export interface Selection {
  ranked: Candidate[];
  rejected: Rejection[];
  /** A14: performance trigger → 'stay' on the current node; failure → 'alert' administrators. */
  decision: 'stay' | 'alert' | null;
  why: string;
}
