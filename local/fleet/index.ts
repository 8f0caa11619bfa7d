// The simulated fleet: EC2, SSM, ELBv2, SNS, EventBridge and CloudWatch in virtual time, behind
// the real AWS SDK v3 clients. attachFleet() puts it into a client's middleware stack, so handler
// code builds the same clients and commands as in AWS; only the transport differs.
//
//   const fleet = new SimulatedFleet();
//   const web1 = fleet.addInstance({ instanceType: 'm7i.large', tags: { pool: 'a' }, apps: ['web'] });
//   const ec2 = attachFleet(new EC2Client({ region: 'us-east-1', credentials }), fleet);
//   await ec2.send(new StopInstancesCommand({ InstanceIds: [web1] }));
//   fleet.clock.advance(60_000);
//   fleet.snapshot().instances[0].state; // 'stopped'
import type { InitializeHandlerArguments, InitializeHandlerOutput, MetadataBearer, MiddlewareStack } from '@smithy/types';
import { VirtualClock } from './clock.ts';
import {
  cloudWatchHandlers,
  createCloudWatchState,
  defineAlarm,
  evaluateDueAlarms,
  evaluationStepMs,
  pendingAlarmChange,
  publishVendedMetrics,
  recordPoint,
  setAlarmState,
  setPerformance,
  type AlarmDefinition,
  type AlarmEvent,
  type AlarmNotification,
  type CloudWatchState,
  type MetricBinding,
  type VendedDatapoint,
} from './cloudwatch.ts';
import { ec2InstanceHandlers } from './ec2.ts';
import { createElasticIp, ec2NetworkHandlers, type ElasticIpSpec, type IpMove } from './ec2-network.ts';
import { defineImage, defineSnapshot, ec2ImageHandlers } from './ec2-images.ts';
import { ec2RootVolumeHandlers, type SimRootVolumeTask } from './ec2-root-volume.ts';
import {
  createLoadBalancer,
  createTargetGroup,
  elbHandlers,
  pendingTargetHealthChange,
  reportedHealth,
  syncTargetHealth,
  type LoadBalancerSpec,
  type SimLoadBalancer,
  type SimTargetGroup,
  type TargetGroupSpec,
} from './elb.ts';
import { awsError, NotSimulatedError, requestId, THROTTLING_ERRORS } from './errors.ts';
import { FaultInjector } from './faults.ts';
import { createInstance, failHost, setAppRunning, statusCheck, stopInstance, type InstanceSpec } from './instances.ts';
import { resolveLatency, type LatencyModel, type LatencyOverrides, type ServiceName } from './latency.ts';
import { World, type ImageDefinition, type ServiceEvent, type SimInstance } from './model.ts';
import { eventBridgeHandlers, snsHandlers, type NotifyState, type PublishedMessage, type PutEvent } from './notify.ts';
import { putObject, s3Handlers, type S3State } from './s3.ts';
import { withSdkStreamBody } from './sdk-stream.ts';
import type { Handlers } from './service.ts';
import { createSsmState, ssmHandlers, type DocumentEffect, type SsmState } from './ssm.ts';
import { createQueue, queueMetrics, sendMessage, type QueuedMessage, type SqsState } from './sqs.ts';

export { VirtualClock } from './clock.ts';
export { FaultInjector } from './faults.ts';
export { DEFAULT_LATENCY, resolveLatency, uniformApiLatency } from './latency.ts';
export { awsError, NotSimulatedError, THROTTLING_ERRORS } from './errors.ts';
export { INSTANCE_TYPE_NAMES, instanceTypeInfo } from './instance-types.ts';
export type { LatencyModel, LatencyOverrides, ServiceName } from './latency.ts';
export type { InstanceSpec } from './instances.ts';
export type { LoadBalancerSpec, LoadBalancerType, TargetGroupSpec } from './elb.ts';
export type { ElasticIpSpec } from './ec2-network.ts';
export type { DocumentContext, DocumentEffect } from './ssm.ts';
export type { AlarmDefinition, AlarmEvent, AlarmNotification, MetricBinding } from './cloudwatch.ts';
export type { QueuedMessage } from './sqs.ts';
export type { PublishedMessage, PutEvent } from './notify.ts';
export type { ImageDefinition, ServiceEvent } from './model.ts';

