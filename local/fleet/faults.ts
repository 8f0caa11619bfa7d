// Fault injection for tests and scenarios: things that go wrong in AWS, on demand.
import type { ServiceName } from './latency.ts';
import type { ServiceEvent } from './model.ts';

/**
 * What happens to a service event on its way to EventBridge: EventBridge delivers events from
 * AWS services "on a best effort basis" (the Systems Manager event reference), at least once,
 * not necessarily in order.
 */
interface EventFault {
  match: (event: ServiceEvent) => boolean;
  remaining: number;
  copies: number;
  delayMs: number;
}

/** A request token bucket: `capacity` tokens, refilled at `refillPerSecond`. */
export interface TokenBucket {
  capacity: number;
  refillPerSecond: number;
}

/**
 * EC2's request rate limits, per API action and account (EC2 Developer Guide, "Request
 * throttling for the Amazon EC2 API": "each API is evaluated individually ... Each request that
 * you make removes one token from the API's bucket"; DescribeHosts, a non-mutating action: 100
 * tokens, 20 per second). ASSUMPTION: mutating actions 200 tokens, 5 per second, the guide's
 * table for "mutating actions" as remembered, not re-read here; an account's limits may differ.
 */
export const EC2_REQUEST_BUCKETS: { nonMutating: TokenBucket; mutating: TokenBucket } = {
  nonMutating: { capacity: 100, refillPerSecond: 20 },
  mutating: { capacity: 200, refillPerSecond: 5 },
};

const NON_MUTATING = /^(Describe|Get|List)/;

export type CommandFaultMode = 'fail' | 'hang';

/** EC2 errors StopInstances answers with ("Error codes for the Amazon EC2 API"). */
export const STOP_REFUSALS = ['UnauthorizedOperation', 'UnsupportedOperation', 'IncorrectInstanceState'] as const;
export type StopRefusal = (typeof STOP_REFUSALS)[number];
/** EC2 errors StartInstances answers with. */
export const START_REFUSALS = ['InsufficientInstanceCapacity', 'UnauthorizedOperation'] as const;
export type StartRefusal = (typeof START_REFUSALS)[number];

interface CommandFault {
  documentName: string | undefined;
  mode: CommandFaultMode;
  message: string;
  remaining: number;
}

interface Countdown {
  remaining: number;
}

export class FaultInjector {
  private readonly throttles = new Map<string, { remaining: number; errorName: string | undefined }>();
  private readonly startFaults = new Map<string, Countdown>();
  private readonly stuckStops = new Map<string, { forceStopWorks: boolean }>();
  private readonly stopRefusals = new Map<string, Countdown & { errorName: StopRefusal }>();
  private readonly startRefusals = new Map<string, Countdown & { errorName: StartRefusal }>();
  private readonly commandFaults = new Map<string, CommandFault[]>();
  private readonly rootVolumeFaults = new Map<string, Countdown & { detached: boolean }>();
  private readonly healthFaults = new Map<string, Set<string> | 'all'>();
  private readonly impairedInstances = new Set<string>();
  private readonly healthyLate = new Map<string, number>();
  private readonly eventFaults: EventFault[] = [];
  /** Per EC2 action, when request limits are enforced: tokens left and when last refilled. */
  private ec2Buckets: Map<string, { tokens: number; atMs: number }> | null = null;
  private readonly refused = new Map<string, number>();
  /** DescribeInstances shows tags as they were this long ago (eventual consistency after CreateTags/DeleteTags). */
  tagVisibilityLagMs = 0;
  /** GetCommandInvocation answers InvocationDoesNotExist for this long after SendCommand. */
  invocationVisibilityLagMs = 0;

  /** `beforeChange` brings time-dependent state (target health) up to now before a fault changes the rules. */
  constructor(private readonly beforeChange: () => void = () => {}) {}

  /** The next `count` calls of `command` (or of every command of the service: '*') throw a throttling error. */
  throttle(service: ServiceName, command: string, count = 1, errorName?: string): this {
    this.throttles.set(`${service}:${command}`, { remaining: count, errorName });
    return this;
  }

  /** Consumes one throttled call if one is pending: the error name to throw (undefined: the service's usual). */
  takeThrottle(service: ServiceName, command: string): { errorName: string | undefined } | null {
    for (const key of [`${service}:${command}`, `${service}:*`]) {
      const entry = this.throttles.get(key);
      if (entry && entry.remaining > 0) {
        entry.remaining -= 1;
        if (entry.remaining === 0) this.throttles.delete(key);
        return { errorName: entry.errorName };
      }
    }
    return null;
  }

