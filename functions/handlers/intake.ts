// Intake (not a workflow step): EventBridge → validate → one execution per incident.
// A performance alarm's state change maps back to its application by name
// (`rapid-failover.<stack>.<app>-performance`: the stack's name comes from the environment, so a
// second stack's alarms are not this one's), an application's own alarm by ARN; a fleet alarm's
// contributor (one time series: an instance in the status-check alarm, a target group in a
// target-health alarm) maps to the applications that instance serves or that target group
// holds; an EC2 instance state change maps to every application the instance serves (a
// virtual-node host may serve several, B1); operator requests name their application (C6).
// The execution name is the incident id, derived from the event itself, so a redelivered
// event collapses.
import { createHash } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { INSTANCE_ID, type Application, type Config } from '../../core/config.ts';
import { ALARM_STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE, loadBalancerDimension, stackAlarmNames, targetGroupDimension, type StackAlarmNames } from '../../core/detection.ts';
import { ErrorNames, ValidationError } from '../../core/errors.ts';
import { EVENT_SOURCE, MetricNames, OPERATOR_EVENT_SOURCE, OperatorDetailTypes, ServiceDetailTypes } from '../../core/metrics.ts';
import { IncidentInputSchema, type IncidentInput, type TriggerKind } from '../../core/workflow-state.ts';
import { getAppStates } from '../adapters/app-state.ts';
import { startIncident } from '../adapters/executions.ts';
import { errorMessage, errorName, toNamedError } from '../aws-errors.ts';
import { lazyHandler, type Deps } from '../deps.ts';
import { whereRuns } from '../pool-view.ts';
import { flushMetrics, parseInput } from '../step.ts';

export interface IntakeResult {
  started: string[];
  deduplicated: string[];
  ignored: string[];
}

/** EC2 instance states that mean a serving node has gone (A11); the rule routes only these. */
export const INSTANCE_FAILURE_STATES: readonly string[] = ['stopping', 'stopped', 'shutting-down', 'terminated'];

const instanceId = z.string().regex(INSTANCE_ID, "expected an EC2 instance id like 'i-0123456789abcdef0'");
/** A time Date.parse reads whose year is 0000-9999 (incident ids and the workflow's ISO times need one). */
const timestamp = z.string().refine((t) => {
  const ms = Date.parse(t);
  return !Number.isNaN(ms) && /^\d{4}-/.test(new Date(ms).toISOString());
}, 'expected a timestamp (ISO 8601, a year from 0000 to 9999)');

const EnvelopeSchema = z.looseObject({
  id: z.string().min(1),
  source: z.string().min(1),
  'detail-type': z.string().min(1),
  time: timestamp,
  resources: z.array(z.string()).default([]),
  detail: z.unknown(),
});

const AlarmStateSchema = z.looseObject({ value: z.string().min(1), reason: z.string().optional(), timestamp });

const AlarmDetailSchema = z.looseObject({
  alarmName: z.string().min(1),
  state: AlarmStateSchema,
});

/**
 * "CloudWatch Alarm Contributor State Change": one time series of a Metrics Insights alarm.
 * Shape from "Alarm events and EventBridge", Multi Time Series Alarm, Alarm Contributor Example
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html):
 * `alarmContributor.id` and its `attributes` (the GROUP BY labels), `state`, no `previousState`.
 */
const ContributorDetailSchema = z.looseObject({
  alarmName: z.string().min(1),
  alarmContributor: z.looseObject({ id: z.string().min(1).max(1_024), attributes: z.record(z.string(), z.string()) }),
  state: AlarmStateSchema,
});

const InstanceDetailSchema = z.looseObject({ 'instance-id': instanceId, state: z.string().min(1) });

const OperatorDetailSchema = z.looseObject({
  app: z.string().min(1).max(40),
  toNode: instanceId.optional(),
  requestedBy: z.string().min(1).max(256),
});

/** Service Down that the workflow itself announces when it preempts an application (A5). */
const PreemptedDetailSchema = z.looseObject({
  app: z.string().min(1).max(40),
  node: instanceId.nullable().optional(),
  reason: z.string(),
  preemptedBy: z.string().optional(),
});

type Envelope = z.infer<typeof EnvelopeSchema>;

interface Incident {
  app: string;
  kind: TriggerKind;
  source: string;
  reason: string;
  observedAt: string;
  fromNode?: string;
  requestedNode?: string;
}