export interface FleetOptions {
  /** Shared with whatever else runs in virtual time (default: a new clock at 2030-01-01T00:00:00Z). */
  clock?: VirtualClock;
  /** Merged over DEFAULT_LATENCY. */
  latency?: LatencyOverrides;
  region?: string;
  accountId?: string;
  /** Seeds generated ids (instance ids, command ids...), so runs are reproducible. */
  seed?: number;
  /** SendCommand rejects documents that are neither defined nor AWS-owned (default false: they run, with no effect). */
  strictDocuments?: boolean;
  /**
   * How a call's virtual latency is spent (default: the clock is advanced at once). Concurrent
   * executions pass a sleep on the shared clock instead, so one caller's latency does not
   * move time for the others.
   */
  spendLatency?: (ms: number) => Promise<void> | void;
}

export interface CallCounts {
  total: number;
  byService: Partial<Record<ServiceName, number>>;
  /** "service:Command" → calls, e.g. "ec2:DescribeInstances". */
  byCommand: Record<string, number>;
}

export interface InstanceSnapshot {
  instanceId: string;
  instanceType: string;
  state: string;
  tags: Record<string, string>;
  privateIp: string;
  networkInterfaceId: string;
  secondaryIps: string[];
  securityGroups: string[];
  rootVolumeId: string;
  rootSource: string;
  imageId: string;
  statusChecks: 'ok' | 'initializing' | 'impaired' | 'not-applicable';
  appsRunning: string[];
  appsInstalled: string[];
  documents: Array<{ documentName: string; commandId: string; status: string; requestedAt: string }>;
  /** The SSM Agent as DescribeInstanceInformation reports it (not-listed: stopped, or never registered). */
  ssmAgent: 'Online' | 'ConnectionLost' | 'not-listed';
}

export interface FleetSnapshot {
  at: string;
  instances: InstanceSnapshot[];
  /** Application → instances it runs on now. */
  apps: Record<string, string[]>;
  targetGroups: Array<{ arn: string; name: string; app?: string; targets: Array<{ id: string; port: number; state: string; reason?: string }> }>;
  elasticIps: Array<{ allocationId: string; publicIp: string; associationId?: string; instanceId?: string; privateIp?: string; routed: boolean }>;
  /** Secondary private IP → where it is assigned, and whether it answers there yet. */
  secondaryIps: Record<string, { instanceId: string; networkInterfaceId: string; routed: boolean }>;
  rootVolumeTasks: Array<{ taskId: string; instanceId: string; state: string }>;
  published: PublishedMessage[];
  events: PutEvent[];
  calls: CallCounts;
}

export class SimulatedFleet {
  readonly clock: VirtualClock;
  readonly latency: LatencyModel;
  private readonly spendLatency: (ms: number) => Promise<void> | void;
  readonly faults: FaultInjector;
  private readonly world: World;
  private readonly targetGroups = new Map<string, SimTargetGroup>();
  private readonly loadBalancers = new Map<string, SimLoadBalancer>();
  private readonly rootVolumeTasks = new Map<string, SimRootVolumeTask>();
  private readonly ipMoves = new Map<string, IpMove>();
  private readonly ssm: SsmState;
  private readonly notify: NotifyState = { published: [], events: [] };
  private readonly cloudwatch: CloudWatchState = createCloudWatchState();
  private readonly sqs: SqsState = new Map();
  /** Whether a topic's policy lets CloudWatch publish for an alarm (set from the template); absent: it does. */
  private readonly topicAdmitsAlarm = new Map<string, (alarmArn: string) => boolean>();
  /** Alarm notifications a topic policy refused: CloudWatch could not publish them. */
  private readonly refusedNotifications: Array<AlarmNotification & { at: string }> = [];
  private readonly s3: S3State = new Map();
  /** Target group ARN → load balancer ARN, for the metrics ELB publishes per load balancer and target group. */
  private alarmEvaluation = false;
  private readonly handlers: Record<ServiceName, Handlers>;
  private readonly counts = new Map<string, number>();
  private readonly errorCounts = new Map<string, number>();

