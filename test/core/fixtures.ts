// Small factories so each test states only what matters to it.
import { ApplicationSchema, ConfigSchema, type Application, type Config, type ConfigInput } from '../../core/config.ts';
import type { HostedApplication, InstanceTypeFacts, PoolNode, SelectionRequest } from '../../core/pool.ts';

type ApplicationInput = ConfigInput['applications'][number];

export const TARGET_GROUP_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';

/** A valid EC2 instance id made from a small number: nodeId(7) → 'i-00000000000000007'. */
export function nodeId(n: number): string {
  return `i-${String(n).padStart(17, '0')}`;
}

export function appInput(overrides: Partial<ApplicationInput> = {}): ApplicationInput {
  return {
    name: 'web',
    priority: 50,
    provisioning: { method: 'activate' },
    cluster: { targetGroupArns: [TARGET_GROUP_ARN] },
    ...overrides,
  };
}

/** An application with defaults filled in, as the core sees it after parsing. */
export function makeApp(overrides: Partial<ApplicationInput> = {}): Application {
  return ApplicationSchema.parse(appInput(overrides));
}

export function configInput(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return {
    pools: [
      { name: 'fast', tag: { key: 'failover-pool', value: 'fast' }, tier: 'failover' },
      { name: 'spare', tag: { key: 'failover-pool', value: 'spare' }, tier: 'backup' },
    ],
    applications: [appInput()],
    alerts: { emails: ['ops@example.com'] },
    ...overrides,
  };
}

export function makeConfig(overrides: Partial<ConfigInput> = {}): Config {
  return ConfigSchema.parse(configInput(overrides));
}

export function makeFacts(overrides: Partial<InstanceTypeFacts> = {}): InstanceTypeFacts {
  return {
    instanceType: 'm7i.xlarge',
    vcpu: 4,
    memoryMiB: 16_384,
    architectures: ['x86_64'],
    features: [],
    ...overrides,
  };
}

type NodeOverrides = Partial<Omit<PoolNode, 'facts'>> & { facts?: Partial<InstanceTypeFacts> };

/** A healthy, idle, running dedicated node in the failover pool 'fast'. */
export function makeNode(n: number, overrides: NodeOverrides = {}): PoolNode {
  const { facts, ...rest } = overrides;
  return {
    nodeId: nodeId(n),
    pool: 'fast',
    tier: 'failover',
    state: 'running',
    availabilityZone: 'eu-west-1a',
    healthy: true,
    quarantine: null,
    hosted: [],
    maxApplications: 1,
    reservedFraction: 0,
    ...rest,
    facts: makeFacts(facts),
  };
}

/** A virtual-node host (B1) in the failover pool. */
export function makeHost(n: number, overrides: NodeOverrides = {}): PoolNode {
  return makeNode(n, { maxApplications: 4, reservedFraction: 0.1, facts: { instanceType: 'm7i.4xlarge', vcpu: 16, memoryMiB: 65_536 }, ...overrides });
}

export function hosted(app: string, priority: number, vcpu = 1, memoryMiB = 1_024): HostedApplication {
  return { app, priority, vcpu, memoryMiB };
}

export function makeRequest(overrides: Partial<SelectionRequest> = {}): SelectionRequest {
  return {
    trigger: 'failure',
    currentNode: null,
    triedNodes: [],
    candidates: [],
    ...overrides,
  };
}
