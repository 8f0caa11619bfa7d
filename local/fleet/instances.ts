// Instance lifecycle in virtual time: start, stop, reboot, boot-time services, applications.
// Every change first calls world.sync() so time-dependent state (target health) is caught up
// under the rules as they were.
import { launchImage } from './ec2-images.ts';
import { isKnownInstanceType, unknownInstanceTypeHint } from './instance-types.ts';
import type { InstanceStateName } from '@aws-sdk/client-ec2';
import type { SimInstance, SimNetworkInterface, World } from './model.ts';

/**
 * The instance enters `state`, and EC2 says so on EventBridge: "EC2 Instance State-change
 * Notification" (EC2 User Guide, "State change events for Amazon EC2 instances": detail
 * instance-id and state, the instance's ARN in resources).
 */
export function enterState(world: World, instance: SimInstance, state: InstanceStateName): void {
  instance.state = state;
  world.emit('aws.ec2', 'EC2 Instance State-change Notification', [world.arn('ec2', `instance/${instance.instanceId}`)], { 'instance-id': instance.instanceId, state });
}

export interface InstanceSpec {
  /** Default: a generated id (i- and 17 hex digits). */
  instanceId?: string;
  /** Any type EC2 has (the catalogue in instance-types.generated.json). */
  instanceType: string;
  /** Default 'running' (booted, status checks ok, apps up). */
  state?: 'running' | 'stopped';
  tags?: Record<string, string>;
  /** Applications installed on it and started at boot, running now if the instance is running. */
  apps?: string[];
  /** Applications installed and started at boot, but not running now (e.g. halted, or for activation). */
  installedApps?: string[];
  /** The AMI it was launched from (defined with defineImage, or a plain one of its architecture). */
  imageId?: string;
  availabilityZone?: string;
  subnetId?: string;
  privateIp?: string;
  secondaryIps?: string[];
  securityGroups?: string[];
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

export function createInstance(world: World, spec: InstanceSpec): SimInstance {
  if (!isKnownInstanceType(spec.instanceType)) {
    throw new Error(unknownInstanceTypeHint(spec.instanceType));
  }
  const instanceId = spec.instanceId ?? world.newId('i');
  if (!INSTANCE_ID.test(instanceId)) throw new Error(`instance id '${instanceId}' is not like 'i-0123456789abcdef0'`);
  if (world.instances.has(instanceId)) throw new Error(`instance ${instanceId} already exists`);
  world.sync();
  const subnet = world.subnet(spec.subnetId, spec.availabilityZone);
  const privateIp = spec.privateIp ?? world.allocatePrivateIp(subnet);
  for (const ip of [privateIp, ...(spec.secondaryIps ?? [])]) {
    if (world.eniHolding(ip)) throw new Error(`private IP ${ip} is already in use`);
    if (world.subnetHolding(ip) !== subnet) throw new Error(`private IP ${ip} is not in subnet ${subnet.subnetId} (${subnet.cidrBlock}) of instance ${instanceId}`);
  }
  const networkInterfaceId = world.newId('eni');
  const eni: SimNetworkInterface = {
    networkInterfaceId,
    instanceId,
    subnetId: subnet.subnetId,
    primaryIp: privateIp,
    secondaryIps: [],
    macAddress: `0e:${world.hex(10).match(/../g)!.join(':')}`,
  };
  world.enis.set(networkInterfaceId, eni);
  world.bindIp(eni, privateIp, true);
  for (const ip of spec.secondaryIps ?? []) world.bindIp(eni, ip);
  const now = world.now();
  const running = (spec.state ?? 'running') === 'running';
  const image = launchImage(world, spec.instanceType, spec.imageId);
  const rootVolumeId = world.newId('vol');
  const instance: SimInstance = {
    instanceId,
    instanceType: spec.instanceType,
    imageId: image.imageId,
    state: running ? 'running' : 'stopped',
    stateTransitionReason: running ? '' : 'User initiated',
    launchTime: now,
    tags: new Map(Object.entries(spec.tags ?? {})),
    tagHistory: [],
    architecture: image.architecture,
    virtualizationType: image.virtualizationType,
    productCodes: [...image.productCodes],
    platformDetails: image.platformDetails,
    usageOperation: image.usageOperation,
    rootLineage: rootVolumeId,
    availabilityZone: subnet.availabilityZone,
    subnetId: subnet.subnetId,
    vpcId: subnet.vpcId,
    networkInterfaceId,
    securityGroups: [...(spec.securityGroups ?? ['sg-0sim0000000000001'])],
    rootVolumeId,
    rootSource: image.imageId,
    apps: new Map(),
    bootGeneration: 0,
    servicesUp: running,
    statusOkAt: running ? now : null,
    documents: [],
    // A pool node was set up as a managed node before the scenario: registered, Online while it runs.
    agent: { online: running, registeredAt: now, lastPingAt: now, whenOnline: [] },
  };
  instance.tagHistory.push({ at: Number.NEGATIVE_INFINITY, tags: [...instance.tags] });
  world.instances.set(instanceId, instance);
  for (const app of spec.installedApps ?? []) instance.apps.set(app, { installed: true, running: false, startOnBoot: true });
  for (const app of spec.apps ?? []) {
    instance.apps.set(app, { installed: true, running: false, startOnBoot: true });
    if (running) setAppRunning(world, instance, app, true);
  }
  return instance;
}

/** stopped → pending → running (or back to stopped when a start fault is injected). */
export function startInstance(world: World, instance: SimInstance): void {
  world.sync();
  enterState(world, instance, 'pending');
  delete instance.stateReason;
  instance.stateTransitionReason = '';
  const generation = ++instance.bootGeneration;
  instance.transition?.cancel();
  instance.transition = world.clock.after(
    world.latency.ec2.instanceStartMs,
    () => {
      if (instance.bootGeneration !== generation || instance.state !== 'pending') return;
      world.sync();
      if (world.faults.takeStartFault(instance.instanceId)) {
        enterState(world, instance, 'stopped');
        instance.stateReason = { Code: 'Server.InternalError', Message: 'Server.InternalError: Internal error on launch' };
        instance.stateTransitionReason = `Server.InternalError (${new Date(world.now()).toISOString()})`;
        return;
      }
      enterState(world, instance, 'running');
      instance.launchTime = world.now();
      instance.statusOkAt = world.now() + world.latency.ec2.statusChecksInitializingMs;
      bootServices(world, instance, generation);
    },
    `start ${instance.instanceId}`,
  );
}

/** running → stopping → stopped. Applications stop at once. */
export function stopInstance(world: World, instance: SimInstance, reason = 'User initiated'): void {
  world.sync();
  enterState(world, instance, 'stopping');
  instance.stateTransitionReason = `${reason} (${new Date(world.now()).toISOString()})`;
  instance.stateReason = { Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
  const generation = ++instance.bootGeneration;
  shutDownServices(world, instance);
  instance.statusOkAt = null;
  instance.transition?.cancel();
  // A stop stuck in 'stopping' (fault): nothing brings it to stopped but a force stop that works.
  if (world.faults.stuckStopping(instance.instanceId)) {
    delete instance.transition;
    return;
  }
  finishStopping(world, instance, generation);
}

/**
 * StopInstances with Force on an instance already stopping. A normal stop carries on as it was;
 * a stuck one reaches stopped only when the fault lets a force stop work.
 */
export function forceStop(world: World, instance: SimInstance): void {
  const stuck = world.faults.stuckStopping(instance.instanceId);
  if (!stuck?.forceStopWorks) return;
  world.faults.clearStuckStopping(instance.instanceId);
  finishStopping(world, instance, instance.bootGeneration);
}

function finishStopping(world: World, instance: SimInstance, generation: number): void {
  instance.transition = world.clock.after(
    world.latency.ec2.instanceStopMs,
    () => {
      if (instance.bootGeneration !== generation || instance.state !== 'stopping') return;
      world.sync();
      enterState(world, instance, 'stopped');
    },
    `stop ${instance.instanceId}`,
  );
}

/**
 * A reboot's first half: the OS goes down now (applications stop). The EC2 state stays
 * 'running'. Returns the boot generation to hand to finishReboot.
 */
export function beginReboot(world: World, instance: SimInstance): number {
  world.sync();
  const generation = ++instance.bootGeneration;
  shutDownServices(world, instance);
  return generation;
}

/** A reboot's second half: the OS boots and, after bootToServicesMs, its boot-time services start. */
export function finishReboot(world: World, instance: SimInstance, generation: number): void {
  if (instance.bootGeneration !== generation || instance.state !== 'running') return;
  bootServices(world, instance, generation);
}

/**
 * The host fails (A11): its applications and services go down at once; EC2 keeps reporting it
 * running. Status checks are impaired by the caller (a fault), so they stay impaired until cleared.
 */
export function failHost(world: World, instance: SimInstance): void {
  world.sync();
  instance.bootGeneration++;
  shutDownServices(world, instance);
}

function bootServices(world: World, instance: SimInstance, generation: number): void {
  world.clock.after(
    world.latency.ec2.bootToServicesMs,
    () => {
      if (instance.bootGeneration !== generation || instance.state !== 'running') return;
      world.sync();
      instance.servicesUp = true;
      for (const [app, runtime] of instance.apps) {
        if (runtime.installed && runtime.startOnBoot) setAppRunning(world, instance, app, true);
      }
      connectAgent(world, instance, generation);
    },
    `boot ${instance.instanceId}`,
  );
}

/** The SSM Agent, a boot-time service, registers with Systems Manager a while after the OS is up. */
function connectAgent(world: World, instance: SimInstance, generation: number): void {
  world.clock.after(
    world.latency.ssm.agentRegistrationMs,
    () => {
      if (instance.bootGeneration !== generation || instance.state !== 'running') return;
      const agent = instance.agent;
      agent.online = true;
      agent.registeredAt ??= world.now();
      agent.lastPingAt = world.now();
      const waiting = agent.whenOnline.splice(0);
      for (const fn of waiting) fn();
    },
    `ssm agent ${instance.instanceId}`,
  );
}

/** Whether Systems Manager can reach the instance's agent now (PingStatus Online). */
export function agentOnline(world: World, instance: SimInstance): boolean {
  if (instance.agent.online) instance.agent.lastPingAt = world.now();
  return instance.agent.online;
}

function shutDownServices(world: World, instance: SimInstance): void {
  if (instance.agent.online) instance.agent.lastPingAt = world.now();
  instance.agent.online = false;
  instance.servicesUp = false;
  for (const [app, runtime] of instance.apps) {
    if (runtime.running) setAppRunning(world, instance, app, false);
  }
}

export function setAppRunning(world: World, instance: SimInstance, app: string, running: boolean): void {
  world.sync();
  const runtime = instance.apps.get(app) ?? { installed: true, running: false, startOnBoot: false };
  if (runtime.running === running && instance.apps.has(app)) return;
  runtime.running = running;
  instance.apps.set(app, runtime);
  world.appTimeline.push({ at: world.now(), instanceId: instance.instanceId, app, running });
}

export function installApp(world: World, instance: SimInstance, app: string, start: boolean): void {
  const runtime = instance.apps.get(app);
  instance.apps.set(app, { installed: true, running: runtime?.running ?? false, startOnBoot: true });
  if (start) setAppRunning(world, instance, app, true);
}

export function uninstallApp(world: World, instance: SimInstance, app: string): void {
  if (instance.apps.get(app)?.running) setAppRunning(world, instance, app, false);
  instance.apps.delete(app);
}

export function setTags(world: World, instance: SimInstance, change: (tags: Map<string, string>) => void): void {
  change(instance.tags);
  instance.tagHistory.push({ at: world.now(), tags: [...instance.tags] });
}

/** Tags as DescribeInstances shows them now, under the injected visibility lag. */
export function visibleTags(world: World, instance: SimInstance): Array<[string, string]> {
  const lag = world.faults.tagVisibilityLagMs;
  if (lag <= 0) return [...instance.tags];
  const horizon = world.now() - lag;
  let visible = instance.tagHistory[0]!.tags;
  for (const entry of instance.tagHistory) {
    if (entry.at <= horizon) visible = entry.tags;
  }
  return visible;
}

/** Instance status check result now: 'ok', 'initializing', 'impaired' or 'not-applicable' (not running). */
export function statusCheck(world: World, instance: SimInstance): 'ok' | 'initializing' | 'impaired' | 'not-applicable' {
  if (instance.state !== 'running' || instance.statusOkAt === null) return 'not-applicable';
  if (world.faults.isImpaired(instance.instanceId) || instance.rootVolumeId === '') return 'impaired';
  return world.now() >= instance.statusOkAt ? 'ok' : 'initializing';
}

/** Reachable through the network: not cut off by isolating security groups. */
export function isReachable(world: World, instance: SimInstance): boolean {
  if (world.isolatingGroups.size === 0) return true;
  return instance.securityGroups.some((group) => !world.isolatingGroups.has(group));
}