export function makeHandler(deps: Deps): (event: unknown) => Promise<IntakeResult> {
  return async (event) => {
    const envelope = parseInput(EnvelopeSchema, event, 'intake: not an EventBridge event');
    deps.logger.appendKeys({ eventId: envelope.id, eventSource: envelope.source });
    try {
      const result: IntakeResult = { started: [], deduplicated: [], ignored: [] };
      const incidents = await toIncidents(deps, envelope, result.ignored);
      const stateMachineArn = incidents.length > 0 ? requireStateMachine(deps) : '';
      for (const incident of incidents) {
        const input = toInput(incident);
        deps.logger.info('incident', { incidentId: input.incidentId, app: input.app, kind: input.trigger.kind });
        const outcome = await startIncident(deps.sfn, stateMachineArn, input);
        (outcome === 'started' ? result.started : result.deduplicated).push(input.incidentId);
      }
      deps.logger.info('intake done', { ...result });
      return result;
    } catch (error) {
      throw toNamedError(error);
    } finally {
      deps.logger.removeKeys(['eventId', 'eventSource']);
    }
  };
}

function requireStateMachine(deps: Deps): string {
  if (!deps.env.stateMachineArn) throw new Error('intake needs STATE_MACHINE_ARN: the workflow to start is not configured');
  return deps.env.stateMachineArn;
}

/** The stack's alarm names: only its own alarms start failovers. */
function alarmNamesOf(deps: Deps): StackAlarmNames {
  if (!deps.env.stackName) throw new Error('intake needs RAPID_FAILOVER_STACK: without the stack name it cannot tell its alarms from another stack\'s');
  return stackAlarmNames(deps.env.stackName);
}

async function toIncidents(deps: Deps, envelope: Envelope, ignored: string[]): Promise<Incident[]> {
  const kind = `${envelope.source} / ${envelope['detail-type']}`;
  if (envelope.source === 'aws.cloudwatch' && envelope['detail-type'] === ALARM_STATE_CHANGE) {
    return alarmIncidents(deps.env.config, alarmNamesOf(deps), envelope, parseInput(AlarmDetailSchema, envelope.detail, 'intake: malformed alarm state change'), ignored);
  }
  if (envelope.source === 'aws.cloudwatch' && envelope['detail-type'] === CONTRIBUTOR_STATE_CHANGE) {
    return contributorIncidents(deps, parseInput(ContributorDetailSchema, envelope.detail, 'intake: malformed alarm contributor state change'), ignored);
  }
  if (envelope.source === 'aws.ec2' && envelope['detail-type'] === 'EC2 Instance State-change Notification') {
    return instanceIncidents(deps, envelope, parseInput(InstanceDetailSchema, envelope.detail, 'intake: malformed EC2 state change'), ignored);
  }
  if (envelope.source === OPERATOR_EVENT_SOURCE && Object.values<string>(OperatorDetailTypes).includes(envelope['detail-type'])) {
    return operatorIncidents(deps.env.config, envelope, parseInput(OperatorDetailSchema, envelope.detail, 'intake: malformed operator request'), ignored);
  }
  if (envelope.source === EVENT_SOURCE && envelope['detail-type'] === ServiceDetailTypes.Down) {
    const detail = parseInput(PreemptedDetailSchema, envelope.detail, 'intake: malformed Service Down event');
    if (detail.reason !== 'preempted') {
      ignored.push(`Service Down for ${detail.app}: ${detail.reason} (only preemption starts a failover)`);
      return [];
    }
    if (!known(deps.env.config, detail.app, ignored)) return [];
    return [
      {
        app: detail.app,
        kind: 'failure',
        source: envelope.id,
        reason: `preempted on ${detail.node ?? 'its node'} by ${detail.preemptedBy ?? 'a higher-priority application'} (A5)`,
        observedAt: iso(envelope.time),
      },
    ];
  }
  throw new ValidationError(`intake: unsupported event ${kind}`);
}

function known(config: Config, app: string, ignored: string[]): boolean {
  if (config.applications.some((a) => a.name === app)) return true;
  ignored.push(`unknown application '${app}'`);
  return false;
}

