// The fleet every EC2 / ELB contract case starts from, seeded the same way on both sides:
// pool nodes of two pools in three subnets of two zones (one stopped, one with a secondary
// private IP that is an application's logical address), a node outside every pool, security
// groups, a target group and Elastic IPs.
import { PoolSchema, type Pool } from '../../core/config.ts';
import { DEFAULT_SECURITY_GROUP, subnetLabel, type NodeSeed, type Side, type SubnetName } from './sides.ts';

export const POOL_TAG = 'rapid-failover:pool';

export const POOLS: Pool[] = [
  PoolSchema.parse({ name: 'general', tag: { key: POOL_TAG, value: 'general' } }),
  PoolSchema.parse({ name: 'gpu', tag: { key: POOL_TAG, value: 'gpu' }, tier: 'backup' }),
];

/** The secondary private IP that is the `web` application's logical address, on web-1 at first. */
export const WEB_IP = '10.0.1.100';

export const NODES: readonly NodeSeed[] = [
  {
    label: 'web-1',
    instanceType: 'm7i.large',
    subnet: 'a1',
    privateIp: '10.0.1.10',
    secondaryIps: [WEB_IP],
    tags: { [POOL_TAG]: 'general', team: 'web' },
    securityGroups: ['sg-web', DEFAULT_SECURITY_GROUP],
  },
  { label: 'web-2', instanceType: 'c7g.xlarge', subnet: 'b1', privateIp: '10.0.17.10', tags: { [POOL_TAG]: 'general' } },
  { label: 'web-3', instanceType: 'm7i.xlarge', subnet: 'a1', privateIp: '10.0.1.11', tags: { [POOL_TAG]: 'general' } },
  { label: 'spare', instanceType: 'r7i.xlarge', subnet: 'a1', privateIp: '10.0.1.12', tags: { [POOL_TAG]: 'general' }, state: 'stopped' },
  { label: 'gpu-1', instanceType: 'g5.xlarge', subnet: 'b2', privateIp: '10.0.65.11', tags: { [POOL_TAG]: 'gpu' } },
  { label: 'outsider', instanceType: 't3.medium', subnet: 'a1', privateIp: '10.0.1.13', tags: { team: 'web' } },
];

export interface FleetOptions {
  /** Labels of the NODES to launch (default: all), or other nodes. */
  nodes?: ReadonlyArray<string | NodeSeed>;
  /**
   * A target group `web` (label tg-web) on port 80, forwarded to by an application load balancer
   * `web` (label lb-web) enabled in us-east-1a and us-east-1b (subnets a1, b1).
   */
  targetGroup?: boolean;
  /** eip-web, associated with web-1's primary private IP, and eip-free, associated with nothing. */
  elasticIps?: boolean;
}

export class Fleet {
  constructor(
    private readonly side: Side,
    private readonly seeded: { targetGroup?: string; webEip?: string; freeEip?: string },
  ) {}

  /** Instance id by label. */
  node(label: string): string {
    return this.side.id(label);
  }

  /** The primary network interface of a node. */
  eni(label: string): string {
    return this.side.id(`${label}:eni`);
  }

  /** A subnet a seeded node or load balancer is in. */
  subnet(name: SubnetName): string {
    return this.side.id(subnetLabel(name));
  }

  /** A security group a seeded node is in. */
  securityGroup(label: string): string {
    return this.side.id(label);
  }

  get targetGroup(): string {
    return required(this.seeded.targetGroup, 'targetGroup: true');
  }

  get webEip(): string {
    return required(this.seeded.webEip, 'elasticIps: true');
  }

  get freeEip(): string {
    return required(this.seeded.freeEip, 'elasticIps: true');
  }
}

function required(value: string | undefined, option: string): string {
  if (value === undefined) throw new Error(`seed the fleet with { ${option} } to use this`);
  return value;
}

/** Seeds only what a case asks for: every moto call costs time. */
export async function seedFleet(side: Side, options: FleetOptions = {}): Promise<Fleet> {
  const nodes = (options.nodes ?? NODES).map((n) => {
    if (typeof n !== 'string') return n;
    const node = NODES.find((candidate) => candidate.label === n);
    if (!node) throw new Error(`no node '${n}' in NODES`);
    return node;
  });
  for (const node of nodes) await side.seed.node(node);
  const seeded: { targetGroup?: string; webEip?: string; freeEip?: string } = {};
  if (options.targetGroup) {
    await side.seed.loadBalancer({ label: 'lb-web', name: 'web', type: 'application', subnets: ['a1', 'b1'] });
    seeded.targetGroup = await side.seed.targetGroup({ label: 'tg-web', name: 'web', port: 80, loadBalancer: 'lb-web' });
  }
  if (options.elasticIps) {
    seeded.webEip = await side.seed.elasticIp({ label: 'eip-web', on: 'web-1' });
    seeded.freeEip = await side.seed.elasticIp({ label: 'eip-free' });
  }
  return new Fleet(side, seeded);
}
