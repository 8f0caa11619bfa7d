// The two sides of a contract case: real AWS SDK v3 clients pointed at moto, and the same
// clients attached to the simulated fleet (local/fleet) and the local Step Functions. Each side
// is seeded through its own API (moto: RunInstances, CreateImage, CreateLoadBalancer,
// CreateTargetGroup, AllocateAddress...; simulator: SimulatedFleet.addInstance, defineImage,
// addLoadBalancer, addTargetGroup, addElasticIp...) from one description, and remembers which id
// it gave each labelled resource, so answers can be compared by label.
import {
  CloudWatchClient,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  type ComparisonOperator,
  type Statistic,
} from '@aws-sdk/client-cloudwatch';
import {
  AllocateAddressCommand,
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  CreateImageCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  type DescribeSubnetsCommandOutput,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { cidrContains } from '../../core/ipv4.ts';
import { attachFleet, SimulatedFleet, VirtualClock } from '../../local/fleet/index.ts';
import { defaultArchitecture } from '../../local/fleet/instance-types.ts';
import { attachLocalStepFunctions, LOCAL_STATE_MACHINE_ARN, LocalStepFunctions } from '../../local/runtime/local-step-functions.ts';
import { TaskTokens } from '../../local/runtime/task-tokens.ts';
import { VirtualTime } from '../../local/runtime/virtual-time.ts';
import type { ExecutionResult, WorkflowRunner } from '../../local/runtime/workflow-runner.ts';
import { MOTO_CLIENT_CONFIG, MOTO_LAUNCH_IMAGES, type MotoServer } from './moto-server.ts';

export type SideName = 'moto' | 'simulator';

export const REGION = 'us-east-1';
/** The account both moto and the simulated fleet use by default. */
export const ACCOUNT = '123456789012';
/**
 * The VPC (10.0.0.0/16) both sides have: the simulated fleet's fixed layout, two /20 subnets in
 * each of three zones (local/fleet/subnets.ts); moto's VPC is created to match. A subnet is
 * seeded and labelled `subnet-<name>` (subnet-a1: 10.0.0.0/20 in us-east-1a); the VPC `vpc`.
 */
export const SUBNETS = {
  a1: { zone: 'us-east-1a', cidr: '10.0.0.0/20' },
  b1: { zone: 'us-east-1b', cidr: '10.0.16.0/20' },
  c1: { zone: 'us-east-1c', cidr: '10.0.32.0/20' },
  a2: { zone: 'us-east-1a', cidr: '10.0.48.0/20' },
  b2: { zone: 'us-east-1b', cidr: '10.0.64.0/20' },
  c2: { zone: 'us-east-1c', cidr: '10.0.80.0/20' },
} as const;
export type SubnetName = keyof typeof SUBNETS;

/** The label a subnet's id is remembered under. */
export function subnetLabel(name: SubnetName): string {
  return `subnet-${name}`;
}

/** The security group every seeded node is in unless its seed names others. */
export const DEFAULT_SECURITY_GROUP = 'sg-app';

export interface NodeSeed {
  label: string;
  instanceType: string;
  subnet: SubnetName;
  privateIp: string;
  secondaryIps?: string[];
  tags?: Record<string, string>;
  state?: 'running' | 'stopped';
  /** Labels of security groups (seeded on first use); default [DEFAULT_SECURITY_GROUP]. */
  securityGroups?: string[];
}

export type LoadBalancerKind = 'application' | 'network';

export interface LoadBalancerSeed {
  label: string;
  name: string;
  type: LoadBalancerKind;
  /** One subnet per zone it is enabled in (the simulated load balancer is in each zone's first subnet: a1, b1, c1). */
  subnets: SubnetName[];
}

export interface TargetGroupSeed {
  label: string;
  name: string;
  port: number;
  /**
   * Label of the load balancer whose listener (on `port`) forwards to the group. Without it the
   * simulated fleet puts the group behind an application load balancer of its own and moto's
   * group has none: a case that reads LoadBalancerArns seeds one.
   */
  loadBalancer?: string;
  /** Health-check settings other than CreateTargetGroup's defaults. */
  healthCheck?: { intervalSeconds: number; healthyThresholdCount: number; unhealthyThresholdCount: number };
}

export interface AlarmSeed {
  name: string;
  description?: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  statistic: Statistic;
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
  threshold: number;
  comparisonOperator: ComparisonOperator;
  treatMissingData?: string;
  alarmActions?: string[];
}

export interface MetricSeed {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  points: Array<{ at: Date; value: number }>;
}

export interface Seeder {
  /** A subnet of the VPC (SUBNETS), labelled subnet-<name>; returns its id. */
  subnet(name: SubnetName): Promise<string>;
  /** A security group of the VPC, created on first use; returns its id. */
  securityGroup(label: string): Promise<string>;
  /** Launches an instance (from a plain Linux image of its type's architecture) in its subnet; returns its id. */
  node(spec: NodeSeed): Promise<string>;
  /** An AMI made from a node's root volume (CreateImage): its architecture, virtualization type, product codes and billing; returns its id. */
  image(spec: { label: string; from: string }): Promise<string>;
  /** A load balancer in the VPC; returns its ARN. */
  loadBalancer(spec: LoadBalancerSeed): Promise<string>;
  /** Creates an instance target group in the VPC (HTTP, or TCP behind a network load balancer); returns its ARN. */
  targetGroup(spec: TargetGroupSeed): Promise<string>;
  /** Allocates an Elastic IP, associated with a node's primary private IP when `on` is given. */
  elasticIp(spec: { label: string; on?: string }): Promise<string>;
  alarm(spec: AlarmSeed): Promise<void>;
  metricData(spec: MetricSeed): Promise<void>;
  /** Creates an SNS topic; returns its ARN. */
  topic(spec: { label: string; name: string }): Promise<string>;
  /** A Standard state machine; returns its ARN. */
  stateMachine(spec: { label: string }): Promise<string>;
  /** Ends a running execution (moto: StopExecution; locally: the workflow finishes). */
  finishExecution(stateMachineArn: string, name: string): Promise<void>;
  /** An S3 object, as a deploy uploads an asset (moto: CreateBucket + PutObject; simulator: putObject). */
  object(spec: { bucket: string; key: string; body: string }): Promise<void>;
}

export interface Side {
  name: SideName;
  ec2: EC2Client;
  ssm: SSMClient;
  elb: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  sns: SNSClient;
  events: EventBridgeClient;
  sfn: SFNClient;
  s3: S3Client;
  seed: Seeder;
  /**
   * Lets AWS's asynchronous work finish (instances stop, health checks pass, documents run):
   * virtual time on the simulator; moto does everything at once.
   */
  settle(): void;
  /** The id this side gave a label. */
  id(label: string): string;
  /** id (instance, ENI, allocation, ARN, public IP...) → label, for comparing answers. */
  readonly labels: ReadonlyMap<string, string>;
  /** "Now" on this side: the fleet's virtual clock, or the wall clock for moto. */
  now(): Date;
  destroy(): void;
}

abstract class Labels {
  private readonly byLabel = new Map<string, string>();
  readonly labels = new Map<string, string>();

  protected remember(label: string, id: string): string {
    if (this.byLabel.has(label)) throw new Error(`label ${label} is used twice`);
    this.byLabel.set(label, id);
    this.labels.set(id, label);
    return id;
  }

  id(label: string): string {
    const id = this.byLabel.get(label);
    if (!id) throw new Error(`nothing was seeded as '${label}'`);
    return id;
  }
}

function checkIp(spec: NodeSeed): void {
  const { cidr } = SUBNETS[spec.subnet];
  for (const ip of [spec.privateIp, ...(spec.secondaryIps ?? [])]) {
    if (!cidrContains(cidr, ip)) throw new Error(`${spec.label}: ${ip} is not in subnet ${spec.subnet} (${cidr})`);
  }
}

/** Runs `make` once per key, also when asked again before the first run finished. */
class Once {
  private readonly made = new Map<string, Promise<string>>();

  get(key: string, make: () => Promise<string>): Promise<string> {
    let found = this.made.get(key);
    if (!found) {
      found = make();
      this.made.set(key, found);
    }
    return found;
  }
}

/** The plain Amazon Linux 2 image moto launches an instance of this type from (its architecture's). */
function motoLaunchImage(instanceType: string): string {
  const architecture = defaultArchitecture(instanceType);
  const image = MOTO_LAUNCH_IMAGES[architecture];
  if (!image) throw new Error(`no ${architecture} image in test/contract/fixtures/moto-amis.json for ${instanceType}`);
  return image;
}

/** Target group protocol: CreateTargetGroup's HTTP for an Application Load Balancer, TCP for a Network Load Balancer. */
function protocolFor(type: LoadBalancerKind | undefined): 'HTTP' | 'TCP' {
  return type === 'network' ? 'TCP' : 'HTTP';
}

// ---- moto ---------------------------------------------------------------------------------------

class MotoSide extends Labels implements Side, Seeder {
  readonly name = 'moto';
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly seed: Seeder = this;
  private vpcId = '';
  private readonly once = new Once();
  private readonly loadBalancerTypes = new Map<string, LoadBalancerKind>();

  constructor(server: MotoServer) {
    super();
    const config = { ...MOTO_CLIENT_CONFIG, endpoint: server.endpoint };
    this.ec2 = new EC2Client(config);
    this.ssm = new SSMClient(config);
    this.elb = new ElasticLoadBalancingV2Client(config);
    this.cloudwatch = new CloudWatchClient(config);
    this.sns = new SNSClient(config);
    this.events = new EventBridgeClient(config);
    this.sfn = new SFNClient(config);
    // moto serves every bucket under one endpoint: path-style addressing.
    this.s3 = new S3Client({ ...config, forcePathStyle: true });
  }

  /** The VPC; its subnets are created when a case first uses them (every moto call costs time). */
  async network(): Promise<void> {
    const vpc = await this.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
    this.vpcId = this.remember('vpc', vpc.Vpc!.VpcId!);
  }

  subnet(name: SubnetName): Promise<string> {
    return this.once.get(subnetLabel(name), async () => {
      const { zone, cidr } = SUBNETS[name];
      const out = await this.ec2.send(new CreateSubnetCommand({ VpcId: this.vpcId, CidrBlock: cidr, AvailabilityZone: zone }));
      return this.remember(subnetLabel(name), out.Subnet!.SubnetId!);
    });
  }

  securityGroup(label: string): Promise<string> {
    return this.once.get(label, async () => {
      const out = await this.ec2.send(new CreateSecurityGroupCommand({ GroupName: `contract-${label}`, Description: `contract case group ${label}`, VpcId: this.vpcId }));
      return this.remember(label, out.GroupId!);
    });
  }

  settle(): void {}

  now(): Date {
    return new Date();
  }

  async node(spec: NodeSeed): Promise<string> {
    checkIp(spec);
    const tags = Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
    const groups = await Promise.all((spec.securityGroups ?? [DEFAULT_SECURITY_GROUP]).map((label) => this.securityGroup(label)));
    const run = await this.ec2.send(
      new RunInstancesCommand({
        ImageId: motoLaunchImage(spec.instanceType),
        InstanceType: spec.instanceType as _InstanceType,
        MinCount: 1,
        MaxCount: 1,
        SubnetId: await this.subnet(spec.subnet),
        SecurityGroupIds: groups,
        PrivateIpAddress: spec.privateIp,
        ...(tags.length > 0 ? { TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] } : {}),
      }),
    );
    const instance = run.Instances![0]!;
    const eni = instance.NetworkInterfaces![0]!.NetworkInterfaceId!;
    if (spec.secondaryIps?.length) {
      await this.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: spec.secondaryIps }));
    }
    if (spec.state === 'stopped') await this.ec2.send(new StopInstancesCommand({ InstanceIds: [instance.InstanceId!] }));
    this.remember(`${spec.label}:eni`, eni);
    return this.remember(spec.label, instance.InstanceId!);
  }

  async image(spec: { label: string; from: string }): Promise<string> {
    const out = await this.ec2.send(new CreateImageCommand({ InstanceId: this.id(spec.from), Name: spec.label }));
    return this.remember(spec.label, out.ImageId!);
  }

  async loadBalancer(spec: LoadBalancerSeed): Promise<string> {
    const subnets = await Promise.all(spec.subnets.map((name) => this.subnet(name)));
    const out = await this.elb.send(new CreateLoadBalancerCommand({ Name: spec.name, Type: spec.type, Subnets: subnets }));
    const arn = out.LoadBalancers![0]!.LoadBalancerArn!;
    this.loadBalancerTypes.set(spec.label, spec.type);
    return this.remember(spec.label, arn);
  }

  async targetGroup(spec: TargetGroupSeed): Promise<string> {
    const protocol = protocolFor(spec.loadBalancer ? this.loadBalancerTypes.get(spec.loadBalancer) : undefined);
    const out = await this.elb.send(
      new CreateTargetGroupCommand({
        Name: spec.name,
        Protocol: protocol,
        Port: spec.port,
        VpcId: this.vpcId,
        TargetType: 'instance',
        ...(spec.healthCheck
          ? {
              HealthCheckIntervalSeconds: spec.healthCheck.intervalSeconds,
              HealthyThresholdCount: spec.healthCheck.healthyThresholdCount,
              UnhealthyThresholdCount: spec.healthCheck.unhealthyThresholdCount,
            }
          : {}),
      }),
    );
    const arn = out.TargetGroups![0]!.TargetGroupArn!;
    if (spec.loadBalancer) {
      await this.elb.send(
        new CreateListenerCommand({ LoadBalancerArn: this.id(spec.loadBalancer), Protocol: protocol, Port: spec.port, DefaultActions: [{ Type: 'forward', TargetGroupArn: arn }] }),
      );
    }
    return this.remember(spec.label, arn);
  }

  async elasticIp(spec: { label: string; on?: string }): Promise<string> {
    const out = await this.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    if (spec.on) await this.ec2.send(new AssociateAddressCommand({ AllocationId: out.AllocationId, InstanceId: this.id(spec.on) }));
    this.remember(`${spec.label}:public-ip`, out.PublicIp!);
    return this.remember(spec.label, out.AllocationId!);
  }

  async alarm(spec: AlarmSeed): Promise<void> {
    await this.cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: spec.name,
        AlarmDescription: spec.description,
        Namespace: spec.namespace,
        MetricName: spec.metricName,
        Dimensions: Object.entries(spec.dimensions).map(([Name, Value]) => ({ Name, Value })),
        Statistic: spec.statistic,
        Period: spec.period,
        EvaluationPeriods: spec.evaluationPeriods,
        DatapointsToAlarm: spec.datapointsToAlarm,
        Threshold: spec.threshold,
        ComparisonOperator: spec.comparisonOperator,
        TreatMissingData: spec.treatMissingData,
        AlarmActions: spec.alarmActions,
      }),
    );
  }

  async metricData(spec: MetricSeed): Promise<void> {
    await this.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: spec.namespace,
        MetricData: spec.points.map((p) => ({
          MetricName: spec.metricName,
          Dimensions: Object.entries(spec.dimensions).map(([Name, Value]) => ({ Name, Value })),
          Timestamp: p.at,
          Value: p.value,
        })),
      }),
    );
  }

  async topic(spec: { label: string; name: string }): Promise<string> {
    const out = await this.sns.send(new CreateTopicCommand({ Name: spec.name }));
    return this.remember(spec.label, out.TopicArn!);
  }

  async stateMachine(spec: { label: string }): Promise<string> {
    const out = await this.sfn.send(
      new CreateStateMachineCommand({
        name: 'rapid-failover',
        type: 'STANDARD',
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        roleArn: `arn:aws:iam::${ACCOUNT}:role/rapid-failover-workflow`,
      }),
    );
    return this.remember(spec.label, out.stateMachineArn!);
  }

  async finishExecution(stateMachineArn: string, name: string): Promise<void> {
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    await this.sfn.send(new StopExecutionCommand({ executionArn }));
  }

  async object(spec: { bucket: string; key: string; body: string }): Promise<void> {
    await this.s3.send(new CreateBucketCommand({ Bucket: spec.bucket })).catch((error: Error) => {
      if (error.name !== 'BucketAlreadyOwnedByYou') throw error;
    });
    await this.s3.send(new PutObjectCommand({ Bucket: spec.bucket, Key: spec.key, Body: spec.body, ContentType: 'application/json' }));
  }

  destroy(): void {
    for (const client of [this.ec2, this.ssm, this.elb, this.cloudwatch, this.sns, this.events, this.sfn, this.s3]) client.destroy();
  }
}