  /** From now on, EC2 requests take a token from their action's bucket (EC2_REQUEST_BUCKETS); none left: RequestLimitExceeded. */
  enforceEc2RequestLimits(): this {
    this.ec2Buckets ??= new Map();
    return this;
  }

  /** Whether an EC2 request of `action` at `nowMs` gets a token (always, unless limits are enforced). */
  takeEc2RequestToken(action: string, nowMs: number): boolean {
    if (!this.ec2Buckets) return true;
    const bucket = NON_MUTATING.test(action) ? EC2_REQUEST_BUCKETS.nonMutating : EC2_REQUEST_BUCKETS.mutating;
    const state = this.ec2Buckets.get(action) ?? { tokens: bucket.capacity, atMs: nowMs };
    state.tokens = Math.min(bucket.capacity, state.tokens + ((nowMs - state.atMs) / 1000) * bucket.refillPerSecond);
    state.atMs = nowMs;
    this.ec2Buckets.set(action, state);
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return true;
    }
    this.refused.set(action, (this.refused.get(action) ?? 0) + 1);
    return false;
  }

  /** EC2 requests refused for want of a token, per action. */
  refusedRequests(): Record<string, number> {
    return Object.fromEntries(this.refused);
  }

  /** The next `times` events `match` selects are lost. */
  loseEvents(match: (event: ServiceEvent) => boolean, times = 1): this {
    this.eventFaults.push({ match, remaining: times, copies: 0, delayMs: 0 });
    return this;
  }

  /** The next `times` events `match` selects are delivered `copies` times (at least once: duplicates). */
  duplicateEvents(match: (event: ServiceEvent) => boolean, copies = 2, times = 1): this {
    this.eventFaults.push({ match, remaining: times, copies, delayMs: 0 });
    return this;
  }

  /** The next `times` events `match` selects reach the bus `delayMs` late. */
  delayEvents(match: (event: ServiceEvent) => boolean, delayMs: number, times = 1): this {
    this.eventFaults.push({ match, remaining: times, copies: 1, delayMs });
    return this;
  }

  /** How many copies of `event` reach the bus (0: lost), and how late. */
  eventFate(event: ServiceEvent): { copies: number; delayMs: number } {
    const fault = this.eventFaults.find((f) => f.remaining > 0 && f.match(event));
    if (!fault) return { copies: 1, delayMs: 0 };
    fault.remaining -= 1;
    return { copies: fault.copies, delayMs: fault.delayMs };
  }

  /** The instance goes pending on StartInstances, then back to stopped (Server.InternalError). */
  instanceWontStart(instanceId: string, times = Number.POSITIVE_INFINITY): this {
    this.startFaults.set(instanceId, { remaining: times });
    return this;
  }

  takeStartFault(instanceId: string): boolean {
    return take(this.startFaults, instanceId);
  }

  /**
   * StopInstances is accepted but the instance stays in 'stopping' (StopInstances API reference:
   * "If your instance appears stuck in the stopping state, there might be an issue with the
   * underlying host computer"). A later StopInstances with Force gets it to stopped only when
   * `forceStopWorks` ("Methods for stopping an instance": force stop "attempts a default stop
   * first; if instance fails to stop, then forcibly stops the instance"); otherwise it stays stuck.
   */
  instanceStuckStopping(instanceId: string, options: { forceStopWorks?: boolean } = {}): this {
    this.stuckStops.set(instanceId, { forceStopWorks: options.forceStopWorks ?? false });
    return this;
  }

  /** The stop of this instance hangs in 'stopping' (undefined: it does not). */
  stuckStopping(instanceId: string): { forceStopWorks: boolean } | undefined {
    return this.stuckStops.get(instanceId);
  }

  /** A force stop got the instance out of 'stopping': its stops work again. */
  clearStuckStopping(instanceId: string): void {
    this.stuckStops.delete(instanceId);
  }

  /** StopInstances on the instance answers with this EC2 error (e.g. UnauthorizedOperation, UnsupportedOperation, IncorrectInstanceState). */
  stopRefused(instanceId: string, errorName: StopRefusal = 'UnauthorizedOperation', times = Number.POSITIVE_INFINITY): this {
    this.stopRefusals.set(instanceId, { errorName, remaining: times });
    return this;
  }

  takeStopRefusal(instanceId: string): StopRefusal | null {
    const entry = this.stopRefusals.get(instanceId);
    return entry && take(this.stopRefusals, instanceId) ? entry.errorName : null;
  }

  /** StartInstances on the instance answers with this EC2 error (default InsufficientInstanceCapacity). */
  startRefused(instanceId: string, errorName: StartRefusal = 'InsufficientInstanceCapacity', times = Number.POSITIVE_INFINITY): this {
    this.startRefusals.set(instanceId, { errorName, remaining: times });
    return this;
  }

  takeStartRefusal(instanceId: string): StartRefusal | null {
    const entry = this.startRefusals.get(instanceId);
    return entry && take(this.startRefusals, instanceId) ? entry.errorName : null;
  }

  /** SSM commands on the instance (optionally only this document) fail, or hang until they time out. */
  commandFails(
    instanceId: string,
    options: { documentName?: string; mode?: CommandFaultMode; times?: number; message?: string } = {},
  ): this {
    const list = this.commandFaults.get(instanceId) ?? [];
    list.push({
      documentName: options.documentName,
      mode: options.mode ?? 'fail',
      message: options.message ?? 'simulated failure (fault injected)',
      remaining: options.times ?? Number.POSITIVE_INFINITY,
    });
    this.commandFaults.set(instanceId, list);
    return this;
  }

  takeCommandFault(instanceId: string, documentName: string): { mode: CommandFaultMode; message: string } | null {
    const list = this.commandFaults.get(instanceId) ?? [];
    const fault = list.find((f) => f.remaining > 0 && (f.documentName === undefined || f.documentName === documentName));
    if (!fault) return null;
    fault.remaining -= 1;
    return { mode: fault.mode, message: fault.message };
  }

  /** Root volume replacement tasks on the instance fail (failing → failed), or lose the volume (→ failed-detached). */
  rootVolumeFails(instanceId: string, options: { detached?: boolean; times?: number } = {}): this {
    this.rootVolumeFaults.set(instanceId, { detached: options.detached ?? false, remaining: options.times ?? Number.POSITIVE_INFINITY });
    return this;
  }

  takeRootVolumeFault(instanceId: string): { detached: boolean } | null {
    const entry = this.rootVolumeFaults.get(instanceId);
    if (!entry || !take(this.rootVolumeFaults, instanceId)) return null;
    return { detached: entry.detached };
  }

  /** Every way of provisioning the node fails: it will not start, its commands and root volume swaps fail. */
  failProvisioning(instanceId: string): this {
    return this.instanceWontStart(instanceId).commandFails(instanceId).rootVolumeFails(instanceId);
  }

  /** Load balancer health checks of the instance fail (in one target group, or all) until cleared. */
  healthChecksFail(instanceId: string, targetGroupArn?: string): this {
    this.beforeChange();
    const current = this.healthFaults.get(instanceId);
    if (targetGroupArn === undefined) this.healthFaults.set(instanceId, 'all');
    else if (current !== 'all') this.healthFaults.set(instanceId, new Set([...(current ?? []), targetGroupArn]));
    return this;
  }

  clearHealthChecks(instanceId: string): this {
    this.beforeChange();
    this.healthFaults.delete(instanceId);
    return this;
  }

  healthCheckFails(instanceId: string, targetGroupArn: string): boolean {
    const entry = this.healthFaults.get(instanceId);
    return entry === 'all' || (entry?.has(targetGroupArn) ?? false);
  }

  /** EC2 instance status checks report impaired (or, with false, ok again). */
  statusChecksImpaired(instanceId: string, impaired = true): this {
    this.beforeChange();
    if (impaired) this.impairedInstances.add(instanceId);
    else this.impairedInstances.delete(instanceId);
    return this;
  }

  isImpaired(instanceId: string): boolean {
    return this.impairedInstances.has(instanceId);
  }

  /** DescribeInstances returns tags as they were until `ms` after a change (eventual consistency). */
  tagsVisibleAfter(ms: number): this {
    this.tagVisibilityLagMs = ms;
    return this;
  }

  /** GetCommandInvocation throws InvocationDoesNotExist for `ms` after SendCommand. */
  invocationsVisibleAfter(ms: number): this {
    this.invocationVisibilityLagMs = ms;
    return this;
  }

  /** A target on this instance keeps reporting 'initial' for `ms` after it has become healthy. */
  targetHealthyLate(instanceId: string, ms: number): this {
    this.healthyLate.set(instanceId, ms);
    return this;
  }

  healthyLateMs(instanceId: string): number {
    return this.healthyLate.get(instanceId) ?? 0;
  }
}

function take(map: Map<string, Countdown>, key: string): boolean {
  const entry = map.get(key);
  if (!entry || entry.remaining <= 0) return false;
  entry.remaining -= 1;
  if (entry.remaining <= 0) map.delete(key);
  return true;
}
