// A6: which pool nodes may take an application, and on what terms (preemption A5,
// virtual-node packing B1). Pure: the adapters gather PoolNode facts; nothing here calls AWS.
import type { Application } from './config.ts';
import { zoneReasons } from './load-balancing.ts';
import type { HostedApplication, PoolNode, SelectionRequest } from './pool.ts';

export type EligibilityContext = Pick<SelectionRequest, 'triedNodes' | 'trigger' | 'currentNode' | 'targetGroups'>;

/** How the application would fit on an eligible node. */
export interface Placement {
  /** Lower-priority applications to halt first (A5). */
  preempts: HostedApplication[];
  /** Applications that keep running beside it (B1). */
  stays: HostedApplication[];
  /** vCPU and memory left over once the application is placed: the smaller, the tighter the fit. */
  surplus: Resources;
}

export type NodeAssessment = ({ eligible: true } & Placement) | { eligible: false; reasons: string[] };

export interface Resources {
  vcpu: number;
  memoryMiB: number;
}

/** States in which an instance is on its way out and cannot be provisioned. */
const GOING_AWAY: readonly PoolNode['state'][] = ['stopping', 'shutting-down', 'terminated'];

/** Shares of a vCPU below this are rounding noise from reservedFraction arithmetic. */
const EPSILON = 1e-9;

/** The reasons `node` cannot take `app` (A6); empty when it can. */
export function checkEligibility(app: Application, node: PoolNode, ctx: EligibilityContext): string[] {
  const assessment = assessNode(app, node, ctx);
  return assessment.eligible ? [] : assessment.reasons;
}

/** Eligibility plus the placement terms (what to preempt, who stays, how tight the fit). */
export function assessNode(app: Application, node: PoolNode, ctx: EligibilityContext): NodeAssessment {
  const placement = planPlacement(app, node);
  const reasons = [
    ...hardwareReasons(app, node),
    ...conditionReasons(node),
    ...zoneReasons(node.availabilityZone, ctx.targetGroups),
    ...incidentReasons(app, node, ctx),
    ...('reasons' in placement ? placement.reasons : []),
  ];
  if (reasons.length > 0 || 'reasons' in placement) return { eligible: false, reasons };
  return { eligible: true, ...placement };
}

export function hardwareReasons(app: Application, node: PoolNode): string[] {
  const need = app.requirements;
  const facts = node.facts;
  const reasons: string[] = [];
  if (facts.vcpu < need.minVcpu) reasons.push(`vCPU ${facts.vcpu} < required ${need.minVcpu}`);
  if (facts.memoryMiB < need.minMemoryMiB) reasons.push(`memory ${facts.memoryMiB} MiB < required ${need.minMemoryMiB} MiB`);
  if (!facts.architectures.includes(need.architecture)) {
    reasons.push(`architecture ${facts.architectures.join('/') || 'unknown'} does not support required ${need.architecture}`);
  }
  const family = instanceFamily(facts.instanceType);
  if (need.instanceFamilies && !need.instanceFamilies.includes(family)) {
    reasons.push(`instance family ${family} not in allowed families ${need.instanceFamilies.join(', ')}`);
  }
  if (need.instanceTypes && !need.instanceTypes.includes(facts.instanceType)) {
    reasons.push(`instance type ${facts.instanceType} not in allowed types ${need.instanceTypes.join(', ')}`);
  }
  for (const feature of need.features) {
    if (!facts.features.includes(feature)) reasons.push(`missing required feature ${feature}`);
  }
  return reasons;
}

/** 'm7i.xlarge' → 'm7i'. */
export function instanceFamily(instanceType: string): string {
  return instanceType.split('.')[0] ?? instanceType;
}

function conditionReasons(node: PoolNode): string[] {
  const reasons: string[] = [];
  if (GOING_AWAY.includes(node.state)) reasons.push(`instance is ${node.state}`);
  if (!node.healthy) reasons.push('EC2 status checks failing');
  if (node.quarantine !== null) reasons.push(`quarantined: ${node.quarantine}`);
  return reasons;
}

function incidentReasons(app: Application, node: PoolNode, ctx: EligibilityContext): string[] {
  const reasons: string[] = [];
  if (ctx.triedNodes.includes(node.nodeId)) reasons.push('already tried in this incident');
  if (ctx.currentNode?.nodeId === node.nodeId) reasons.push(`is the node ${app.name} runs on now`);
  if (node.hosted.some((hosted) => hosted.app === app.name)) reasons.push(`already hosts ${app.name}`);
  return reasons;
}

