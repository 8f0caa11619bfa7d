// The one configuration file a user writes: pools, applications and alerts.
// Validated at synth (lib/), at cold start (functions/) and by the local runtime (local/).
import { z } from 'zod';
import { CONTROL_TAG_KEY_PATTERNS, MANAGED_TAG_KEY, isControlTagKey } from './tags.ts';
import { alarmNameOfArn, USER_ALARM_PREFIX } from './detection.ts';

export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const TARGET_GROUP_ARN =
  /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/;
const LOAD_BALANCER_ARN =
  /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer\/(app|net)\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/;
const ALARM_ARN = /^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[^\s]{1,255}$/;
const SSM_DOCUMENT = /^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:document\/)?[A-Za-z0-9_.\-]{3,128}$/;
const NAME = /^[a-z][a-z0-9-]{0,39}$/;

const name = (what: string) =>
  z.string().regex(NAME, `${what} must be 1-40 characters: lower-case letters, digits and '-', starting with a letter`);
const instanceId = z.string().regex(INSTANCE_ID, "expected an EC2 instance id like 'i-0123456789abcdef0'");
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

/**
 * AWS documents whose `executionTimeout` parameter bounds the run (1-172800 s, default 3600):
 * a document's `timeoutSeconds` is passed as it.
 */
export const EXECUTION_TIMEOUT_DOCUMENTS: ReadonlySet<string> = new Set(['AWS-RunShellScript', 'AWS-RunPowerShellScript']);

/** A document's name without the ARN around it. */
export function documentBaseName(name: string): string {
  return name.replace(/^arn:[^:]+:ssm:[^:]*:\d*:document\//, '');
}

export const SsmDocumentSchema = z
  .strictObject({
    /** SSM document name or ARN, e.g. AWS-RunShellScript. */
    name: z.string().regex(SSM_DOCUMENT, "expected an SSM document name (e.g. 'AWS-RunShellScript') or document ARN"),
    /** Document parameters, as SSM SendCommand takes them. */
    parameters: z.record(z.string(), z.array(z.string())).default({}),
    /**
     * Seconds the command may run. AWS-RunShellScript / AWS-RunPowerShellScript: sent as their
     * executionTimeout parameter (the agent stops the run). Every document: the workflow cancels
     * a command still running this long after delivery (plus a grace) and counts it as failed.
     */
    timeoutSeconds: seconds(30, 172_800).default(600),
  })
  .superRefine((document, ctx) => {
    if (EXECUTION_TIMEOUT_DOCUMENTS.has(documentBaseName(document.name)) && 'executionTimeout' in document.parameters) {
      ctx.addIssue({
        code: 'custom',
        path: ['parameters', 'executionTimeout'],
        message: `remove it and set timeoutSeconds instead: the workflow passes timeoutSeconds as ${documentBaseName(document.name)}'s executionTimeout`,
      });
    }
  });
export type SsmDocument = z.infer<typeof SsmDocumentSchema>;

export const PoolSchema = z.strictObject({
  name: name('pool name'),
  /** The tag that marks an instance as a member of this pool. */
  tag: z.strictObject({
    key: z
      .string()
      .min(1)
      .max(128)
      // IAM grants on the pool tag and lets the workflow write only its own keys: the two must differ.
      .refine((key) => !isControlTagKey(key) && key !== MANAGED_TAG_KEY, {
        message: `a key the control plane writes itself (${CONTROL_TAG_KEY_PATTERNS.join(', ')}) or ${MANAGED_TAG_KEY} cannot mark pool members; use another key, e.g. rapid-failover:pool`,
      }),
    value: z.string().min(1).max(256),
  }),
  /** 'failover' nodes are tried first; 'backup' nodes take over when the failover tier cannot (B2). */
  tier: z.enum(['failover', 'backup']).default('failover'),
  /**
   * Virtual nodes (B1): a member may host several failed-over applications at once,
   * up to this capacity. Absent: each member hosts one application.
   */
  virtualNodes: z
    .strictObject({
      maxApplications: z.number().int().min(2).max(64),
      /** Share of the instance's vCPU and memory kept for the host itself. */
      reservedFraction: z.number().min(0).max(0.9).default(0.1),
    })
    .optional(),
});
export type Pool = z.infer<typeof PoolSchema>;

export const HardwareRequirementsSchema = z.strictObject({
  minVcpu: z.number().int().min(1).default(1),
  minMemoryMiB: z.number().int().min(128).default(512),
  architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
  /** e.g. ["m7i", "c7i"]; absent: any family. */
  instanceFamilies: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/, "expected an instance family like 'm7i'")).optional(),
  /** e.g. ["m7i.xlarge"]; absent: any type. */
  instanceTypes: z.array(z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "expected an instance type like 'm7i.xlarge'")).optional(),
  features: z.array(z.enum(['gpu', 'nvme', 'inferentia', 'efa'])).default([]),
});
export type HardwareRequirements = z.infer<typeof HardwareRequirementsSchema>;

