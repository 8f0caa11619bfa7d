// What the latency model (local/fleet/latency.ts) says the AWS side needs at the least: the
// durations no control plane can remove, and the modelled alternatives to ours. Every result
// carries its formula with the numbers filled in, so the report shows how it was computed.
import type { LatencyModel } from '../local/fleet/latency.ts';
import type { FailoverCase } from './scenarios.ts';

export interface Term {
  /** What the duration is, e.g. "health checks 30 s × 5". */
  label: string;
  ms: number;
}

export interface Modelled {
  ms: number;
  terms: Term[];
  /** "a 1 s + b 5 s = 6 s" */
  formula: string;
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : Number(s.toFixed(2))} s`;
}

export function sum(terms: Term[]): Modelled {
  const ms = terms.reduce((n, t) => n + t.ms, 0);
  const parts = terms.map((t) => `${t.label} ${seconds(t.ms)}`);
  return { ms, terms, formula: `${parts.join(' + ')} = ${seconds(ms)}` };
}

/**
 * Registration until 'healthy' in the fleet's ELB model (an application load balancer): checks
 * every interval from registration; the first passing check is the first at or after the
 * application is up (`readyMs` after registration). A new target is healthy after that one
 * pass ("Health checks for Application Load Balancer target groups"), unless UnhealthyThresholdCount
 * checks failed before it: then it was unhealthy and needs HealthyThresholdCount passes.
 */
export function healthCheckMs(model: LatencyModel, readyMs: number): Term {
  const { healthCheckIntervalSeconds: intervalSeconds, healthyThresholdCount: healthy, unhealthyThresholdCount: unhealthy } = model.elbv2;
  const interval = intervalSeconds * 1000;
  const firstPass = Math.max(1, Math.ceil(readyMs / interval));
  const failed = firstPass - 1;
  if (failed < unhealthy) {
    const label = failed === 0 ? `health check (one pass, ${intervalSeconds} s)` : `health checks (${intervalSeconds} s × (1 + ${failed} failing while the app starts))`;
    return { label, ms: firstPass * interval };
  }
  return {
    label: `health checks (${intervalSeconds} s × (${failed} failing while the app starts, unhealthy, then ${healthy} passing))`,
    ms: (firstPass + healthy - 1) * interval,
  };
}

/** One SSM document from SendCommand to Success: delivery to the agent, then the run. */
export function documentTerms(model: LatencyModel, documents: readonly string[]): Term[] {
  return documents.flatMap((name) => [
    { label: 'SSM delivery', ms: model.ssm.deliveryMs },
    { label: `document run (${name})`, ms: model.ssm.documentRunMsByName[name] ?? model.ssm.documentRunMs },
  ]);
}

/**
 * The AWS durations one of our failovers cannot avoid, in the order they must happen:
 * provisioning (start a stopped node; documents; or the root-volume swap), then health checks
 * from registration. Fencing the old host (StopInstances until stopped) runs beside them (C9),
 * but the address moves only once it is stopped (C1, no split brain): when the stop takes
 * longer than provisioning and health checks (health checks every 5 s), the stop is the
 * critical path, and the minimum is the stop (see `withFence`). The RTO ends when the address
 * move is issued, so the address's own propagation is not in it either. The control plane's
 * own services (EventBridge delivery, Lambda cold and warm starts, Step Functions state
 * transitions: the model's eventBridge, lambda and stepFunctions groups) are not AWS's work on
 * the failover itself: they are control-plane overhead, so they are left out here too.
 */
export function ourMinimum(model: LatencyModel, c: FailoverCase, documents: readonly string[]): Modelled {
  const terms: Term[] = [];
  if (c.poolNodeState === 'stopped') terms.push({ label: 'instance start', ms: model.ec2.instanceStartMs });
  if (c.method === 'boot-volume') {
    terms.push({ label: 'root volume pending', ms: model.ec2.rootVolumePendingMs }, { label: 'root volume in-progress', ms: model.ec2.rootVolumeInProgressMs });
  }
  terms.push(...documentTerms(model, documents));
  // boot-volume: the application starts at boot, bootToServicesMs after the swap; otherwise
  // the provisioning document started it.
  terms.push(healthCheckMs(model, c.method === 'boot-volume' ? model.ec2.bootToServicesMs : 0));
  return sum(terms);
}

/**
 * The minimum with the failed host's fence: max(provisioning + health checks, the stop). The
 * stop cannot start before the alarm, and the address cannot move before it has ended.
 */
export function withFence(model: LatencyModel, path: Modelled): Modelled & { fenceMs: number } {
  const fenceMs = model.ec2.instanceStopMs;
  if (fenceMs <= path.ms) return { ...path, fenceMs };
  return { ms: fenceMs, terms: path.terms, fenceMs, formula: `max(${path.formula}, failed host's stop ${seconds(fenceMs)}) = ${seconds(fenceMs)}` };
}

