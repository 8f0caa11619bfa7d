// A scenario: the config (same format as deploy), a fleet, optional latency overrides and a
// timeline of injected events. `failover simulate <scenario>` runs it on the local runtime.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, ConfigSchema, describeIssues, INSTANCE_ID, type Config } from '../core/config.ts';
import { OUTCOMES } from '../core/workflow-state.ts';
import { START_REFUSALS, STOP_REFUSALS } from './fleet/faults.ts';
import { cidrContains } from '../core/ipv4.ts';
import { isKnownInstanceType, unknownInstanceTypeHint } from './fleet/instance-types.ts';
import { DEFAULT_LATENCY } from './fleet/latency.ts';
import { DEFAULT_SUBNET_ID, simulatedSubnets } from './fleet/subnets.ts';
import { LOCAL_REGION } from './state-machine-definition.ts';

/** The simulated VPC's subnets (local/fleet/subnets.ts), where scenario instances are placed. */
const SUBNETS = simulatedSubnets(LOCAL_REGION);
const SUBNET_IDS = SUBNETS.map((s) => s.subnetId) as [string, ...string[]];
const ZONES = [...new Set(SUBNETS.map((s) => s.availabilityZone))] as [string, ...string[]];

const instanceId = z.string().regex(INSTANCE_ID, "expected an EC2 instance id like 'i-0123456789abcdef0'");
const appName = z.string().min(1).max(40);
const at = z.number().min(0).describe('Seconds of virtual time after the scenario starts');
const availabilityZone = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "expected an Availability Zone like 'us-east-1b'");

const milliseconds = z.number().min(0, 'latencies are non-negative milliseconds');
/** Any part of the latency model (local/fleet/latency.ts), in milliseconds; unknown keys are errors. */
function latencyGroup(defaults: Record<string, unknown>) {
  const shape = Object.fromEntries(
    Object.entries(defaults).map(([key, value]) => [key, typeof value === 'number' ? milliseconds.optional() : z.record(z.string(), milliseconds).optional()]),
  );
  return z.strictObject(shape).optional();
}
export const LatencyOverridesSchema = z.strictObject({
  apiCallMs: latencyGroup(DEFAULT_LATENCY.apiCallMs),
  ec2: latencyGroup(DEFAULT_LATENCY.ec2),
  ssm: latencyGroup(DEFAULT_LATENCY.ssm),
  elbv2: z
    .strictObject({
      healthCheckIntervalSeconds: z.number().int().min(5).max(300).optional(),
      healthyThresholdCount: z.number().int().min(2).max(10).optional(),
      unhealthyThresholdCount: z.number().int().min(2).max(10).optional(),
      deregistrationDelaySeconds: z.number().int().min(0).max(3_600).optional(),
      applicationRegistrationMs: milliseconds.optional(),
      networkRegistrationMs: milliseconds.optional(),
    })
    .optional(),
  lambda: latencyGroup(DEFAULT_LATENCY.lambda),
  stepFunctions: latencyGroup(DEFAULT_LATENCY.stepFunctions),
  eventBridge: latencyGroup(DEFAULT_LATENCY.eventBridge),
});

export const ScenarioInstanceSchema = z.strictObject({
  id: instanceId,
  type: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "expected an instance type like 'm7i.xlarge'"),
  state: z.enum(['running', 'stopped']).default('running'),
  tags: z.record(z.string(), z.string()).default({}),
  /** Applications this instance serves when the scenario starts (several on a virtual-node host). */
  runs: z.array(appName).default([]),
  /** Applications already installed (activate provisioning needs them there). */
  installed: z.array(appName).default([]),
  /** Status checks fail from the start. */
  impaired: z.boolean().default(false),
  /**
   * One of the simulated VPC's subnets (two /20s per AZ, see local/fleet/subnets.ts). Default:
   * the first subnet of `availabilityZone`, or subnet-0000000000000a001 (10.0.0.0/20).
   */
  subnet: z.enum(SUBNET_IDS).optional(),
  /** Availability Zone; with `subnet`, it must be that subnet's. */
  availabilityZone: z.enum(ZONES).optional(),
});
export type ScenarioInstance = z.infer<typeof ScenarioInstanceSchema>;

/** A load balancer in front of some of the config's target groups; a target group named by none gets an application load balancer of its own, in every zone. */
export const ScenarioLoadBalancerSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9-]{1,32}$/, "expected a load balancer name: 1-32 letters, digits and '-'"),
  type: z.enum(['application', 'network']).default('application'),
  /** Zones it is enabled in (default: us-east-1a, b and c). */
  availabilityZones: z.array(availabilityZone).min(1, 'a load balancer is enabled in at least one zone').optional(),
  /** Target groups of the config its listeners forward to. */
  targetGroupArns: z.array(z.string()).min(1, 'name at least one target group of the config'),
});
export type ScenarioLoadBalancer = z.infer<typeof ScenarioLoadBalancerSchema>;

