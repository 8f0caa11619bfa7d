// How long things take in the simulated fleet, in virtual milliseconds. Defaults follow AWS
// documentation where it states a number; where it does not, the value is a stated assumption
// (marked ASSUMPTION) in the range commonly observed. A scenario overrides any part with a
// partial object merged over these defaults.

export type ServiceName = 'ec2' | 'ssm' | 'elbv2' | 'sns' | 'eventbridge' | 'cloudwatch';

export interface LatencyModel {
  /**
   * Virtual cost of one API call (the round trip), charged to the clock before the call takes
   * effect, so that a recovery's duration also reflects how many calls it makes.
   */
  apiCallMs: Record<ServiceName, number>;
  ec2: {
    /** StartInstances: pending → running. */
    instanceStartMs: number;
    /** StopInstances: stopping → stopped. */
    instanceStopMs: number;
    /** After running (or a reboot), until the operating system has booted and boot-time services (applications) are up. */
    bootToServicesMs: number;
    /** After running, status checks report 'initializing' this long before 'ok'. */
    statusChecksInitializingMs: number;
    /** CreateReplaceRootVolumeTask: pending (replacement volume being created). */
    rootVolumePendingMs: number;
    /** CreateReplaceRootVolumeTask: in-progress (detach, attach, reboot) until succeeded. */
    rootVolumeInProgressMs: number;
    /** failing → failed / failing-detached → failed-detached. */
    rootVolumeFailingMs: number;
    /** AssociateAddress: until traffic to the Elastic IP reaches the new instance. */
    elasticIpRemapMs: number;
    /** AssignPrivateIpAddresses: until the moved secondary private IP answers on the new instance. */
    secondaryIpMoveMs: number;
  };
  ssm: {
    /** SendCommand: Pending until the SSM Agent on the instance picks it up (InProgress). */
    deliveryMs: number;
    /** InProgress until the document finishes, unless a document has its own entry below. */
    documentRunMs: number;
    /** Per document name. */
    documentRunMsByName: Record<string, number>;
    /** A command that hangs times out after the document's executionTimeout parameter, else this. */
    defaultExecutionTimeoutMs: number;
    /**
     * After the OS has booted (a start or a reboot), until the SSM Agent has registered and
     * DescribeInstanceInformation reports it Online; SendCommand fails with InvalidInstanceId before.
     */
    agentRegistrationMs: number;
    /** ListCommands shows a new command only this long after SendCommand (eventual consistency). */
    commandListingLagMs: number;
  };
  /** Target group defaults, used when a scenario's target group does not set its own. */
  elbv2: {
    healthCheckIntervalSeconds: number;
    healthyThresholdCount: number;
    unhealthyThresholdCount: number;
    deregistrationDelaySeconds: number;
  };
}