const provisioningTimeout = seconds(30, 7_200);

/**
 * A customer managed KMS key that encrypts EBS volumes provisioning creates or attaches: the
 * AMI's snapshots (boot-volume), the volumes of a stopped node it starts. EC2 uses the key on the
 * workflow's behalf, so the workflow needs kms:CreateGrant and the key's use through EC2
 * ("Requirements for Amazon EBS encryption", Amazon EBS User Guide); lib/permissions.ts grants them.
 */
const kmsKeyArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/,
    'expected a KMS key ARN like arn:aws:kms:<region>:<account>:key/<key id> (not an alias: IAM grants on key ARNs)',
  )
  .optional();

/**
 * A snapshot cannot be the boot image: CreateReplaceRootVolumeTask (API reference) takes a
 * snapshot only when it is "a snapshot that you previously created from the original root
 * volume", so another application's snapshot fails on every pool node. An AMI registered from
 * it can go onto any node whose architecture, virtualization type, product codes and billing
 * match (checked in eligibility).
 */
const SNAPSHOT_REFUSED =
  'a snapshot cannot be swapped onto a pool node: CreateReplaceRootVolumeTask takes a snapshot only onto the root volume it was taken from (the same lineage), ' +
  'so it would fail on every node but that one. Register an AMI from it (aws ec2 register-image --name <name> --architecture <x86_64|arm64> ' +
  '--virtualization-type hvm --ena-support --root-device-name /dev/xvda --block-device-mappings "DeviceName=/dev/xvda,Ebs={SnapshotId=<snap-id>}") ' +
  'and give its id as provisioning.source.imageId';

/** The boot image swapped in with CreateReplaceRootVolumeTask: an AMI (snapshotId is refused with the reason, see above). */
const BootImageSourceSchema = z
  .strictObject({
    imageId: z.string().regex(/^ami-[0-9a-f]{8,17}$/, "expected an AMI id like 'ami-0123456789abcdef0'").optional(),
    /** Refused (SNAPSHOT_REFUSED); accepted by the schema only so that the error names the field and the fix. */
    snapshotId: z.string().optional(),
  })
  .superRefine((source, ctx) => {
    if (source.snapshotId !== undefined) ctx.addIssue({ code: 'custom', message: SNAPSHOT_REFUSED, path: ['snapshotId'] });
    else if (source.imageId === undefined) ctx.addIssue({ code: 'custom', message: "required: the AMI to reboot the node from, like 'ami-0123456789abcdef0'", path: ['imageId'] });
  })
  .transform((source) => ({ imageId: source.imageId! }));

export const ProvisioningSchema = z.discriminatedUnion('method', [
  z.strictObject({
    /** A2: the node already has the application; start it (and the instance if stopped). */
    method: z.literal('activate'),
    documents: z.array(SsmDocumentSchema).default([]),
    timeoutSeconds: provisioningTimeout.default(600),
    kmsKeyArn,
  }),
  z.strictObject({
    /** A3: install the application with SSM Run Command documents, in order. */
    method: z.literal('install'),
    documents: z.array(SsmDocumentSchema).min(1, 'install needs at least one SSM document'),
    timeoutSeconds: provisioningTimeout.default(1_800),
    kmsKeyArn,
  }),
  z.strictObject({
    /** A4: reboot the node from another boot image (CreateReplaceRootVolumeTask). */
    method: z.literal('boot-volume'),
    source: BootImageSourceSchema,
    deleteReplacedRootVolume: z.boolean().default(false),
    /** Documents run after the swap (configuration the image does not carry). */
    documents: z.array(SsmDocumentSchema).default([]),
    timeoutSeconds: provisioningTimeout.default(900),
    kmsKeyArn,
  }),
]);
export type Provisioning = z.infer<typeof ProvisioningSchema>;

export const LogicalAddressSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('elastic-ip'),
    allocationId: z.string().regex(/^eipalloc-[0-9a-f]{8,17}$/, "expected an allocation id like 'eipalloc-0123456789abcdef0'"),
  }),
  z.strictObject({
    kind: z.literal('secondary-private-ip'),
    ipAddress: z.ipv4('expected an IPv4 address like 10.0.1.50'),
  }),
]);
export type LogicalAddress = z.infer<typeof LogicalAddressSchema>;