export interface Alternative {
  label: string;
  modelled: Modelled;
  /** How it is modelled, in words. */
  assumption: string;
}

/**
 * The usual alternatives, modelled from the same numbers, each from detection until the new
 * instance is healthy behind the load balancer (no address to move: traffic goes through it).
 * `installDocument`: the install script our install method runs, reused as the launched
 * instance's user-data install.
 */
export function alternatives(model: LatencyModel, installDocument: string): Alternative[] {
  const installMs = model.ssm.documentRunMsByName[installDocument] ?? model.ssm.documentRunMs;
  return [
    {
      label: '(a) replace: launch a new instance from an AMI (Auto Scaling)',
      assumption:
        'RunInstances, pending → running (the model has one instanceStartMs for a launch and a start), registered when running; the OS boots and user data runs the same install script; then health checks',
      modelled: sum([
        { label: 'RunInstances call', ms: model.apiCallMs.ec2 },
        { label: 'instance start', ms: model.ec2.instanceStartMs },
        healthCheckMs(model, model.ec2.bootToServicesMs + installMs),
      ]),
    },
    {
      label: '(b) warm pool: start a stopped, pre-installed instance',
      assumption: 'StartInstances, pending → running, registered when running; the application starts at boot; then health checks',
      modelled: sum([
        { label: 'StartInstances call', ms: model.apiCallMs.ec2 },
        { label: 'instance start', ms: model.ec2.instanceStartMs },
        healthCheckMs(model, model.ec2.bootToServicesMs),
      ]),
    },
    {
      label: '(c) hot standby per application',
      assumption: 'running with the application up but not registered (so it takes no traffic); failover registers it and waits for health checks',
      modelled: sum([{ label: 'RegisterTargets call', ms: model.apiCallMs.elbv2 }, healthCheckMs(model, 0)]),
    },
  ];
}

export interface StandbyCost {
  applications: number;
  /** Running instances kept idle. */
  hotStandby: number;
  /** Stopped instances kept (EBS volumes billed, no instance-hours). */
  warmPoolStopped: number;
  autoScaling: number;
  /** Our shared pool: running nodes sized for this many concurrent failovers. */
  ours: number;
}

/**
 * Instances kept for N applications. Ours: a shared pool sized for `concurrent` simultaneous
 * failovers (a pool node serves any application whose requirements it meets); hot standby: one
 * running instance per application; warm pool: one stopped instance per application;
 * launching on demand keeps none.
 */
export function standbyCost(applications: number, concurrent: number): StandbyCost {
  return { applications, hotStandby: applications, warmPoolStopped: applications, autoScaling: 0, ours: concurrent };
}

export const HOURS_PER_MONTH = 730;

export interface Bucket {
  capacity: number;
  refillPerSecond: number;
}

/**
 * EC2's request token bucket for non-mutating actions, as the EC2 API guide ("Request
 * throttling for the Amazon EC2 API") gives it for DescribeHosts: 100 tokens, 20 per second.
 * Each API has its own bucket; an account's actual limits may differ.
 */
export const EC2_NON_MUTATING_BUCKET: Bucket = { capacity: 100, refillPerSecond: 20 };

/** Requests a token bucket would refuse (first attempts only; a refused request is not replayed). */
export function throttledRequests(timesMs: readonly number[], bucket: Bucket): number {
  const sorted = [...timesMs].sort((a, b) => a - b);
  let tokens = bucket.capacity;
  let last = sorted[0] ?? 0;
  let refused = 0;
  for (const at of sorted) {
    tokens = Math.min(bucket.capacity, tokens + ((at - last) / 1000) * bucket.refillPerSecond);
    last = at;
    if (tokens >= 1) tokens -= 1;
    else refused++;
  }
  return refused;
}

/** The most requests in any window of `windowMs` (sliding). */
export function peakInWindow(timesMs: readonly number[], windowMs: number): number {
  const sorted = [...timesMs].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
