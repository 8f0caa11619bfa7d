// Scenario builder for the workflow suite: a base config (pools, one application factory with
// sensible defaults), instance factories and a scenario that is parsed exactly as a scenario
// file would be, so the defaults and cross-checks of local/scenario.ts apply.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { ApplicationSchema, ConfigInput, PoolSchema } from '../../core/config.ts';
import type { LatencyOverrides } from '../../local/fleet/latency.ts';
import type { SimulationResult } from '../../local/runtime/simulation.ts';
import { parseScenario, type Scenario, type ScenarioInstanceSchema, type ScenarioLoadBalancerSchema, type TimelineEventSchema } from '../../local/scenario.ts';

export type AppInput = z.input<typeof ApplicationSchema>;
export type PoolInput = z.input<typeof PoolSchema>;
export type InstanceInput = z.input<typeof ScenarioInstanceSchema>;
export type TimelineInput = z.input<typeof TimelineEventSchema>;
export type LoadBalancerInput = z.input<typeof ScenarioLoadBalancerSchema>;

export const POOL_TAG = 'rapid-failover:pool';
const ACCOUNT_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012';

function hex(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** `i-` and 17 hex digits: node(1) is i-00000000000000001. */
export function nodeId(n: number): string {
  return `i-${n.toString(16).padStart(17, '0')}`;
}

export function targetGroupArn(app: string): string {
  return `${ACCOUNT_ARN}:targetgroup/${app}/${hex(`tg-${app}`, 16)}`;
}

export function allocationId(app: string): string {
  return `eipalloc-${hex(`eip-${app}`, 17)}`;
}

/** Pools: `general` (dedicated nodes), `hosts` (virtual-node hosts, B1), `backup` (backup tier, B2). */
export const POOLS = {
  general: { name: 'general', tag: { key: POOL_TAG, value: 'general' }, tier: 'failover' },
  hosts: { name: 'hosts', tag: { key: POOL_TAG, value: 'hosts' }, tier: 'failover', virtualNodes: { maxApplications: 3, reservedFraction: 0.1 } },
  backup: { name: 'backup', tag: { key: POOL_TAG, value: 'backup' }, tier: 'backup' },
} satisfies Record<string, PoolInput>;

const shell = (command: string) => ({ name: 'AWS-RunShellScript', parameters: { commands: [command] } });

/**
 * An application with sensible defaults: 2 vCPU / 4 GiB x86_64, installed with SSM, one target
 * group, an Elastic IP as its logical address, run and halt documents, status-check detection,
 * no cooldown. `overrides` replace top-level fields; `policy` is merged over the defaults.
 */
export function app(name: string, overrides: Partial<AppInput> = {}): AppInput {
  const { policy, ...rest } = overrides;
  return {
    name,
    priority: 500,
    requirements: { minVcpu: 2, minMemoryMiB: 4096, architecture: 'x86_64' },
    provisioning: { method: 'install', documents: [shell(`/opt/bootstrap/install-${name}.sh`)] },
    cluster: { targetGroupArns: [targetGroupArn(name)], logicalAddress: { kind: 'elastic-ip', allocationId: allocationId(name) } },
    detection: { failure: { statusChecks: true } },
    run: [shell(`systemctl start ${name}`)],
    halt: [shell(`systemctl stop ${name}`)],
    ...rest,
    policy: { cooldownSeconds: 0, deregistrationDelaySeconds: 5, settleSeconds: 120, ...policy },
  };
}

/** A2: the application is already on the node; provisioning starts it. */
export function activate(name: string): AppInput['provisioning'] {
  return { method: 'activate', documents: [shell(`systemctl start ${name}`)] };
}

/** A4: reboot the node from the application's boot image. */
export function bootVolume(name: string): AppInput['provisioning'] {
  return { method: 'boot-volume', source: { snapshotId: `snap-${hex(`snap-${name}`, 17)}` } };
}

/** A performance metric, bad below `threshold` for 2 of 3 one-minute periods (A10). */
export function performance(name: string, threshold = 100): NonNullable<NonNullable<AppInput['detection']>['performance']> {
  return {
    namespace: 'Workflow/Test',
    metricName: 'RequestsPerSecond',
    dimensions: { Service: name },
    threshold,
    comparison: 'LessThanThreshold',
    periodSeconds: 60,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
  };
}

export interface NodeOptions {
  type?: string;
  /** The pool tag's value (default 'general'). */
  pool?: string;
  runs?: string[];
  installed?: string[];
  state?: 'running' | 'stopped';
  /** Default: the simulated region's first zone, us-east-1a. */
  availabilityZone?: string;
}

/** A pool instance (pool `general`, m7i.xlarge: 4 vCPU / 16 GiB, unless told otherwise). */
export function node(n: number, options: NodeOptions = {}): InstanceInput {
  return {
    id: nodeId(n),
    type: options.type ?? 'm7i.xlarge',
    state: options.state ?? 'running',
    tags: { [POOL_TAG]: options.pool ?? 'general' },
    runs: options.runs ?? [],
    installed: options.installed ?? [],
    ...(options.availabilityZone ? { availabilityZone: options.availabilityZone } : {}),
  };
}

export interface ScenarioInput {
  name: string;
  applications: AppInput[];
  instances: InstanceInput[];
  timeline: TimelineInput[];
  pools?: PoolInput[];
  /** Load balancers in front of target groups; the others get an application load balancer in every zone. */
  loadBalancers?: LoadBalancerInput[];
  runForSeconds?: number;
  /** Overrides of the latency model (local/fleet/latency.ts). */
  latency?: LatencyOverrides;
}

/**
 * A scenario parsed as a scenario file is. An application without a placement gets the node it
 * runs on at the start as its preferred node (C2): the stack creates its status-check alarm
 * for that node, and the workflow re-points the alarm after each failover.
 */
export function scenario(input: ScenarioInput): Scenario {
  const applications = input.applications.map((a): AppInput => {
    if (a.placement?.preferredNode) return a;
    const home = input.instances.find((i) => i.runs?.includes(a.name));
    return home ? { ...a, placement: { ...a.placement, preferredNode: home.id } } : a;
  });
  const config: ConfigInput = {
    pools: input.pools ?? [POOLS.general, POOLS.backup],
    applications,
    alerts: { emails: ['oncall@example.com'] },
  };
  return parseScenario(
    {
      name: input.name,
      config,
      fleet: { instances: input.instances, loadBalancers: input.loadBalancers ?? [] },
      timeline: input.timeline,
      runForSeconds: input.runForSeconds ?? 3_600,
      ...(input.latency ? { latency: input.latency } : {}),
    },
    `test scenario '${input.name}'`,
  );
}

// ---- reading a result ---------------------------------------------------------------------------

export type Incident = SimulationResult['incidents'][number];
export type FleetNode = SimulationResult['fleet'][number];

export function incidentsOf(result: SimulationResult, appName: string): Incident[] {
  return result.incidents.filter((i) => i.app === appName);
}

export function nodeOf(result: SimulationResult, id: string): FleetNode {
  const found = result.fleet.find((n) => n.id === id);
  if (!found) throw new Error(`node ${id} is not in the fleet report`);
  return found;
}

/** Nodes the report says serve the application. */
export function servingNodes(result: SimulationResult, appName: string): string[] {
  return result.fleet.filter((n) => n.role === 'serving' && n.applications.includes(appName)).map((n) => n.id);
}

/** Target ids registered (not draining or gone) in the application's target groups. */
export function registeredTargets(result: SimulationResult, arn: string): string[] {
  const group = result.network.targetGroups.find((g) => g.arn === arn);
  if (!group) throw new Error(`target group ${arn} is not in the report`);
  return group.targets.filter((t) => t.state !== 'draining' && t.state !== 'unused').map((t) => t.id);
}

export function elasticIpHolder(result: SimulationResult, allocation: string): string | undefined {
  return result.network.elasticIps.find((a) => a.allocationId === allocation)?.instanceId;
}

export function alertsFor(result: SimulationResult, appName: string): string[] {
  return result.notifications.map((n) => n.subject).filter((s) => s.startsWith(`rapid-failover: ${appName}:`));
}

export function serviceEventsFor(result: SimulationResult, appName: string, detailType: string): Array<Record<string, unknown>> {
  return result.serviceEvents
    .filter((e) => e.detailType === detailType && (e.detail as { app?: string }).app === appName)
    .map((e) => e.detail as Record<string, unknown>);
}