  constructor(options: FleetOptions = {}) {
    this.clock = options.clock ?? new VirtualClock();
    this.spendLatency = options.spendLatency ?? ((ms) => this.clock.advance(ms));
    this.latency = resolveLatency(options.latency);
    this.faults = new FaultInjector(() => this.world.sync());
    this.world = new World(this.clock, this.latency, this.faults, options.region ?? 'us-east-1', options.accountId ?? '123456789012', options.seed ?? 1);
    this.world.onSync(() => syncTargetHealth(this.world, this.targetGroups, this.loadBalancers));
    this.ssm = createSsmState(options.strictDocuments ?? false);
    this.cloudwatch.resourceTags = (dimensions) => {
      const instance = dimensions.InstanceId ? this.world.instance(dimensions.InstanceId) : undefined;
      return instance ? Object.fromEntries(instance.tags) : {};
    };
    this.cloudwatch.vended.push(
      () => this.statusCheckMetrics(),
      () => this.targetHealthMetrics(),
      () => queueMetrics(this.sqs),
    );
    this.cloudwatch.onNotification = (notification) => this.deliverAlarmNotification(notification);
    this.handlers = {
      ec2: {
        ...ec2InstanceHandlers(this.world),
        ...ec2NetworkHandlers(this.world, this.ipMoves),
        ...ec2RootVolumeHandlers(this.world, this.rootVolumeTasks),
        ...ec2ImageHandlers(this.world),
      },
      ssm: ssmHandlers(this.world, this.ssm),
      elbv2: elbHandlers(this.world, this.targetGroups, this.loadBalancers),
      sns: snsHandlers(this.world, this.notify),
      eventbridge: eventBridgeHandlers(this.world, this.notify),
      cloudwatch: cloudWatchHandlers(this.world, this.cloudwatch),
      s3: s3Handlers(this.s3),
    };
  }

  get region(): string {
    return this.world.region;
  }

  get accountId(): string {
    return this.world.accountId;
  }

  // ---- scenario setup ------------------------------------------------------------------------

  /** Adds an instance (running by default) and returns its id. */
  addInstance(spec: InstanceSpec): string {
    return createInstance(this.world, spec).instanceId;
  }

  /** Adds a load balancer (application by default, in the region's a, b and c zones) and returns its ARN. */
  addLoadBalancer(spec: LoadBalancerSpec): string {
    this.world.sync();
    return createLoadBalancer(this.world, this.loadBalancers, spec).arn;
  }

  hasLoadBalancer(arn: string): boolean {
    return this.loadBalancers.has(arn);
  }

  /** Adds a target group (behind `loadBalancerArn`, or an application load balancer of its own) and returns its ARN. */
  addTargetGroup(spec: TargetGroupSpec): string {
    return createTargetGroup(this.world, this.targetGroups, this.loadBalancers, spec).arn;
  }

  /** Registers instances in a target group as already healthy (the state before the scenario starts). */
  registerHealthy(targetGroupArn: string, instanceIds: string[]): void {
    const group = this.targetGroups.get(targetGroupArn);
    if (!group) throw new Error(`no target group ${targetGroupArn}`);
    this.world.sync();
    const now = this.clock.nowMs();
    for (const id of instanceIds) {
      if (!this.world.instances.has(id)) throw new Error(`no instance ${id}`);
      group.targets.set(`${id}:${group.port}`, {
        id,
        port: group.port,
        registeredAt: now,
        state: 'healthy',
        passes: group.healthyThreshold,
        fails: 0,
        lastCheckAt: now,
        checked: true,
        healthySince: now - 1,
      });
    }
  }