/**
 * What has to give way for `app` on `node`: nothing on an idle node, the lower-priority
 * tenant on a dedicated node (A5), or as few of the lowest-priority tenants as needed
 * on a virtual-node host (B1).
 */
function planPlacement(app: Application, node: PoolNode): Placement | { reasons: string[] } {
  const others = node.hosted.filter((hosted) => hosted.app !== app.name);
  return isVirtualNodeHost(node) ? planVirtualHost(app, node, others) : planDedicated(app, node, others);
}

export function isVirtualNodeHost(node: PoolNode): boolean {
  return node.maxApplications > 1;
}

function planDedicated(app: Application, node: PoolNode, others: HostedApplication[]): Placement | { reasons: string[] } {
  const blockers = others.filter((hosted) => !canPreempt(app, hosted));
  if (blockers.length > 0) {
    return { reasons: blockers.map((hosted) => `runs ${hosted.app} (priority ${hosted.priority}), not lower than ${app.name}'s priority ${app.priority}`) };
  }
  return { preempts: others, stays: [], surplus: surplusOf(app, capacityOf(node)) };
}

function planVirtualHost(app: Application, node: PoolNode, others: HostedApplication[]): Placement | { reasons: string[] } {
  const victims = others.filter((hosted) => canPreempt(app, hosted)).sort(byPreemptionOrder);
  // Halt as few tenants as possible, lowest priority first.
  for (let count = 0; count <= victims.length; count++) {
    const preempts = victims.slice(0, count);
    const stays = others.filter((hosted) => !preempts.includes(hosted));
    if (roomFor(app, node, stays).length === 0) {
      return { preempts, stays, surplus: surplusOf(app, spareCapacity(node, stays)) };
    }
  }
  const protectedTenants = others.filter((hosted) => !victims.includes(hosted));
  const suffix = victims.length > 0 ? ' (even after preempting lower-priority applications)' : '';
  return { reasons: roomFor(app, node, protectedTenants).map((reason) => reason + suffix) };
}

/** Why a virtual-node host with `stays` as tenants has no room for `app`; empty when it has. */
function roomFor(app: Application, node: PoolNode, stays: HostedApplication[]): string[] {
  const reasons: string[] = [];
  if (stays.length >= node.maxApplications) reasons.push(`hosts ${stays.length} of at most ${node.maxApplications} applications`);
  const spare = spareCapacity(node, stays);
  if (spare.vcpu + EPSILON < app.requirements.minVcpu) {
    reasons.push(`spare vCPU ${formatAmount(spare.vcpu)} < required ${app.requirements.minVcpu}`);
  }
  if (spare.memoryMiB + EPSILON < app.requirements.minMemoryMiB) {
    reasons.push(`spare memory ${formatAmount(spare.memoryMiB)} MiB < required ${app.requirements.minMemoryMiB} MiB`);
  }
  return reasons;
}

/** What a virtual-node host can still give: its share for tenants minus what `tenants` take. */
export function spareCapacity(node: PoolNode, tenants: readonly HostedApplication[]): Resources {
  const usable = 1 - node.reservedFraction;
  return {
    vcpu: node.facts.vcpu * usable - sum(tenants.map((t) => t.vcpu)),
    memoryMiB: node.facts.memoryMiB * usable - sum(tenants.map((t) => t.memoryMiB)),
  };
}

function capacityOf(node: PoolNode): Resources {
  return { vcpu: node.facts.vcpu, memoryMiB: node.facts.memoryMiB };
}

function surplusOf(app: Application, available: Resources): Resources {
  return {
    vcpu: available.vcpu - app.requirements.minVcpu,
    memoryMiB: available.memoryMiB - app.requirements.minMemoryMiB,
  };
}

/** A5: only a strictly lower priority gives way. */
function canPreempt(app: Application, hosted: HostedApplication): boolean {
  return hosted.priority < app.priority;
}

function byPreemptionOrder(a: HostedApplication, b: HostedApplication): number {
  return a.priority - b.priority || compareText(a.app, b.app);
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** 1.6000000000000005 → '1.6'. */
export function formatAmount(value: number): string {
  return String(Math.round(value * 100) / 100);
}
