// The benchmark's scenarios, built in code so their sizes are parameters: one failover per
// provisioning method, pools of N nodes for selection, and many applications failing at once.
// Scenarios use the latency model's defaults (local/fleet/latency.ts) unless a failover is run
// under a stated override.
import type { LatencyOverrides, SimulatedFleet } from '../local/fleet/index.ts';
import { simulatedSubnets } from '../local/fleet/subnets.ts';
import { parseScenario, type Scenario } from '../local/scenario.ts';
import { LOCAL_REGION } from '../local/state-machine-definition.ts';

export type Method = 'activate' | 'install' | 'boot-volume';
export const METHODS: readonly Method[] = ['activate', 'install', 'boot-volume'];

export const POOL_TAG = { key: 'rapid-failover:pool', value: 'bench' } as const;
export const INSTANCE_TYPE = 'm7i.xlarge';
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

/** A valid, unique EC2 instance id: a hex group digit and a running number. */
export function nodeId(group: number, n: number): string {
  return `i-0${group.toString(16)}${n.toString(16).padStart(15, '0')}`;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export function targetGroupArn(app: string, n: number): string {
  return `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/${app}/${hex(n + 1, 16)}`;
}

/** The one provisioning document of activate and install (install: at least one is required). */
export function provisioningDocument(app: string, method: Method): { name: string; parameters: { commands: string[] } } {
  const command = method === 'install' ? `/opt/bootstrap/install-${app}.sh` : `systemctl start ${app}`;
  return { name: 'AWS-RunShellScript', parameters: { commands: [command] } };
}

/**
 * One application: one target group, an Elastic IP as its logical address, failure detection
 * by EC2 status checks on `host`, no run/halt documents; activate and install run one document each,
 * boot-volume swaps in an AMI of its own (the fleet keys images by id) and runs none.
 */
export function application(name: string, method: Method, n: number, host: string): Record<string, unknown> {
  const provisioning =
    method === 'boot-volume'
      ? { method, source: { imageId: `ami-${hex(n + 1, 17)}` } }
      : { method, documents: [provisioningDocument(name, method)] };
  return {
    name,
    priority: 500,
    pools: ['bench'],
    requirements: { minVcpu: 2, minMemoryMiB: 4096, architecture: 'x86_64' },
    provisioning,
    cluster: {
      targetGroupArns: [targetGroupArn(name, n)],
      logicalAddress: { kind: 'elastic-ip', allocationId: `eipalloc-${hex(n + 1, 17)}` },
    },
    detection: { failure: { statusChecks: true } },
    // The status-check alarm watches the serving node; at deploy time, the preferred node.
    placement: { preferredNode: host },
  };
}

function config(apps: Array<Record<string, unknown>>): Record<string, unknown> {
  return {
    pools: [{ name: 'bench', tag: { ...POOL_TAG }, tier: 'failover' }],
    applications: apps,
    alerts: { emails: ['bench@example.com'] },
  };
}

interface InstanceSpec {
  id: string;
  type: string;
  state?: 'running' | 'stopped';
  tags?: Record<string, string>;
  runs?: string[];
  installed?: string[];
  subnet?: string;
}

function scenario(
  name: string,
  description: string,
  apps: Array<Record<string, unknown>>,
  instances: InstanceSpec[],
  timeline: unknown[],
  latency: LatencyOverrides = {},
): Scenario {
  return parseScenario({ name, description, config: config(apps), fleet: { instances }, latency, timeline }, `bench:${name}`);
}

export interface FailoverCase {
  /** Row label. */
  label: string;
  method: Method;
  /** Pool node state before the failover (activate may start a stopped node: A2). */
  poolNodeState: 'running' | 'stopped';
}

export const FAILOVER_CASES: readonly FailoverCase[] = [
  { label: 'activate', method: 'activate', poolNodeState: 'running' },
  { label: 'install', method: 'install', poolNodeState: 'running' },
  { label: 'boot-volume', method: 'boot-volume', poolNodeState: 'running' },
  { label: 'activate (stopped node)', method: 'activate', poolNodeState: 'stopped' },
];

/**
 * One failover: the application's host (not a pool member) fails at t=0; the stack's status
 * check alarm (2 of 2 one-minute periods) raises ALARM at t=120 s and the workflow moves the
 * application to the one free pool node. activate: the node has the application installed.
 */
export function failoverScenario(c: FailoverCase, latency: LatencyOverrides = {}): Scenario {
  const app = 'app';
  const host = nodeId(1, 1);
  const free = nodeId(2, 1);
  return scenario(
    `bench-${c.label.replace(/\W+/g, '-')}`,
    `one ${c.method} failover to a ${c.poolNodeState} pool node`,
    [application(app, c.method, 0, host)],
    [
      { id: host, type: INSTANCE_TYPE, runs: [app] },
      { id: free, type: INSTANCE_TYPE, state: c.poolNodeState, tags: { [POOL_TAG.key]: POOL_TAG.value }, installed: c.method === 'activate' ? [app] : [] },
    ],
    [{ at: 0, event: 'instance-failed', node: host }],
    latency,
  );
}

/** Instance types the selection pool mixes (all in the fleet's catalogue, all eligible or not by hardware). */
export const POOL_TYPES = ['m7i.large', 'm7i.xlarge', 'm7i.2xlarge', 'c7i.xlarge', 'r7i.xlarge', 'm7g.xlarge', 'c7g.xlarge', 't3.large'] as const;

/** One application on a host outside the pool, and no pool nodes yet: addPoolMembers adds them. */
export function selectionScenario(): Scenario {
  const app = 'app';
  return scenario('bench-selection', 'one selection over a pool added by addPoolMembers', [application(app, 'install', 0, nodeId(1, 1))], [{ id: nodeId(1, 1), type: INSTANCE_TYPE, runs: [app] }], [
    { at: 0, event: 'instance-failed', node: nodeId(1, 1) },
  ]);
}

/** The simulated VPC's six /20 subnets (two per AZ, 4,091 usable addresses each): pool members go round-robin. */
const SUBNET_IDS = simulatedSubnets(LOCAL_REGION).map((s) => s.subnetId);

/**
 * Adds `size` tagged pool nodes straight to the fleet: types round-robin over POOL_TYPES,
 * subnets round-robin over the VPC's, every tenth node stopped.
 */
export function addPoolMembers(fleet: SimulatedFleet, size: number): void {
  for (let i = 0; i < size; i++) {
    fleet.addInstance({
      instanceId: nodeId(2, i + 1),
      instanceType: POOL_TYPES[i % POOL_TYPES.length]!,
      state: i % 10 === 9 ? 'stopped' : 'running',
      tags: { [POOL_TAG.key]: POOL_TAG.value },
      subnetId: SUBNET_IDS[i % SUBNET_IDS.length]!,
    });
  }
}

/**
 * A large fleet as a scenario file gives it: `poolSize` pool instances of mixed types
 * (POOL_TYPES) spread over the VPC's six subnets in three AZs, every tenth one stopped; one
 * install application on its own host fails at t=0 and moves to one of them.
 */
export function largeFleetScenario(poolSize: number): Scenario {
  const raw = largeFleetScenarioFile(poolSize);
  return parseScenario(raw, `bench:${raw.name}`);
}

/** largeFleetScenario as the JSON of a scenario file (what `failover simulate` reads). */
export function largeFleetScenarioFile(poolSize: number): { name: string } & Record<string, unknown> {
  const app = 'app';
  const host = nodeId(1, 1);
  const instances: InstanceSpec[] = [{ id: host, type: INSTANCE_TYPE, runs: [app] }];
  for (let i = 0; i < poolSize; i++) {
    instances.push({
      id: nodeId(2, i + 1),
      type: POOL_TYPES[i % POOL_TYPES.length]!,
      state: i % 10 === 9 ? 'stopped' : 'running',
      tags: { [POOL_TAG.key]: POOL_TAG.value },
      subnet: SUBNET_IDS[i % SUBNET_IDS.length]!,
    });
  }
  return {
    name: `bench-fleet-${poolSize}`,
    description: `one install failover in a pool of ${poolSize} instances over six subnets`,
    config: config([application(app, 'install', 0, host)]),
    fleet: { instances },
    timeline: [{ at: 0, event: 'instance-failed', node: host }],
    expect: { [app]: ['failed-over'] },
  };
}

export function concurrencyAppName(i: number): string {
  return `app-${String(i + 1).padStart(3, '0')}`;
}

export function concurrencyMethod(i: number): Method {
  return METHODS[i % METHODS.length]!;
}

/**
 * `apps` applications, each on its own host; methods round-robin (activate, install,
 * boot-volume); `freeNodes` running pool nodes with every activate application installed.
 * Every host fails at t=0, so every status-check alarm fires at t=120 s.
 */
export function concurrencyScenario(apps: number, freeNodes: number): Scenario {
  const names = Array.from({ length: apps }, (_, i) => concurrencyAppName(i));
  const activateApps = names.filter((_, i) => concurrencyMethod(i) === 'activate');
  const instances: InstanceSpec[] = names.map((name, i) => ({ id: nodeId(1, i + 1), type: INSTANCE_TYPE, runs: [name] }));
  for (let i = 0; i < freeNodes; i++) {
    instances.push({ id: nodeId(2, i + 1), type: INSTANCE_TYPE, tags: { [POOL_TAG.key]: POOL_TAG.value }, installed: activateApps });
  }
  return scenario(
    `bench-concurrency-${apps}`,
    `${apps} applications fail at once; ${freeNodes} free pool nodes`,
    names.map((name, i) => application(name, concurrencyMethod(i), i, nodeId(1, i + 1))),
    instances,
    names.map((_, i) => ({ at: 0, event: 'instance-failed', node: nodeId(1, i + 1) })),
  );
}