  /** Keeps these private addresses out of automatic assignment (they are given to instances by name). */
  reservePrivateIps(ips: Iterable<string>): void {
    this.world.reservePrivateIps(ips);
  }

  addElasticIp(spec: ElasticIpSpec = {}): { allocationId: string; publicIp: string } {
    const address = createElasticIp(this.world, spec);
    return { allocationId: address.allocationId, publicIp: address.publicIp };
  }

  /** An object in S3 (the stack's config document, as the deploy uploads its assets). */
  putObject(bucket: string, key: string, body: Uint8Array | string): void {
    putObject(this.s3, bucket, key, body, this.clock.now());
  }

  /** What running an SSM document does (e.g. `{ installs: ['web'] }`). */
  defineDocument(name: string, effect: DocumentEffect): void {
    this.ssm.documents.set(name, effect);
  }

  /** An AMI: what it carries, and the attributes CreateReplaceRootVolumeTask compares with an instance's (DescribeImages shows them). */
  defineImage(imageId: string, definition: ImageDefinition): void {
    defineImage(this.world, imageId, definition);
  }

  /**
   * A snapshot taken now of `fromInstance`'s root volume (its installed applications, or those
   * named): it can replace only a root volume of that lineage.
   */
  defineSnapshot(snapshotId: string, options: { fromInstance: string; apps?: string[] }): void {
    defineSnapshot(this.world, snapshotId, this.requireInstance(options.fromInstance), options.apps);
  }

  /** Security groups that isolate: an instance whose groups are all among these fails health checks. */
  isolatingSecurityGroups(...groupIds: string[]): void {
    this.world.sync();
    for (const id of groupIds) this.world.isolatingGroups.add(id);
  }

  /** An SQS queue (a dead-letter queue, an on-failure destination); returns its ARN. */
  defineQueue(name: string, arn?: string): string {
    return createQueue(this.world, this.sqs, name, arn).arn;
  }

  /** An AWS service (Lambda's on-failure destination, EventBridge's dead-letter queue) sends a message to a queue. */
  sendToQueue(queueArn: string, body: string, attributes: Record<string, string> = {}): void {
    this.world.sync();
    sendMessage(this.world, this.sqs, queueArn, body, attributes);
  }

  /** The messages a queue holds now (by name or ARN). */
  queueMessages(queue: string): QueuedMessage[] {
    const found = [...this.sqs.values()].find((q) => q.arn === queue || q.name === queue);
    if (!found) throw new Error(`no queue ${queue} in the simulated fleet`);
    return structuredClone(found.messages);
  }

  /** A datapoint an AWS service publishes now (e.g. Lambda's Errors when a function fails). */
  recordMetric(namespace: string, metricName: string, dimensions: Record<string, string>, value: number): void {
    recordPoint(this.cloudwatch, namespace, metricName, dimensions, this.clock.nowMs(), value);
  }

  /**
   * The topic's resource policy, as far as CloudWatch is concerned: whether it lets CloudWatch
   * publish an alarm's notification. A topic policy replaces SNS's default policy, so a topic whose
   * policy has no statement for CloudWatch refuses every alarm.
   */
  setTopicPolicy(topicArn: string, admitsAlarm: (alarmArn: string) => boolean): void {
    this.topicAdmitsAlarm.set(topicArn, admitsAlarm);
  }

  /** Alarm notifications that a topic's policy refused (CloudWatch could not publish them). */
  refusedAlarmNotifications(): Array<AlarmNotification & { at: string }> {
    return structuredClone(this.refusedNotifications);
  }