export const TimelineEventSchema = z.discriminatedUnion('event', [
  z.strictObject({
    at,
    event: z.literal('performance-degraded'),
    app: appName,
    /** The metric value the application reports from now on, on whichever node it runs. */
    value: z.number(),
    /** Only on this node (default: wherever it runs now, and on nodes listed in `alsoOn`). */
    alsoOn: z.array(instanceId).default([]),
  }),
  z.strictObject({ at, event: z.literal('performance-recovered'), app: appName }),
  z.strictObject({ at, event: z.literal('instance-failed'), node: instanceId }),
  z.strictObject({ at, event: z.literal('instance-stopped'), node: instanceId }),
  z.strictObject({ at, event: z.literal('health-check-failing'), node: instanceId }),
  z.strictObject({
    at,
    event: z.literal('provisioning-fails'),
    node: instanceId,
    /**
     * How provisioning fails on this node: its SSM commands fail, its next SSM command hangs (until
     * its executionTimeout, or a CancelCommand), its root-volume swap fails, or it will not start.
     */
    how: z.enum(['command-fails', 'command-hangs', 'root-volume-fails', 'start-fails']).default('command-fails'),
  }),
  z.strictObject({
    at,
    event: z.literal('stuck-stopping'),
    node: instanceId,
    /** From now on a stop of this node hangs in 'stopping'; a later force stop gets it out only if this is true. */
    forceStopWorks: z.boolean().default(false),
  }),
  z.strictObject({
    at,
    event: z.literal('stop-refused'),
    node: instanceId,
    /** The EC2 error every StopInstances of this node answers with from now on. */
    error: z.enum(STOP_REFUSALS).default('UnauthorizedOperation'),
  }),
  z.strictObject({
    at,
    event: z.literal('start-refused'),
    node: instanceId,
    /** The EC2 error every StartInstances of this node answers with from now on. */
    error: z.enum(START_REFUSALS).default('InsufficientInstanceCapacity'),
  }),
  z.strictObject({ at, event: z.literal('switchover'), app: appName, to: instanceId.optional(), requestedBy: z.string().default('operator') }),
  z.strictObject({ at, event: z.literal('drill'), app: appName, requestedBy: z.string().default('operator') }),
  z.strictObject({
    at,
    event: z.literal('alarm-flapping'),
    app: appName,
    /** ALARM transitions raised, `intervalSeconds` apart (OK in between). */
    times: z.number().int().min(2).max(50),
    intervalSeconds: z.number().min(1),
  }),
  z.strictObject({
    at,
    event: z.literal('duplicate-alarm'),
    app: appName,
    /** The same ALARM event delivered this many times (EventBridge is at-least-once). */
    times: z.number().int().min(2).max(50),
  }),
]);
export type TimelineEvent = z.infer<typeof TimelineEventSchema>;

export const ScenarioSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z.string().min(1),
    description: z.string().default(''),
    /** The control plane config, inline, in the same format as failover.config.json. */
    config: ConfigSchema.optional(),
    /** Or a path to a config file, relative to the scenario file. */
    configFile: z.string().optional(),
    fleet: z.strictObject({
      instances: z.array(ScenarioInstanceSchema).min(1, 'the fleet needs at least one instance'),
      loadBalancers: z.array(ScenarioLoadBalancerSchema).default([]),
    }),
    /** Partial latency model merged over the defaults (local/fleet/latency.ts). */
    latency: LatencyOverridesSchema.default({}),
    timeline: z.array(TimelineEventSchema).min(1, 'the timeline needs at least one event'),
    /** Outcomes the scenario expects per application; any other outcome exits with code 1. */
    expect: z.record(appName, z.array(z.enum(OUTCOMES)).min(1)).default({}),
    /** Virtual seconds to run after the last event before stopping. */
    runForSeconds: z.number().min(1).max(86_400).default(3_600),
  })
  .superRefine((scenario, ctx) => {
    if (!scenario.config === !scenario.configFile) {
      ctx.addIssue({ code: 'custom', message: "give exactly one of 'config' (inline) or 'configFile' (a path)", path: ['config'] });
    }
    const ids = new Set<string>();
    scenario.fleet.instances.forEach((instance, index) => {
      if (ids.has(instance.id)) ctx.addIssue({ code: 'custom', message: `instance ${instance.id} is listed twice`, path: ['fleet', 'instances', index, 'id'] });
      ids.add(instance.id);
      // Any type EC2 has (local/fleet/instance-types.generated.json); checked here, before anything runs.
      if (!isKnownInstanceType(instance.type)) {
        ctx.addIssue({ code: 'custom', message: unknownInstanceTypeHint(instance.type), path: ['fleet', 'instances', index, 'type'] });
      }
      const subnet = SUBNETS.find((s) => s.subnetId === instance.subnet);
      if (subnet && instance.availabilityZone && subnet.availabilityZone !== instance.availabilityZone) {
        ctx.addIssue({
          code: 'custom',
          message: `subnet ${subnet.subnetId} is in ${subnet.availabilityZone}, not ${instance.availabilityZone}; leave one of them out or name a subnet of ${instance.availabilityZone}`,
          path: ['fleet', 'instances', index, 'availabilityZone'],
        });
      }
    });
    scenario.timeline.forEach((event, index) => {
      if ('node' in event && !ids.has(event.node)) {
        ctx.addIssue({ code: 'custom', message: `unknown instance ${event.node}; it is not in fleet.instances`, path: ['timeline', index, 'node'] });
      }
    });
  });