export const DEFAULT_LATENCY: LatencyModel = {
  // ASSUMPTION: AWS publishes no control-plane latency; in-Region API round trips are typically
  // tens to a few hundred ms. EC2 mutating/describe calls are the slowest of these.
  apiCallMs: { ec2: 150, ssm: 80, elbv2: 100, sns: 50, eventbridge: 50, cloudwatch: 80 },
  ec2: {
    // ASSUMPTION: EC2 User Guide, "Amazon EC2 instance state changes" describes pending → running
    // without a duration; EBS-backed Nitro instances typically reach running in 30-60 s.
    instanceStartMs: 40_000,
    // ASSUMPTION: EC2 User Guide, "Stop and start Amazon EC2 instances": stopping → stopped, no
    // duration given; typically well under a minute for a clean OS shutdown.
    instanceStopMs: 30_000,
    // ASSUMPTION: OS boot and service start after the hypervisor reports running (Amazon Linux
    // 2023 boots to multi-user in ~10-20 s).
    bootToServicesMs: 15_000,
    // EC2 User Guide, "Status checks for Amazon EC2 instances": "Amazon EC2 performs automated
    // checks on every running EC2 instance ... Status checks are performed every minute"; a new
    // instance reports 'initializing' until checks have passed. Two check rounds: 120 s.
    statusChecksInitializingMs: 120_000,
    // EC2 User Guide, "Replace a root volume" (task states pending, in-progress, succeeded, ...)
    // and the AWS example that took about 20 s end to end (DESIGN.md §2): 5 s + 15 s.
    rootVolumePendingMs: 5_000,
    rootVolumeInProgressMs: 15_000,
    // ASSUMPTION: not documented; failing states are transient.
    rootVolumeFailingMs: 10_000,
    // ASSUMPTION: EC2 User Guide, "Elastic IP addresses": remapping is immediate at the API; the
    // address routes to the new instance within seconds.
    elasticIpRemapMs: 2_000,
    // ASSUMPTION: as for Elastic IPs; the guest OS must also configure the address.
    secondaryIpMoveMs: 2_000,
  },
  ssm: {
    // ASSUMPTION: SSM Agent long-polls the Systems Manager message service, so delivery to a
    // running, managed instance takes about a second.
    deliveryMs: 1_000,
    // ASSUMPTION: a short provisioning script; scenarios set real durations per document.
    documentRunMs: 5_000,
    documentRunMsByName: {},
    // AWS-RunShellScript's executionTimeout parameter defaults to 3600 s (SSM document reference).
    defaultExecutionTimeoutMs: 3_600_000,
    // AWS Systems Manager API Reference, SendCommand, InvalidInstanceId: "SSM Agent isn't running
    // ... SSM Agent isn't registered with the SSM endpoint"; DescribeInstanceInformation reports
    // PingStatus (Online | ConnectionLost). ASSUMPTION: AWS gives no duration; the agent is a
    // boot-time service that fetches instance-profile credentials from IMDS and then connects to
    // the Systems Manager endpoints: about 10 s after the OS is up.
    agentRegistrationMs: 10_000,
    // AWS Systems Manager API Reference, GetCommandInvocation: "The Run Command API follows an
    // eventual consistency model ... the result of an API command you run that affects your
    // resources might not be immediately visible to all subsequent commands you run."
    // ASSUMPTION: no bound is published; a few seconds, the order seen for other AWS APIs.
    commandListingLagMs: 5_000,
  },
  elbv2: {
    // Elastic Load Balancing, Application Load Balancers guide, "Health checks for your target
    // groups": HealthCheckIntervalSeconds default 30 (instance targets), HealthyThresholdCount
    // default 5, UnhealthyThresholdCount default 2. A new target is 'initial' until it passes.
    healthCheckIntervalSeconds: 30,
    healthyThresholdCount: 5,
    unhealthyThresholdCount: 2,
    // Same guide, "Deregistration delay": default 300 s, range 0-3600 s.
    deregistrationDelaySeconds: 300,
  },
};

export type LatencyOverrides = {
  apiCallMs?: Partial<LatencyModel['apiCallMs']>;
  ec2?: Partial<LatencyModel['ec2']>;
  ssm?: Partial<LatencyModel['ssm']>;
  elbv2?: Partial<LatencyModel['elbv2']>;
};

/** The defaults with a scenario's overrides merged over them (a new object). */
export function resolveLatency(overrides: LatencyOverrides = {}): LatencyModel {
  const merged: LatencyModel = {
    apiCallMs: { ...DEFAULT_LATENCY.apiCallMs, ...overrides.apiCallMs },
    ec2: { ...DEFAULT_LATENCY.ec2, ...overrides.ec2 },
    ssm: {
      ...DEFAULT_LATENCY.ssm,
      ...overrides.ssm,
      documentRunMsByName: { ...DEFAULT_LATENCY.ssm.documentRunMsByName, ...overrides.ssm?.documentRunMsByName },
    },
    elbv2: { ...DEFAULT_LATENCY.elbv2, ...overrides.elbv2 },
  };
  for (const [group, values] of Object.entries(merged)) {
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (typeof value === 'number' && (!Number.isFinite(value) || value < 0)) {
        throw new RangeError(`latency ${group}.${key} must be a finite, non-negative number; got ${value}`);
      }
    }
  }
  return merged;
}

/** Every API call charged the same (e.g. 0 to leave the clock alone). */
export function uniformApiLatency(ms: number): LatencyModel['apiCallMs'] {
  return { ec2: ms, ssm: ms, elbv2: ms, sns: ms, eventbridge: ms, cloudwatch: ms };
}