// ---- the simulated fleet ------------------------------------------------------------------------

const SIM_CLIENT_CONFIG = { region: REGION, credentials: { accessKeyId: 'sim', secretAccessKey: 'sim' } };

/** Long enough for every simulated transition the cases wait for (stop, health checks, documents). */
const SETTLE_MS = 15 * 60_000;

class SimulatorSide extends Labels implements Side, Seeder {
  readonly name = 'simulator';
  readonly fleet: SimulatedFleet;
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly seed: Seeder = this;
  private readonly executions = new Map<string, (result: ExecutionResult) => void>();
  private readonly once = new Once();
  /** Ids this side makes up where the fleet takes any well-formed id (security groups, images). */
  private madeIds = 0;

  constructor(start: Date) {
    super();
    this.fleet = new SimulatedFleet({ clock: new VirtualClock(start), region: REGION, accountId: ACCOUNT });
    this.ec2 = attachFleet(new EC2Client(SIM_CLIENT_CONFIG), this.fleet);
    this.ssm = attachFleet(new SSMClient(SIM_CLIENT_CONFIG), this.fleet);
    this.elb = attachFleet(new ElasticLoadBalancingV2Client(SIM_CLIENT_CONFIG), this.fleet);
    this.cloudwatch = attachFleet(new CloudWatchClient(SIM_CLIENT_CONFIG), this.fleet);
    this.sns = attachFleet(new SNSClient(SIM_CLIENT_CONFIG), this.fleet);
    this.events = attachFleet(new EventBridgeClient(SIM_CLIENT_CONFIG), this.fleet);
    this.s3 = attachFleet(new S3Client(SIM_CLIENT_CONFIG), this.fleet);
    // Executions never run a workflow here: they stay RUNNING until finishExecution().
    const runner = {
      execute: (name: string) => new Promise<ExecutionResult>((resolve) => this.executions.set(name, resolve)),
    } as unknown as WorkflowRunner;
    const time = new VirtualTime(this.fleet.clock);
    // Callback tasks too (task tokens): SendTaskSuccess / SendTaskFailure answer as Step Functions does.
    const stepFunctions = new LocalStepFunctions(runner, time, new TaskTokens(time));
    this.sfn = attachLocalStepFunctions(new SFNClient(SIM_CLIENT_CONFIG), stepFunctions);
  }