function alarmIncidents(config: Config, names: StackAlarmNames, envelope: Envelope, detail: z.infer<typeof AlarmDetailSchema>, ignored: string[]): Incident[] {
  if (detail.state.value !== 'ALARM') {
    ignored.push(`alarm ${detail.alarmName} is ${detail.state.value}`);
    return [];
  }
  const incidents = config.applications.flatMap((app) => {
    const kind = alarmKind(app, names, detail.alarmName, envelope.resources);
    if (!kind) return [];
    return [
      {
        app: app.name,
        kind,
        source: detail.alarmName,
        reason: detail.state.reason ?? `alarm ${detail.alarmName} is ALARM`,
        observedAt: iso(detail.state.timestamp),
      } satisfies Incident,
    ];
  });
  if (incidents.length === 0) ignored.push(`alarm ${detail.alarmName} belongs to no application`);
  return incidents;
}

/** performance alarm → 'performance' (A10); the application's own alarms → 'failure' (A11). */
function alarmKind(app: Application, names: StackAlarmNames, name: string, resources: readonly string[]): TriggerKind | null {
  if (name === names.performance(app.name)) return 'performance';
  const own = app.detection.failure.alarmArns.some((arn) => resources.includes(arn) || arn.endsWith(`:alarm:${name}`));
  return own ? 'failure' : null;
}

/**
 * A11: an instance of the status-check alarm fails the applications it serves (by the state
 * table, as an EC2 state change does); a target group of a target-health alarm fails the
 * applications that registered in it behind that load balancer.
 */
async function contributorIncidents(deps: Deps, detail: z.infer<typeof ContributorDetailSchema>, ignored: string[]): Promise<Incident[]> {
  const { alarmName: name, alarmContributor: contributor, state } = detail;
  const label = `${name} contributor ${contributor.id} (${Object.entries(contributor.attributes).map(([k, v]) => `${k}=${v}`).join(', ')})`;
  if (state.value !== 'ALARM') {
    ignored.push(`${label} is ${state.value}`);
    return [];
  }
  const config = deps.env.config;
  const names = alarmNamesOf(deps);
  // The contributor, not only the alarm, names the incident: two instances failing at once are two incidents.
  const base = { kind: 'failure' as const, source: `${name}/${contributor.id}`, observedAt: iso(state.timestamp) };
  const because = state.reason ? `: ${state.reason}` : '';

  if (name === names.statusChecks) {
    const node = parseInput(instanceId, contributor.attributes.InstanceId, `intake: ${label}: attributes.InstanceId`);
    const watching = config.applications.filter((app) => app.detection.failure.statusChecks);
    const states = await getAppStates(deps.ddb, deps.env.tables.state, watching.map((a) => a.name));
    const served = watching.filter((app) => whereRuns(app, states.get(app.name)) === node);
    if (served.length === 0) ignored.push(`${node} (${name}) serves no application that watches status checks`);
    return served.map((app) => ({ ...base, app: app.name, fromNode: node, reason: `EC2 status checks failed on ${node}${because}` }));
  }

  if (names.isTargetHealth(name)) {
    const { LoadBalancer: loadBalancer, TargetGroup: targetGroup } = contributor.attributes;
    const held = config.applications.filter((app) => {
      const health = app.detection.failure.targetHealth;
      return (
        health !== undefined &&
        loadBalancerDimension(health.loadBalancerArn) === loadBalancer &&
        app.cluster.targetGroupArns.some((arn) => targetGroupDimension(arn) === targetGroup)
      );
    });
    if (held.length === 0) ignored.push(`${label} holds no application that watches target health`);
    return held.map((app) => ({ ...base, app: app.name, reason: `UnHealthyHostCount >= 1 in ${targetGroup} of ${loadBalancer}${because}` }));
  }

  ignored.push(`${label}: not an alarm of this stack`);
  return [];
}