  private deliverAlarmNotification(notification: AlarmNotification): void {
    const at = new Date(this.clock.nowMs()).toISOString();
    const admits = this.topicAdmitsAlarm.get(notification.topicArn);
    if (admits && !admits(notification.alarmArn)) {
      this.refusedNotifications.push({ ...notification, at });
      return;
    }
    this.notify.published.push({ at, messageId: this.world.uuid(), topicArn: notification.topicArn, subject: notification.subject, message: notification.message, messageAttributes: {} });
  }

  defineAlarm(definition: AlarmDefinition): void {
    defineAlarm(this.world, this.cloudwatch, definition);
  }

  /** The alarm exists (defined at deploy, or created since with PutMetricAlarm). */
  hasAlarm(name: string): boolean {
    return this.cloudwatch.alarms.has(name);
  }

  setAlarmState(name: string, state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA', reason?: string): void {
    setAlarmState(this.world, this.cloudwatch, name, state, reason);
  }

  /** Serves a metric from the performance model of an application (see cloudwatch.ts). */
  bindMetric(binding: MetricBinding): void {
    this.cloudwatch.bindings.push({ ...binding, dimensions: { ...binding.dimensions } });
  }

  /** From now on, `app` on `instanceId` performs at `value`; undefined: back to the bound healthy value. */
  setPerformance(app: string, instanceId: string, value: number | undefined): void {
    setPerformance(this.world, this.cloudwatch, app, instanceId, value);
  }

  /** Every node of `app` performs at its bound healthy value again. */
  clearPerformance(app: string): void {
    for (const instanceId of this.world.instances.keys()) {
      if (this.cloudwatch.performance.has(`${app}|${instanceId}`)) this.setPerformance(app, instanceId, undefined);
    }
  }

  /**
   * From now on CloudWatch publishes the metrics AWS services report (each minute) and evaluates
   * every alarm at the end of each of its periods; state changes go to `onEvent` (EventBridge).
   */
  startAlarmEvaluation(onEvent: (event: AlarmEvent) => void): void {
    if (this.alarmEvaluation) throw new Error('alarm evaluation is already running');
    this.alarmEvaluation = true;
    this.cloudwatch.onEvent = onEvent;
    const next = () => {
      const step = evaluationStepMs(this.cloudwatch);
      return (Math.floor(this.clock.nowMs() / step) + 1) * step;
    };
    const tick = () => {
      this.world.sync();
      evaluateDueAlarms(this.world, this.cloudwatch);
      const now = this.clock.nowMs();
      if (now % 60_000 === 0) publishVendedMetrics(this.cloudwatch, now);
      this.clock.schedule(next(), tick, 'cloudwatch');
    };
    const now = this.clock.nowMs();
    this.clock.schedule(now % evaluationStepMs(this.cloudwatch) === 0 ? now : next(), tick, 'cloudwatch');
  }

  /**
   * Every event EC2 and SSM put on EventBridge from now on (instance state changes, command and
   * invocation status changes), at the moment they happen; delivery latency is the listener's.
   */
  onServiceEvent(listener: (event: ServiceEvent) => void): void {
    this.world.onServiceEvent(listener);
  }

  /** What alarm, contributor or target's health would still change if nothing else happened (null: none). */
  pendingAlarmChange(): string | null {
    this.world.sync();
    return pendingAlarmChange(this.world, this.cloudwatch) ?? pendingTargetHealthChange(this.world, this.targetGroups, this.loadBalancers);
  }