  /** The fleet's fixed VPC, read through its own DescribeSubnets (answered outside the run: no virtual latency), labelled as SUBNETS names them. */
  network(): void {
    const out = this.fleet.answerNow('ec2', 'DescribeSubnets', {}) as DescribeSubnetsCommandOutput;
    for (const [name, { zone, cidr }] of Object.entries(SUBNETS) as Array<[SubnetName, (typeof SUBNETS)[SubnetName]]>) {
      const found = (out.Subnets ?? []).find((s) => s.AvailabilityZone === zone && s.CidrBlock === cidr);
      if (!found) throw new Error(`the simulated VPC has no subnet ${cidr} in ${zone} (local/fleet/subnets.ts changed): update SUBNETS in test/contract/sides.ts`);
      this.remember(subnetLabel(name), found.SubnetId!);
    }
    this.remember('vpc', out.Subnets![0]!.VpcId!);
  }

  settle(): void {
    this.fleet.clock.advance(SETTLE_MS);
  }

  private madeUpId(prefix: string): string {
    this.madeIds += 1;
    return `${prefix}-0c${this.madeIds.toString(16).padStart(15, '0')}`;
  }

  async subnet(name: SubnetName): Promise<string> {
    return this.id(subnetLabel(name));
  }

  securityGroup(label: string): Promise<string> {
    // The fleet has no security group API: an instance carries any well-formed group id.
    return this.once.get(label, async () => this.remember(label, this.madeUpId('sg')));
  }