export const ClusterSchema = z.strictObject({
  targetGroupArns: z
    .array(z.string().regex(TARGET_GROUP_ARN, 'expected a target group ARN like arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex>'))
    .min(1, 'at least one target group is needed'),
  /** Port to register; absent: the target group's port. */
  port: z.number().int().min(1).max(65_535).optional(),
  /** C1: the address clients use, kept across failover. */
  logicalAddress: LogicalAddressSchema.optional(),
  /**
   * C9: a security group with no rules, in the application's VPC. A failed old host that cannot be
   * stopped is isolated: its security groups are replaced by this one, so it can open no new
   * connection and accept none. Absent: such a host is only taken out of the target groups and off
   * the logical address, and the alert says so.
   */
  isolationSecurityGroupId: z.string().regex(/^sg-[0-9a-f]{8,17}$/, "expected a security group id like 'sg-0123456789abcdef0'").optional(),
  /**
   * A9: an SSM document that succeeds once the application answers on the new node (e.g. a
   * local HTTP probe). Run after the run documents and retried until it succeeds; the node is
   * registered only then, so it never fails its initial health checks while still starting.
   * Its timeoutSeconds bounds the wait for readiness, all attempts together.
   */
  readinessCommand: SsmDocumentSchema.optional(),
});

const COMPARISONS = [
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'GreaterThanOrEqualToThreshold',
] as const;

export const PerformanceDetectionSchema = z
  .strictObject({
    namespace: z.string().min(1).max(255),
    metricName: z.string().min(1).max(255),
    dimensions: z.record(z.string(), z.string()).default({}),
    statistic: z.enum(['Average', 'Minimum', 'Maximum', 'Sum', 'SampleCount', 'p50', 'p90', 'p95', 'p99']).default('Average'),
    threshold: z.number(),
    /** How the metric compares to the threshold when performance is *bad*. */
    comparison: z.enum(COMPARISONS),
    /** 10, 20, 30 (high resolution) or a multiple of 60, as CloudWatch allows. */
    periodSeconds: z
      .number()
      .int()
      .refine((p) => [10, 20, 30].includes(p) || (p >= 60 && p % 60 === 0 && p <= 86_400), {
        message: 'expected 10, 20, 30 or a multiple of 60 up to 86400',
      })
      .default(60),
    /** N: datapoints looked at. */
    evaluationPeriods: z.number().int().min(1).max(100).default(5),
    /** M of N: datapoints that must be bad (A10: "below threshold for at least an interval"). Default: min(3, N). */
    datapointsToAlarm: z.number().int().min(1).max(100).optional(),
  })
  .refine((p) => p.datapointsToAlarm === undefined || p.datapointsToAlarm <= p.evaluationPeriods, {
    message: 'datapointsToAlarm must not exceed evaluationPeriods',
    path: ['datapointsToAlarm'],
  })
  .transform((p) => ({ ...p, datapointsToAlarm: p.datapointsToAlarm ?? Math.min(3, p.evaluationPeriods) }));
export type PerformanceDetection = z.infer<typeof PerformanceDetectionSchema>;

export const DetectionSchema = z.strictObject({
  performance: PerformanceDetectionSchema.optional(),
  failure: z
    .strictObject({
      /** StatusCheckFailed on the serving instance. */
      statusChecks: z.boolean().default(true),
      /**
       * UnHealthyHostCount on the application's target groups. CloudWatch publishes it per
       * load balancer and target group, so the load balancer is needed to watch it.
       */
      targetHealth: z
        .strictObject({
          loadBalancerArn: z.string().regex(LOAD_BALANCER_ARN, 'expected a load balancer ARN like arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<16 hex>'),
        })
        .optional(),
      /**
       * Alarms the user already has (process monitors, synthetic canaries...), named
       * `failover-trigger-…` (USER_ALARM_PREFIX): the stack's rule matches them by that prefix.
       */
      alarmArns: z
        .array(
          z
            .string()
            .regex(ALARM_ARN, 'expected a CloudWatch alarm ARN like arn:aws:cloudwatch:<region>:<account>:alarm:<name>')
            .refine((arn) => alarmNameOfArn(arn).startsWith(USER_ALARM_PREFIX), {
              message:
                `the alarm's name must start with '${USER_ALARM_PREFIX}': the stack's EventBridge rule matches the applications' own alarms by this name prefix ` +
                '(one event pattern for any number of applications); create the alarm again under such a name (CloudWatch cannot rename an alarm)',
            }),
        )
        .default([]),
    })
    .prefault({}),
});

