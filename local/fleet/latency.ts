// How long things take in the simulated fleet, in virtual milliseconds. Defaults follow AWS
// documentation where it states a number; where it does not, the value is a stated assumption
// (marked ASSUMPTION) in the range commonly observed. A scenario overrides any part with a
// partial object merged over these defaults.

export type ServiceName = 'ec2' | 'ssm' | 'elbv2' | 'sns' | 'eventbridge' | 'cloudwatch' | 's3';

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
    /** Application Load Balancer: RegisterTargets until the target's health checks start. */
    applicationRegistrationMs: number;
    /** Network Load Balancer: RegisterTargets until the target's health checks start. */
    networkRegistrationMs: number;
  };
  /** The control plane's own Lambda functions (the local runtime charges these; the fleet does not). */
  lambda: {
    /** Init phase of a new execution environment, before its first invocation runs (a cold start). */
    coldStartMs: number;
    /** Every invocation, cold or warm: the invoke request until the handler runs. */
    invokeMs: number;
  };
  stepFunctions: {
    /** Each state transition: a state entered (Task, Choice, Wait, Succeed, Fail) and each Task retry. */
    stateTransitionMs: number;
  };
  eventBridge: {
    /** From an event put on the bus (by CloudWatch, EC2 or PutEvents) until a matching rule's target is invoked. */
    deliveryMs: number;
  };
}

export const DEFAULT_LATENCY: LatencyModel = {
  // ASSUMPTION: AWS publishes no control-plane latency; in-Region API round trips are typically
  // tens to a few hundred ms. EC2 mutating/describe calls are the slowest of these.
  // s3: one GetObject of the config document at each Lambda's cold start (ASSUMPTION likewise).
  apiCallMs: { ec2: 150, ssm: 80, elbv2: 100, sns: 50, eventbridge: 50, cloudwatch: 80, s3: 50 },
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
    // The same for both load balancer types: Elastic Load Balancing API Reference,
    // CreateTargetGroup: "If the target group protocol is TCP, TLS, UDP, TCP_UDP, HTTP or HTTPS"
    // HealthCheckIntervalSeconds defaults to 30 s, HealthyThresholdCount to 5 and
    // UnhealthyThresholdCount to 2 (ALB guide, "Health checks for Application Load Balancer
    // target groups", gives the same 30 / 5 / 2 for instance targets). HealthyThresholdCount is
    // "the number of consecutive successful health checks required before considering an
    // unhealthy target healthy": a newly registered target needs one pass (elb.ts).
    healthCheckIntervalSeconds: 30,
    healthyThresholdCount: 5,
    unhealthyThresholdCount: 2,
    // ALB guide, "Edit target group attributes for your Application Load Balancer", Deregistration
    // delay: "By default, Elastic Load Balancing waits 300 seconds"; range 0-3600 s
    // (ModifyTargetGroupAttributes, deregistration_delay.timeout_seconds). NLB: the same default.
    deregistrationDelaySeconds: 300,
    // ASSUMPTION: the ALB guide states no registration time ('initial': "The load balancer is in
    // the process of registering the target"); ALB registration completes within seconds, and the
    // first check comes one interval after it (elb.ts), the slow end of the check phase.
    applicationRegistrationMs: 0,
    // ASSUMPTION: NLB guide, "Health checks for Network Load Balancer target groups": "It can
    // take a few minutes for the registration process to complete and health checks to start."
    // No number is given; 3 minutes is taken for "a few".
    networkRegistrationMs: 180_000,
  },
  lambda: {
    // AWS Lambda Operator Guide, "Lambda execution environments" (Cold starts and latency): "The
    // duration of a cold start varies from under 100 ms to over 1 second"; a warm start reuses an
    // environment that Lambda keeps "for a non-deterministic period of time". Developer Guide,
    // "Understanding the Lambda execution environment lifecycle": the Init phase (extensions,
    // runtime, the function's static code) runs before the first Invoke, limited to 10 s.
    // ASSUMPTION: 500 ms, inside that range, for a Node.js 22 bundle with several SDK clients;
    // failovers are rare, so each step's first invocation in an incident is usually cold.
    coldStartMs: 500,
    // ASSUMPTION: AWS publishes no figure for the invoke path of a warm environment (Step
    // Functions or EventBridge calling Invoke until the handler runs); tens of ms (range 10-50).
    invokeMs: 25,
  },
  stepFunctions: {
    // ASSUMPTION: the Step Functions Developer Guide gives quotas for state transitions but no
    // latency; a Standard workflow's transition is commonly observed at tens of ms (range 20-100).
    stateTransitionMs: 50,
  },
  eventBridge: {
    // AWS Architecture Blog, "Mastering millisecond latency and millions of events: the
    // event-driven architecture behind the Amazon Key Suite" (2026): 80 ms p90 end-to-end on an
    // EventBridge bus. The EventBridge User Guide and FAQ promise only "near-real-time" delivery.
    // ASSUMPTION: 100 ms (range 80 ms p90 to about 0.5 s for events from AWS services).
    deliveryMs: 100,
  },
};

export type LatencyOverrides = {
  apiCallMs?: Partial<LatencyModel['apiCallMs']>;
  ec2?: Partial<LatencyModel['ec2']>;
  ssm?: Partial<LatencyModel['ssm']>;
  elbv2?: Partial<LatencyModel['elbv2']>;
  lambda?: Partial<LatencyModel['lambda']>;
  stepFunctions?: Partial<LatencyModel['stepFunctions']>;
  eventBridge?: Partial<LatencyModel['eventBridge']>;
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
    lambda: { ...DEFAULT_LATENCY.lambda, ...overrides.lambda },
    stepFunctions: { ...DEFAULT_LATENCY.stepFunctions, ...overrides.stepFunctions },
    eventBridge: { ...DEFAULT_LATENCY.eventBridge, ...overrides.eventBridge },
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
  return { ec2: ms, ssm: ms, elbv2: ms, sns: ms, eventbridge: ms, cloudwatch: ms, s3: ms };
}