  now(): Date {
    return this.fleet.clock.now();
  }

  async node(spec: NodeSeed): Promise<string> {
    checkIp(spec);
    const groups = await Promise.all((spec.securityGroups ?? [DEFAULT_SECURITY_GROUP]).map((label) => this.securityGroup(label)));
    const instanceId = this.fleet.addInstance({
      instanceType: spec.instanceType,
      subnetId: await this.subnet(spec.subnet),
      securityGroups: groups,
      privateIp: spec.privateIp,
      ...(spec.secondaryIps ? { secondaryIps: spec.secondaryIps } : {}),
      ...(spec.tags ? { tags: spec.tags } : {}),
      ...(spec.state ? { state: spec.state } : {}),
    });
    const described = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    this.remember(`${spec.label}:eni`, described.Reservations![0]!.Instances![0]!.NetworkInterfaces![0]!.NetworkInterfaceId!);
    return this.remember(spec.label, instanceId);
  }

  async image(spec: { label: string; from: string }): Promise<string> {
    // The fleet has no CreateImage: the image is defined with what DescribeInstances says of the node.
    const described = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [this.id(spec.from)] }));
    const instance = described.Reservations![0]!.Instances![0]!;
    const imageId = this.madeUpId('ami');
    this.fleet.defineImage(imageId, {
      apps: [],
      architecture: instance.Architecture!,
      virtualizationType: instance.VirtualizationType!,
      productCodes: (instance.ProductCodes ?? []).map((code) => code.ProductCodeId!),
      platformDetails: instance.PlatformDetails!,
      usageOperation: instance.UsageOperation!,
    });
    return this.remember(spec.label, imageId);
  }

  async loadBalancer(spec: LoadBalancerSeed): Promise<string> {
    const zones = spec.subnets.map((name) => {
      if (!['a1', 'b1', 'c1'].includes(name)) throw new Error(`a simulated load balancer is in its zone's first subnet (a1, b1, c1), not ${name}`);
      return SUBNETS[name].zone;
    });
    return this.remember(spec.label, this.fleet.addLoadBalancer({ name: spec.name, type: spec.type, availabilityZones: zones }));
  }

  async targetGroup(spec: TargetGroupSeed): Promise<string> {
    const arn = this.fleet.addTargetGroup({
      name: spec.name,
      port: spec.port,
      ...(spec.loadBalancer ? { loadBalancerArn: this.id(spec.loadBalancer) } : {}),
      ...(spec.healthCheck
        ? {
            healthCheckIntervalSeconds: spec.healthCheck.intervalSeconds,
            healthyThresholdCount: spec.healthCheck.healthyThresholdCount,
            unhealthyThresholdCount: spec.healthCheck.unhealthyThresholdCount,
          }
        : {}),
    });
    return this.remember(spec.label, arn);
  }

  async elasticIp(spec: { label: string; on?: string }): Promise<string> {
    const address = this.fleet.addElasticIp(spec.on ? { instanceId: this.id(spec.on) } : {});
    this.remember(`${spec.label}:public-ip`, address.publicIp);
    return this.remember(spec.label, address.allocationId);
  }

  async alarm(spec: AlarmSeed): Promise<void> {
    this.fleet.defineAlarm({
      name: spec.name,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      namespace: spec.namespace,
      metricName: spec.metricName,
      dimensions: spec.dimensions,
      statistic: spec.statistic,
      period: spec.period,
      evaluationPeriods: spec.evaluationPeriods,
      ...(spec.datapointsToAlarm !== undefined ? { datapointsToAlarm: spec.datapointsToAlarm } : {}),
      threshold: spec.threshold,
      comparisonOperator: spec.comparisonOperator,
      ...(spec.treatMissingData !== undefined ? { treatMissingData: spec.treatMissingData } : {}),
      alarmActions: spec.alarmActions ?? [],
    });
  }

  async metricData(spec: MetricSeed): Promise<void> {
    // The fleet's own CloudWatch API records custom metrics (it has no setup method for them).
    await this.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: spec.namespace,
        MetricData: spec.points.map((p) => ({
          MetricName: spec.metricName,
          Dimensions: Object.entries(spec.dimensions).map(([Name, Value]) => ({ Name, Value })),
          Timestamp: p.at,
          Value: p.value,
        })),
      }),
    );
  }

  async topic(spec: { label: string; name: string }): Promise<string> {
    // The fleet publishes to any topic ARN: it has no topics to create.
    return this.remember(spec.label, `arn:aws:sns:${REGION}:${ACCOUNT}:${spec.name}`);
  }

  async stateMachine(spec: { label: string }): Promise<string> {
    return this.remember(spec.label, LOCAL_STATE_MACHINE_ARN);
  }

  async finishExecution(_stateMachineArn: string, name: string): Promise<void> {
    const finish = this.executions.get(name);
    if (!finish) throw new Error(`no execution ${name} is running`);
    finish({ status: 'SUCCEEDED' } as ExecutionResult);
    // LocalStepFunctions records the result in a then() callback.
    await new Promise((resolve) => setImmediate(resolve));
  }

  async object(spec: { bucket: string; key: string; body: string }): Promise<void> {
    this.fleet.putObject(spec.bucket, spec.key, spec.body);
  }

  destroy(): void {
    for (const client of [this.ec2, this.ssm, this.elb, this.cloudwatch, this.sns, this.events, this.sfn, this.s3]) client.destroy();
  }
}

/** A fresh moto side (moto must have been reset) and a fresh simulated fleet starting at `start`. */
export async function makeSides(server: MotoServer, start: Date): Promise<{ moto: Side; simulator: Side & { fleet: SimulatedFleet } }> {
  const moto = new MotoSide(server);
  await moto.network();
  const simulator = new SimulatorSide(start);
  simulator.network();
  return { moto, simulator };
}