  /**
   * StatusCheckFailed per running instance: 1 while its status checks are impaired, else 0; none
   * for an instance that is not running. EC2 User Guide, "List the available CloudWatch metrics
   * for your instances" → Status check metrics (viewing_metrics_with_cloudwatch.html): whether the
   * instance passed both status checks in the last minute, 0 (passed) or 1 (failed), available at
   * a 1-minute frequency.
   */
  private statusCheckMetrics(): VendedDatapoint[] {
    const points: VendedDatapoint[] = [];
    for (const instance of this.world.instances.values()) {
      const check = statusCheck(this.world, instance);
      if (check === 'not-applicable') continue;
      points.push({ namespace: 'AWS/EC2', metricName: 'StatusCheckFailed', dimensions: { InstanceId: instance.instanceId }, value: check === 'impaired' ? 1 : 0 });
    }
    return points;
  }

  /** UnHealthyHostCount per (load balancer, target group): the targets ELB reports unhealthy. */
  private targetHealthMetrics(): VendedDatapoint[] {
    const points: VendedDatapoint[] = [];
    for (const group of this.targetGroups.values()) {
      const unhealthy = [...group.targets.values()].filter((t) => reportedHealth(this.world, group, t, this.loadBalancers).State === 'unhealthy').length;
      for (const loadBalancerArn of group.loadBalancerArns) {
        const loadBalancer = loadBalancerArn.split(':loadbalancer/')[1] ?? loadBalancerArn;
        points.push({
          namespace: loadBalancer.startsWith('net/') ? 'AWS/NetworkELB' : 'AWS/ApplicationELB',
          metricName: 'UnHealthyHostCount',
          dimensions: { LoadBalancer: loadBalancer, TargetGroup: group.arn.split(':').at(-1)! },
          value: unhealthy,
        });
      }
    }
    return points;
  }

  /** The host fails without any API call: status checks impaired, applications and services down; EC2 still says running. */
  failInstance(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    this.faults.statusChecksImpaired(instanceId);
    failHost(this.world, instance);
  }

  /** The instance stops without any API call from the control plane (console, OS shutdown). */
  stopInstance(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    if (instance.state === 'running') stopInstance(this.world, instance, 'User initiated (outside the control plane)');
  }

  /** An application stops (crashes) or starts on an instance without any API call. */
  setAppRunning(instanceId: string, app: string, running: boolean): void {
    const instance = this.requireInstance(instanceId);
    if (running && instance.state !== 'running') throw new Error(`instance ${instanceId} is ${instance.state}; an application runs only on a running instance`);
    setAppRunning(this.world, instance, app, running);
  }

  private requireInstance(instanceId: string) {
    const instance = this.world.instance(instanceId);
    if (!instance) throw new Error(`no instance ${instanceId} in the simulated fleet`);
    return instance;
  }

  // ---- the API ---------------------------------------------------------------------------------