export type Scenario = z.infer<typeof ScenarioSchema> & { config: Config };

/** Field-named problems after the config is known: applications the fleet or timeline name must exist. */
function crossCheck(scenario: z.infer<typeof ScenarioSchema>, config: Config): string[] {
  const apps = new Set(config.applications.map((a) => a.name));
  const problems: string[] = [];
  scenario.fleet.instances.forEach((instance, i) =>
    [...instance.runs, ...instance.installed].forEach((app) => {
      if (!apps.has(app)) problems.push(`fleet.instances[${i}]: unknown application '${app}'; expected one of: ${[...apps].join(', ')}`);
    }),
  );
  // A secondary private IP lives in one subnet (AssignPrivateIpAddresses assigns it "from the
  // subnet's CIDR block range"): the instance serving it must be in that subnet.
  scenario.fleet.instances.forEach((instance, i) => {
    const subnet = subnetOf(instance);
    for (const app of config.applications) {
      const address = app.cluster.logicalAddress;
      if (!instance.runs.includes(app.name) || address?.kind !== 'secondary-private-ip') continue;
      if (!cidrContains(subnet.cidrBlock, address.ipAddress)) {
        const home = SUBNETS.find((s) => cidrContains(s.cidrBlock, address.ipAddress));
        problems.push(
          `fleet.instances[${i}]: runs ${app.name}, whose secondary private IP ${address.ipAddress} is not in its subnet ${subnet.subnetId} (${subnet.cidrBlock}); ` +
            (home ? `place it in ${home.subnetId} (${home.cidrBlock}) with "subnet"` : `the simulated VPC's subnets are ${SUBNETS.map((s) => s.cidrBlock).join(', ')}`),
        );
      }
    }
  });
  scenario.timeline.forEach((event, i) => {
    if ('app' in event && !apps.has(event.app)) problems.push(`timeline[${i}].app: unknown application '${event.app}'; expected one of: ${[...apps].join(', ')}`);
  });
  const targetGroups = new Set(config.applications.flatMap((a) => a.cluster.targetGroupArns));
  const fronted = new Map<string, string>();
  const names = new Set<string>();
  scenario.fleet.loadBalancers.forEach((lb, i) => {
    if (names.has(lb.name)) problems.push(`fleet.loadBalancers[${i}].name: load balancer '${lb.name}' is listed twice`);
    names.add(lb.name);
  });
  scenario.fleet.loadBalancers.forEach((lb, i) =>
    lb.targetGroupArns.forEach((arn, j) => {
      const field = `fleet.loadBalancers[${i}].targetGroupArns[${j}]`;
      if (!targetGroups.has(arn)) problems.push(`${field}: '${arn}' is not a target group of any application in the config`);
      else if (fronted.has(arn)) problems.push(`${field}: target group already behind load balancer '${fronted.get(arn)}'; list it under one load balancer`);
      fronted.set(arn, lb.name);
    }),
  );
  Object.keys(scenario.expect).forEach((app) => {
    if (!apps.has(app)) problems.push(`expect.${app}: unknown application '${app}'`);
  });
  return problems;
}

/** The simulated subnet a scenario instance is placed in (see the `subnet` field). */
export function subnetOf(instance: Pick<ScenarioInstance, 'subnet' | 'availabilityZone'>): (typeof SUBNETS)[number] {
  if (instance.subnet) return SUBNETS.find((s) => s.subnetId === instance.subnet)!;
  if (instance.availabilityZone) return SUBNETS.find((s) => s.availabilityZone === instance.availabilityZone)!;
  return SUBNETS.find((s) => s.subnetId === DEFAULT_SUBNET_ID)!;
}

export function parseScenario(raw: unknown, source: string, baseDir = '.'): Scenario {
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source, describeIssues(parsed.error.issues));
  const scenario = parsed.data;
  const config = scenario.config ?? loadLinkedConfig(resolve(baseDir, scenario.configFile!));
  const problems = crossCheck(scenario, config);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { ...scenario, config };
}

function loadLinkedConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`configFile: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, [`configFile: ${file} is not valid JSON: ${(error as Error).message}`]);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, describeIssues(parsed.error.issues));
  return parsed.data;
}

export function loadScenarioFile(file: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof SyntaxError ? `not valid JSON: ${error.message}` : `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
    throw new ConfigError(file, [`(file): ${reason}`]);
  }
  return parseScenario(raw, file, dirname(file));
}

/** JSON Schema of the scenario format, generated from the zod schema (editor support; README documents it). */
export function scenarioJsonSchema(): unknown {
  return z.toJSONSchema(ScenarioSchema, { io: 'input', unrepresentable: 'any' });
}