export const PlacementSchema = z
  .strictObject({
    /** C2: where the application runs in normal mode. */
    preferredNode: instanceId.optional(),
    /** C2: the nodes to try, in order. The last one disables switching (C7). */
    possibleNodes: z.array(instanceId).default([]),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.possibleNodes.forEach((node, index) => {
      if (seen.has(node)) {
        ctx.addIssue({ code: 'custom', message: `node ${node} is listed twice; list each possible node once`, path: ['possibleNodes', index] });
      }
      seen.add(node);
    });
  });

export const PolicySchema = z
  .strictObject({
    /** A13: nodes tried per incident before administrators are alerted. */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** No new failover for this application within this many seconds of the last one. */
    cooldownSeconds: seconds(0, 86_400).default(300),
    /** Flap damping: at most maxFailoversPerWindow failovers within flapWindowSeconds. */
    flapWindowSeconds: seconds(60, 604_800).default(3_600),
    maxFailoversPerWindow: z.number().int().min(1).max(100).default(3),
    /** ELB deregistration delay for this application's targets (the AWS default of 300 s is rarely wanted). */
    deregistrationDelaySeconds: seconds(0, 3_600).default(30),
    /** A15: seconds to wait after failover before checking performance again. */
    settleSeconds: seconds(0, 3_600).default(120),
    /** A8: return the old node to the pool (true) or leave it stopped for inspection (false). */
    returnOldNodeToPool: z.boolean().default(true),
  })
  .prefault({});

export const ApplicationSchema = z.strictObject({
  name: name('application name'),
  /** Higher wins: an application may preempt nodes running lower-priority applications (A5). */
  priority: z.number().int().min(0).max(1_000),
  /** Pools this application may draw nodes from; absent: all pools. */
  pools: z.array(z.string()).min(1, "list at least one pool, or leave 'pools' out to use every pool").optional(),
  requirements: HardwareRequirementsSchema.prefault({}),
  provisioning: ProvisioningSchema,
  cluster: ClusterSchema,
  detection: DetectionSchema.prefault({}),
  placement: PlacementSchema.prefault({}),
  /** C3: ordered documents that start the application's resources on its node. */
  run: z.array(SsmDocumentSchema).default([]),
  /** C3: ordered documents that stop them. */
  halt: z.array(SsmDocumentSchema).default([]),
  policy: PolicySchema,
});
export type Application = z.infer<typeof ApplicationSchema>;

export const ConfigSchema = z
  .strictObject({
    $schema: z.string().optional(),
    pools: z.array(PoolSchema).min(1, 'at least one pool is needed'),
    applications: z.array(ApplicationSchema).min(1, 'at least one application is needed'),
    alerts: z.strictObject({
      emails: z.array(z.email('expected an email address')).min(1, 'at least one administrator email is needed'),
    }),
  })
  .superRefine((config, ctx) => {
    const poolNames = new Set<string>();
    config.pools.forEach((pool, index) => {
      if (poolNames.has(pool.name)) {
        ctx.addIssue({ code: 'custom', message: `pool name '${pool.name}' is used twice; pool names must be unique`, path: ['pools', index, 'name'] });
      }
      poolNames.add(pool.name);
    });
    const appNames = new Set<string>();
    config.applications.forEach((app, index) => {
      if (appNames.has(app.name)) {
        ctx.addIssue({ code: 'custom', message: `application name '${app.name}' is used twice; application names must be unique`, path: ['applications', index, 'name'] });
      }
      appNames.add(app.name);
      app.pools?.forEach((pool, poolIndex) => {
        if (!poolNames.has(pool)) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown pool '${pool}'; expected one of: ${[...poolNames].join(', ')}`,
            path: ['applications', index, 'pools', poolIndex],
          });
        }
      });
    });
  });
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** One line per problem: the field path, then what is expected. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.length > 0 ? formatPath(issue.path) : '(root)';
    return `${path}: ${issue.message}`;
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, describeIssues(result.error.issues));
  return result.data;
}

export function parseConfigText(text: string, source: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(source, [`(root): not valid JSON: ${(error as Error).message}`]);
  }
  return parseConfig(raw, source);
}

export function findApplication(config: Config, appName: string): Application | undefined {
  return config.applications.find((app) => app.name === appName);
}

/** Pools an application may draw from, in tier order (failover tier before backup tier, B2). */
export function poolsFor(config: Config, app: Application): Pool[] {
  const allowed = app.pools ? config.pools.filter((p) => app.pools!.includes(p.name)) : config.pools;
  return [...allowed].sort((a, b) => tierRank(a.tier) - tierRank(b.tier));
}

export function tierRank(tier: Pool['tier']): number {
  return tier === 'failover' ? 0 : 1;
}