  /**
   * Answers one SDK command. `command` is the SDK's command name, with or without the
   * "Command" suffix. Charges the call's virtual latency to the clock first.
   */
  async handle(service: ServiceName, command: string, input: unknown): Promise<MetadataBearer> {
    const name = command.replace(/Command$/, '');
    const key = `${service}:${name}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const handler = this.handlers[service]?.[name];
    if (!handler) throw new NotSimulatedError(service, name);
    const cost = this.latency.apiCallMs[service];
    if (cost > 0) await this.spendLatency(cost);
    this.world.sync();
    const throttle = this.faults.takeThrottle(service, name) ?? (service === 'ec2' && !this.faults.takeEc2RequestToken(name, this.clock.nowMs()) ? { errorName: undefined } : null);
    if (throttle) {
      throw awsError(service, throttle.errorName ?? THROTTLING_ERRORS[service], service === 'ec2' ? 'Request limit exceeded.' : 'Rate exceeded', {
        throttling: true,
        httpStatusCode: service === 'ec2' ? 503 : 400,
      });
    }
    let output: object;
    try {
      output = (handler as (input: unknown) => object)(structuredClone(input ?? {}));
    } catch (error) {
      const errorKey = `${key}:${(error as Error).name}`;
      this.errorCounts.set(errorKey, (this.errorCounts.get(errorKey) ?? 0) + 1);
      throw error;
    }
    return { ...structuredClone(output), $metadata: { httpStatusCode: 200, requestId: requestId(), attempts: 1, totalRetryDelay: 0 } };
  }

  /**
   * Answers a command at once, outside the run: no virtual latency, no throttling, not counted
   * among the run's API calls (a custom resource's call while the stack deploys; a test reading
   * what the run left behind).
   */
  answerNow(service: ServiceName, command: string, input: unknown): object {
    const name = command.replace(/Command$/, '');
    const handler = this.handlers[service]?.[name];
    if (!handler) throw new NotSimulatedError(service, name);
    this.world.sync();
    return structuredClone((handler as (input: unknown) => object)(structuredClone(input ?? {})));
  }

  // ---- observation -----------------------------------------------------------------------------

  callCounts(): CallCounts {
    const byService: Partial<Record<ServiceName, number>> = {};
    let total = 0;
    for (const [key, count] of this.counts) {
      const service = key.slice(0, key.indexOf(':')) as ServiceName;
      byService[service] = (byService[service] ?? 0) + count;
      total += count;
    }
    return { total, byService, byCommand: Object.fromEntries(this.counts) };
  }

  resetCallCounts(): void {
    this.counts.clear();
    this.errorCounts.clear();
  }

  /** Calls answered with an AWS error, by "service:Command:ErrorName" (e.g. "ssm:SendCommand:InvalidInstanceId"). */
  callErrors(): Record<string, number> {
    return Object.fromEntries(this.errorCounts);
  }

  published(): PublishedMessage[] {
    return structuredClone(this.notify.published);
  }

  events(): PutEvent[] {
    return structuredClone(this.notify.events);
  }

  /** How many events were put so far (cheap: the runtime asks on every turn of virtual time). */
  eventCount(): number {
    return this.notify.events.length;
  }

  snapshot(): FleetSnapshot {
    this.world.sync();
    const now = this.clock.nowMs();
    const instances = [...this.world.instances.values()].map((instance): InstanceSnapshot => {
      const eni = this.world.enis.get(instance.networkInterfaceId)!;
      return {
        instanceId: instance.instanceId,
        instanceType: instance.instanceType,
        state: instance.state,
        tags: Object.fromEntries(instance.tags),
        privateIp: eni.primaryIp,
        networkInterfaceId: eni.networkInterfaceId,
        secondaryIps: [...eni.secondaryIps],
        securityGroups: [...instance.securityGroups],
        rootVolumeId: instance.rootVolumeId,
        rootSource: instance.rootSource,
        imageId: instance.imageId,
        statusChecks: statusCheck(this.world, instance),
        appsRunning: [...instance.apps].filter(([, r]) => r.running).map(([app]) => app),
        appsInstalled: [...instance.apps].filter(([, r]) => r.installed).map(([app]) => app),
        documents: instance.documents.map((d) => ({ documentName: d.documentName, commandId: d.commandId, status: d.status, requestedAt: new Date(d.requestedAt).toISOString() })),
        ssmAgent: ssmAgentStatus(instance),
      };
    });
    const apps: Record<string, string[]> = {};
    for (const instance of instances) for (const app of instance.appsRunning) (apps[app] ??= []).push(instance.instanceId);
    const secondaryIps: FleetSnapshot['secondaryIps'] = {};
    for (const eni of this.world.enis.values()) {
      for (const ip of eni.secondaryIps) {
        const move = this.ipMoves.get(ip);
        secondaryIps[ip] = { instanceId: eni.instanceId, networkInterfaceId: eni.networkInterfaceId, routed: !move || now >= move.effectiveAt };
      }
    }
    return {
      at: new Date(now).toISOString(),
      instances,
      apps,
      targetGroups: [...this.targetGroups.values()].map((group) => ({
        arn: group.arn,
        name: group.name,
        ...(group.app ? { app: group.app } : {}),
        targets: [...group.targets.values()].map((target) => {
          const health = reportedHealth(this.world, group, target, this.loadBalancers);
          return { id: target.id, port: target.port, state: health.State!, ...(health.Reason ? { reason: health.Reason } : {}) };
        }),
      })),
      elasticIps: [...this.world.addresses.values()].map((address) => ({
        allocationId: address.allocationId,
        publicIp: address.publicIp,
        ...(address.association
          ? {
              associationId: address.association.associationId,
              instanceId: address.association.instanceId,
              privateIp: address.association.privateIp,
            }
          : {}),
        routed: address.association !== undefined && now >= address.association.effectiveAt,
      })),
      secondaryIps,
      rootVolumeTasks: [...this.rootVolumeTasks.values()].map((t) => ({ taskId: t.taskId, instanceId: t.instanceId, state: t.state })),
      published: this.published(),
      events: this.events(),
      calls: this.callCounts(),
    };
  }
}

function ssmAgentStatus(instance: SimInstance): InstanceSnapshot['ssmAgent'] {
  if (instance.agent.registeredAt === null || instance.state === 'stopped' || instance.state === 'terminated') return 'not-listed';
  return instance.agent.online ? 'Online' : 'ConnectionLost';
}

// ---- wiring into SDK clients -------------------------------------------------------------------

const SERVICE_IDS: Record<string, ServiceName> = {
  EC2: 'ec2',
  SSM: 'ssm',
  'Elastic Load Balancing v2': 'elbv2',
  SNS: 'sns',
  EventBridge: 'eventbridge',
  CloudWatch: 'cloudwatch',
  S3: 's3',
};

/** An AWS SDK v3 client, as far as attachFleet needs one. */
export interface SdkClient {
  config: { serviceId?: string };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- every client's stack has its own input/output unions
  middlewareStack: MiddlewareStack<any, any>;
}

/** The fleet's name for the client's service; throws for a service the fleet does not simulate. */
export function serviceOf(client: SdkClient): ServiceName {
  const serviceId = client.config.serviceId ?? '';
  const service = SERVICE_IDS[serviceId];
  if (!service) {
    throw new Error(
      `the simulated fleet does not simulate the '${serviceId}' service (it simulates ${Object.keys(SERVICE_IDS).join(', ')}); ` +
        'DynamoDB goes to DynamoDB Local and Step Functions to the local state machine runtime',
    );
  }
  return service;
}

export const FLEET_MIDDLEWARE_NAME = 'simulatedFleet';

/**
 * Answers every command sent through `client` from the fleet instead of AWS. The middleware sits
 * first in the 'initialize' step and never calls `next`: serialization, signing, retries and the
 * HTTP request never happen (so the SDK never retries a fleet error; see errors.ts). Attaching
 * twice replaces the earlier attachment. Returns the client. `immediate`: answered as
 * `answerNow` does (no virtual latency, not counted), for calls that belong to the deploy or a
 * cold start outside the run.
 */
export function attachFleet<C extends SdkClient>(client: C, fleet: SimulatedFleet, options: { immediate?: boolean } = {}): C {
  const service = serviceOf(client);
  const answer = async (command: string, input: unknown): Promise<MetadataBearer> =>
    options.immediate ? { ...fleet.answerNow(service, command, input), $metadata: { httpStatusCode: 200 } } : fleet.handle(service, command, input);
  client.middlewareStack.remove(FLEET_MIDDLEWARE_NAME);
  client.middlewareStack.add(
    (_next: unknown, context: { commandName?: string }) =>
      async (args: InitializeHandlerArguments<object>): Promise<InitializeHandlerOutput<MetadataBearer>> => ({
        output: withSdkStreamBody(await answer(context.commandName ?? 'UnknownCommand', args.input)),
        response: {},
      }),
    { step: 'initialize', name: FLEET_MIDDLEWARE_NAME, priority: 'high' },
  );
  return client;
}
