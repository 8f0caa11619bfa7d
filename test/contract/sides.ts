// The two sides of a contract case: real AWS SDK v3 clients pointed at moto, and the same
// clients attached to the simulated fleet (local/fleet) and the local Step Functions. Each side
// is seeded through its own API (moto: RunInstances, CreateTargetGroup, AllocateAddress...;
// simulator: SimulatedFleet.addInstance, addTargetGroup, addElasticIp...) from one description,
// and remembers which id it gave each labelled resource, so answers can be compared by label.
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
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { CreateTargetGroupCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { attachFleet, SimulatedFleet, VirtualClock } from '../../local/fleet/index.ts';
import { attachLocalStepFunctions, LOCAL_STATE_MACHINE_ARN, LocalStepFunctions } from '../../local/runtime/local-step-functions.ts';
import { VirtualTime } from '../../local/runtime/virtual-time.ts';
import type { ExecutionResult, WorkflowRunner } from '../../local/runtime/workflow-runner.ts';
import { MOTO_CLIENT_CONFIG, type MotoServer } from './moto-server.ts';

export type SideName = 'moto' | 'simulator';

export const REGION = 'us-east-1';
/** The account both moto and the simulated fleet use by default. */
export const ACCOUNT = '123456789012';
/** Each availability zone has one subnet, the same CIDR on both sides. */
export const SUBNETS = { 'us-east-1a': '10.0.1', 'us-east-1b': '10.0.2' } as const;
export type Zone = keyof typeof SUBNETS;

export interface NodeSeed {
  label: string;
  instanceType: string;
  zone: Zone;
  privateIp: string;
  secondaryIps?: string[];
  tags?: Record<string, string>;
  state?: 'running' | 'stopped';
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
  /** Launches an instance; returns its id. */
  node(spec: NodeSeed): Promise<string>;
  /** Creates an instance target group in the VPC; returns its ARN. */
  targetGroup(spec: { label: string; name: string; port: number }): Promise<string>;
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
  for (const ip of [spec.privateIp, ...(spec.secondaryIps ?? [])]) {
    if (!ip.startsWith(`${SUBNETS[spec.zone]}.`)) throw new Error(`${spec.label}: ${ip} is not in ${spec.zone}'s subnet ${SUBNETS[spec.zone]}.0/24`);
  }
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
  private readonly subnetIds = new Map<Zone, string>();

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

  async network(): Promise<void> {
    const vpc = await this.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
    this.vpcId = vpc.Vpc!.VpcId!;
    for (const [zone, prefix] of Object.entries(SUBNETS) as Array<[Zone, string]>) {
      const subnet = await this.ec2.send(new CreateSubnetCommand({ VpcId: this.vpcId, CidrBlock: `${prefix}.0/24`, AvailabilityZone: zone }));
      this.subnetIds.set(zone, subnet.Subnet!.SubnetId!);
    }
  }

  settle(): void {}

  now(): Date {
    return new Date();
  }

  async node(spec: NodeSeed): Promise<string> {
    checkIp(spec);
    const tags = Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
    const run = await this.ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b', // one of moto's built-in images
        InstanceType: spec.instanceType as _InstanceType,
        MinCount: 1,
        MaxCount: 1,
        SubnetId: this.subnetIds.get(spec.zone),
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

  async targetGroup(spec: { label: string; name: string; port: number }): Promise<string> {
    const out = await this.elb.send(
      new CreateTargetGroupCommand({ Name: spec.name, Protocol: 'HTTP', Port: spec.port, VpcId: this.vpcId, TargetType: 'instance' }),
    );
    return this.remember(spec.label, out.TargetGroups![0]!.TargetGroupArn!);
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
  private readonly zonesSeen: Zone[] = [];

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
    const stepFunctions = new LocalStepFunctions(runner, new VirtualTime(this.fleet.clock));
    this.sfn = attachLocalStepFunctions(new SFNClient(SIM_CLIENT_CONFIG), stepFunctions);
  }

  settle(): void {
    this.fleet.clock.advance(SETTLE_MS);
  }

  now(): Date {
    return this.fleet.clock.now();
  }

  async node(spec: NodeSeed): Promise<string> {
    checkIp(spec);
    // The fleet numbers a zone's subnet 10.0.<n> in the order zones first appear.
    if (!this.zonesSeen.includes(spec.zone)) this.zonesSeen.push(spec.zone);
    const expected = `10.0.${this.zonesSeen.indexOf(spec.zone) + 1}`;
    if (expected !== SUBNETS[spec.zone]) throw new Error(`seed a node in every zone in the order of SUBNETS (${Object.keys(SUBNETS).join(', ')})`);
    const instanceId = this.fleet.addInstance({
      instanceType: spec.instanceType,
      availabilityZone: spec.zone,
      privateIp: spec.privateIp,
      ...(spec.secondaryIps ? { secondaryIps: spec.secondaryIps } : {}),
      ...(spec.tags ? { tags: spec.tags } : {}),
      ...(spec.state ? { state: spec.state } : {}),
    });
    const described = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    this.remember(`${spec.label}:eni`, described.Reservations![0]!.Instances![0]!.NetworkInterfaces![0]!.NetworkInterfaceId!);
    return this.remember(spec.label, instanceId);
  }

  async targetGroup(spec: { label: string; name: string; port: number }): Promise<string> {
    return this.remember(spec.label, this.fleet.addTargetGroup({ name: spec.name, port: spec.port }));
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
  return { moto, simulator: new SimulatorSide(start) };
}
