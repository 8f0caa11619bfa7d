// What the core needs to know about pool nodes, assembled from what the adapters read:
// EC2 (instances, types, status checks), the claims table and the applications' state.
import { poolsFor, type Application, type Config } from '../core/config.ts';
import type { TargetGroupFacts } from '../core/load-balancing.ts';
import type { TriggerKind } from '../core/workflow-state.ts';
import type { ApplicationFacts, HostedApplication, InstanceTypeFacts, PoolNode } from '../core/pool.ts';
import { getAppStates, type AppStateItem } from './adapters/app-state.ts';
import { occupies, scanClaims, setAsideReason, type NodeClaims } from './adapters/claims.ts';
import { describeTargetGroups } from './adapters/load-balancers.ts';
import {
  describeBootImage,
  describeInstance,
  instanceTypeFacts,
  listPoolMembers,
  statusChecksPass,
  subnetOfAddress,
  type InstanceInfo,
  type PoolMember,
} from './adapters/fleet.ts';
import type { Deps } from './deps.ts';

/**
 * The node an application runs on: its state item says so; an application the control plane
 * has never moved runs on its preferred node (C2); an offline one runs nowhere.
 */
export function whereRuns(app: Application, state: AppStateItem | undefined | null): string | null {
  if (state?.offline) return null;
  if (state?.currentNode) return state.currentNode;
  return app.placement.preferredNode ?? null;
}

function unknownFacts(instanceType: string): InstanceTypeFacts {
  return { instanceType, vcpu: 0, memoryMiB: 0, architectures: [], features: [] };
}

/** Applications running on a node: live claims, plus applications the state places there without a claim. */
export function hostedOn(
  nodeId: string,
  claims: NodeClaims | undefined,
  config: Config,
  appStates: ReadonlyMap<string, AppStateItem>,
  nowSeconds: number,
): HostedApplication[] {
  const hosted: HostedApplication[] = (claims?.holders ?? [])
    .filter((item) => occupies(item, nowSeconds))
    .map((item) => ({ app: item.holder, priority: item.priority, vcpu: item.vcpu, memoryMiB: item.memoryMiB }));
  const withItem = new Set((claims?.holders ?? []).map((item) => item.holder));
  for (const app of config.applications) {
    if (withItem.has(app.name)) continue;
    if (whereRuns(app, appStates.get(app.name)) === nodeId) {
      hosted.push({ app: app.name, priority: app.priority, vcpu: app.requirements.minVcpu, memoryMiB: app.requirements.minMemoryMiB });
    }
  }
  return hosted;
}

export interface PoolViewInput {
  config: Config;
  members: readonly PoolMember[];
  facts: ReadonlyMap<string, InstanceTypeFacts>;
  health: ReadonlyMap<string, boolean>;
  claims: ReadonlyMap<string, NodeClaims>;
  appStates: ReadonlyMap<string, AppStateItem>;
  nowSeconds: number;
}

export function toPoolNode(member: PoolMember, input: PoolViewInput): PoolNode {
  const { instance, pool } = member;
  const claims = input.claims.get(instance.instanceId);
  const quarantine = (claims?.holders ?? []).map(setAsideReason).find((reason) => reason !== null) ?? null;
  return {
    nodeId: instance.instanceId,
    pool: pool.name,
    tier: pool.tier,
    facts: input.facts.get(instance.instanceType) ?? unknownFacts(instance.instanceType),
    subnetId: instance.subnetId,
    imageFacts: instance.imageFacts,
    state: instance.state,
    availabilityZone: instance.availabilityZone,
    healthy: input.health.get(instance.instanceId) ?? true,
    quarantine,
    hosted: hostedOn(instance.instanceId, claims, input.config, input.appStates, input.nowSeconds),
    maxApplications: pool.virtualNodes?.maxApplications ?? 1,
    reservedFraction: pool.virtualNodes?.reservedFraction ?? 0,
  };
}

/** A node outside the pools (e.g. the application's original host), described only for comparison (A7). */
export function outsideNode(instance: InstanceInfo, facts: ReadonlyMap<string, InstanceTypeFacts>): PoolNode {
  return {
    nodeId: instance.instanceId,
    pool: '(none)',
    tier: 'failover',
    facts: facts.get(instance.instanceType) ?? unknownFacts(instance.instanceType),
    subnetId: instance.subnetId,
    imageFacts: instance.imageFacts,
    state: instance.state,
    availabilityZone: instance.availabilityZone,
    healthy: true,
    quarantine: null,
    hosted: [],
    maxApplications: 1,
    reservedFraction: 0,
  };
}

/** Idle, healthy, usable pool nodes: what the FreePoolNodes metric counts. */
export function isFree(node: PoolNode): boolean {
  return node.hosted.length === 0 && node.quarantine === null && node.healthy && (node.state === 'running' || node.state === 'stopped');
}

export interface PoolRead {
  claims: Map<string, NodeClaims>;
  members: PoolMember[];
  appStates: Map<string, AppStateItem>;
  /** The application's target groups and their load balancers (A6: the zones they enable). */
  targetGroups: TargetGroupFacts[];
  /** What eligibility needs to know about the application itself (the subnet of its secondary IP, its boot image). */
  appFacts: ApplicationFacts;
  /** When the read began (the instances' states are as EC2 reported them then, or later). */
  readAt: Date;
}