async function instanceIncidents(deps: Deps, envelope: Envelope, detail: z.infer<typeof InstanceDetailSchema>, ignored: string[]): Promise<Incident[]> {
  const node = detail['instance-id'];
  if (!INSTANCE_FAILURE_STATES.includes(detail.state)) {
    ignored.push(`${node} is ${detail.state}`);
    return [];
  }
  const config = deps.env.config;
  const states = await getAppStates(deps.ddb, deps.env.tables.state, config.applications.map((a) => a.name));
  const served = config.applications.filter((app) => whereRuns(app, states.get(app.name)) === node);
  if (served.length === 0) {
    ignored.push(`${node} serves no managed application`);
    return [];
  }
  // A failover under way moves the application off this node anyway, and the stop is most
  // likely its own fence (C9): no second execution just to be folded into it by the lock step.
  const nowSeconds = Math.floor(deps.clock().getTime() / 1000);
  const underWay = served.filter((app) => {
    const state = states.get(app.name);
    return state?.lockIncident !== undefined && (state.lockExpiresAt ?? 0) > nowSeconds;
  });
  for (const app of underWay) ignored.push(`${node} is ${detail.state}: ${app.name} is being failed over by ${states.get(app.name)!.lockIncident} already`);
  return served.filter((app) => !underWay.includes(app)).map((app) => ({
    app: app.name,
    kind: 'failure' as const,
    source: envelope.id,
    reason: `instance ${node} is ${detail.state}`,
    observedAt: iso(envelope.time),
    fromNode: node,
  }));
}

function operatorIncidents(config: Config, envelope: Envelope, detail: z.infer<typeof OperatorDetailSchema>, ignored: string[]): Incident[] {
  if (!known(config, detail.app, ignored)) return [];
  const kind: TriggerKind = envelope['detail-type'] === OperatorDetailTypes.Drill ? 'drill' : 'switchover';
  return [
    {
      app: detail.app,
      kind,
      source: detail.requestedBy,
      reason: `${kind} requested by ${detail.requestedBy}${detail.toNode ? ` to ${detail.toNode}` : ''} (C6)`,
      observedAt: iso(envelope.time),
      ...(detail.toNode ? { requestedNode: detail.toNode } : {}),
    },
  ];
}

/** `<UTC yyyymmddThhmmss>-<app>-<kind>-<6 hex of sha256(source)>`: at most 15+1+40+1+11+1+6 = 75 characters. */
export function incidentIdOf(incident: Pick<Incident, 'app' | 'kind' | 'source' | 'observedAt'>): string {
  const compact = incident.observedAt.replace(/[-:]/g, '').slice(0, 15);
  const hash = createHash('sha256').update(incident.source).digest('hex').slice(0, 6);
  return `${compact}-${incident.app}-${incident.kind}-${hash}`;
}

function toInput(incident: Incident): IncidentInput {
  return parseInput(IncidentInputSchema, {
    incidentId: incidentIdOf(incident),
    app: incident.app,
    trigger: { kind: incident.kind, source: incident.source.slice(0, 512), reason: incident.reason.slice(0, 2_048), observedAt: incident.observedAt },
    ...(incident.fromNode ? { fromNode: incident.fromNode } : {}),
    ...(incident.requestedNode ? { requestedNode: incident.requestedNode } : {}),
  }, `intake: the event does not make a valid incident for ${incident.app}`);
}

function iso(time: string): string {
  return new Date(Date.parse(time)).toISOString();
}

/** What intake answers Lambda: what it did, and the events it rejected as malformed. */
export interface IntakeAnswer extends IntakeResult {
  rejected: string[];
}

/**
 * What Lambda runs (and the local runtime, for the same behaviour). A malformed event (a
 * ValidationError from makeHandler) is logged at ERROR with the whole event and the reason,
 * counted (MetricNames.MalformedEvents, which an alarm watches) and answered, not thrown: Lambda
 * retries a function error of an asynchronous invocation twice, a minute and then two minutes
 * later ("How Lambda handles errors and retries with asynchronous invocation", Lambda Developer
 * Guide), and the same event would fail the same way each time before going to the on-failure
 * destination. So malformed events go to the logs, not to a queue, and start nothing. Every
 * other error (StartExecution throttled, DynamoDB unavailable) is thrown: Lambda retries it, and
 * an event that still fails lands in the on-failure destination queue.
 */
export function makeLambdaHandler(deps: Deps): (event: unknown) => Promise<IntakeAnswer> {
  const intake = makeHandler(deps);
  return async (event) => {
    try {
      return { ...(await intake(event)), rejected: [] };
    } catch (error) {
      if (errorName(error) !== ErrorNames.Validation) throw error;
      deps.logger.error('malformed event rejected; it starts nothing and is not retried', { reason: errorMessage(error), event: event as Record<string, unknown> });
      deps.metrics.addMetric(MetricNames.MalformedEvents, MetricUnit.Count, 1);
      flushMetrics(deps);
      return { started: [], deduplicated: [], ignored: [], rejected: [errorMessage(error)] };
    }
  };
}

export const handler = lazyHandler(makeLambdaHandler);