/** Everything selection needs to know about the application's pools, read in parallel. */
export async function readPool(deps: Deps, app: Application): Promise<PoolRead> {
  const readAt = deps.clock();
  const [claims, { members, appFacts }, appStates, targetGroups] = await Promise.all([
    scanClaims(deps.ddb, deps.env.tables.claims),
    listPoolMembers(deps.ec2, poolsFor(deps.env.config, app)).then(async (found) => ({ members: found, appFacts: await readApplicationFacts(deps, app, found) })),
    getAppStates(deps.ddb, deps.env.tables.state, deps.env.config.applications.map((a) => a.name)),
    describeTargetGroups(deps.elb, app.cluster.targetGroupArns, deps.clock()),
  ]);
  return { claims, members, appStates, targetGroups, appFacts, readAt };
}

/** Facts about the application that decide which nodes can take it; AWS is asked only what the application needs. */
async function readApplicationFacts(deps: Deps, app: Application, members: readonly PoolMember[]): Promise<ApplicationFacts> {
  const address = app.cluster.logicalAddress;
  const subnets = members.flatMap((m) => (m.instance.subnetId ? [m.instance.subnetId] : []));
  const [addressSubnet, bootImage] = await Promise.all([
    address?.kind === 'secondary-private-ip' ? subnetOfAddress(deps.ec2, address.ipAddress, subnets) : null,
    app.provisioning.method === 'boot-volume' ? describeBootImage(deps.ec2, app.provisioning.source.imageId) : null,
  ]);
  return { addressSubnet, bootImage };
}

/**
 * A node outside the pools that is not described: selection needs only its id (it is not a
 * candidate) unless it compares candidates with it (a performance trigger, A7).
 */
function undescribedNode(nodeId: string): PoolNode {
  return outsideNode(
    { instanceId: nodeId, state: 'running', instanceType: 'unknown', availabilityZone: null, subnetId: null, imageFacts: null, tags: {}, primaryEniId: null, primaryIpAssociated: false, privateIps: [], securityGroupIds: [] },
    new Map(),
  );
}

/**
 * The pool as the domain core sees it, and the node the application runs on now (in the pool or
 * outside it). `statusChecks: false`: nodes are taken as healthy (the caller checks the ones it
 * would claim: checkCandidates). A current node outside the pools is described (DescribeInstances) only for a
 * performance trigger, whose selection prefers nodes more capable than it (A7); any other
 * trigger needs only its id, so a failover makes one DescribeInstances call fewer (in a storm
 * of failures, the bucket EC2 throttles per account; bench/README, section 4).
 */
export async function viewPool(
  deps: Deps,
  pool: PoolRead,
  currentNodeId: string | null,
  nowSeconds: number,
  trigger: TriggerKind,
  options: { statusChecks: boolean } = { statusChecks: true },
): Promise<{ nodes: PoolNode[]; currentNode: PoolNode | null }> {
  const { members, claims, appStates } = pool;
  const isOutside = currentNodeId !== null && !members.some((m) => m.instance.instanceId === currentNodeId);
  const outside = isOutside && trigger === 'performance' ? await describeInstance(deps.ec2, currentNodeId) : null;
  const types = [...members.map((m) => m.instance.instanceType), ...(outside ? [outside.instanceType] : [])];
  const [facts, health] = await Promise.all([
    instanceTypeFacts(deps.ec2, types),
    options.statusChecks ? statusChecksPass(deps.ec2, members.filter((m) => m.instance.state === 'running').map((m) => m.instance.instanceId)) : new Map<string, boolean>(),
  ]);
  const view = { config: deps.env.config, members, facts, health, claims, appStates, nowSeconds };
  const nodes = members.map((member) => toPoolNode(member, view));
  const currentNode =
    nodes.find((n) => n.nodeId === currentNodeId) ?? (outside ? outsideNode(outside, facts) : isOutside && trigger !== 'performance' ? undescribedNode(currentNodeId) : null);
  return { nodes, currentNode };
}

/** DescribeInstanceStatus takes at most 100 instance ids a call. */
const STATUS_IDS_PER_CALL = 100;

/**
 * The status checks of the running nodes a selection ranked first, at most 100 (one
 * DescribeInstanceStatus by id), and the nodes with what they said. Health only rejects a node
 * (core/eligibility.ts), so checking the candidates that could be claimed is enough; a pool of
 * more than 100 running nodes then costs one call, not two filtered ones (statusChecksPass),
 * which in a storm of failovers is what EC2's request bucket for the action allows (bench/README,
 * section 4). Returns the ids checked: only those (and nodes that are not running, which have no
 * status checks) may be claimed.
 */
export async function checkCandidates(deps: Deps, nodes: readonly PoolNode[], ranked: readonly string[]): Promise<{ nodes: PoolNode[]; checked: Set<string> }> {
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));
  const running = ranked.filter((id) => byId.get(id)?.state === 'running').slice(0, STATUS_IDS_PER_CALL);
  const health = await statusChecksPass(deps.ec2, running);
  return { nodes: nodes.map((n) => (health.has(n.nodeId) ? { ...n, healthy: health.get(n.nodeId)! } : n)), checked: new Set(running) };
}
