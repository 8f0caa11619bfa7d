// Detection that follows the serving node (A10, A11, A12), shared by the stack (lib/), intake
// (functions/) and the local runtime (local/): alarm names, the Metrics Insights queries, and
// the tag they filter on. Nothing here is rewritten at run time: the stack defines each alarm
// once and the workflow only moves a tag (no stack drift, no PutMetricAlarm).

/**
 * The tag the control plane sets on a node that serves an application (a dedicated node, a
 * virtual-node host while it hosts one, and at deploy each preferred node). The stack-wide
 * status-check alarm watches exactly the instances that carry it.
 */
export const SERVING_TAG = { key: 'rapid-failover:role', value: 'serving' } as const;

/**
 * The names of one stack's alarms. Every alarm a stack creates is named
 * `rapid-failover.<stack name>.<what>`: a second stack (`-c stackName=…`) deploys beside the
 * first with names of its own, its rules match only its own alarms, its intake maps only its own
 * alarms back to applications, and the alert topic lets CloudWatch publish only for them (the
 * topic policy's aws:SourceArn is the prefix followed by `*`). The dots are the separators
 * because neither a stack name (letters, digits, '-') nor an application name can hold one, so
 * no stack's prefix is the beginning of another stack's names (with '-', stack `a`'s
 * `rapid-failover-a-fleet-` would be a prefix of stack `a-fleet`'s names).
 */
export interface StackAlarmNames {
  readonly stackName: string;
  /** `rapid-failover.<stack name>.`: every alarm of the stack starts with it. */
  readonly prefix: string;
  /** The performance alarm of one application (A10). */
  performance(app: string): string;
  /** Alarms over the whole fleet (one per stack, or per load balancer), not per application. */
  readonly fleetPrefix: string;
  /** The stack-wide Metrics Insights status-check alarm. */
  readonly statusChecks: string;
  /** One alarm per load balancer; its contributors are the (load balancer, target group) pairs. */
  targetHealth(loadBalancer: string): string;
  isTargetHealth(name: string): boolean;
  /** The control plane's own health: the workflow's executions, intake, the queues of events it could not take. */
  controlPlane(what: string): string;
}

export function stackAlarmNames(stackName: string): StackAlarmNames {
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(stackName)) {
    throw new Error(`stack name '${stackName}': expected letters, digits and '-', starting with a letter (as CloudFormation allows)`);
  }
  const prefix = `rapid-failover.${stackName}.`;
  const fleetPrefix = `${prefix}fleet-`;
  const targetHealthPrefix = `${fleetPrefix}target-health-`;
  return {
    stackName,
    prefix,
    performance: (app) => `${prefix}${app}-performance`,
    fleetPrefix,
    statusChecks: `${fleetPrefix}status-checks`,
    targetHealth: (loadBalancer) => `${targetHealthPrefix}${loadBalancer.replace(/\//g, '-')}`,
    isTargetHealth: (name) => name.startsWith(targetHealthPrefix),
    controlPlane: (what) => `${prefix}control-plane-${what}`,
  };
}

/**
 * The applications' own alarms (`detection.failure.alarmArns`) must be named with this prefix:
 * the stack's rule matches them by it, so its event pattern does not grow with the applications
 * (EventBridge quotas: event pattern 2,048 characters; listing every ARN broke at ~26
 * applications). Intake still acts only on the ARNs the config lists; others are ignored.
 */
export const USER_ALARM_PREFIX = 'failover-trigger-';

/** The alarm's name, the part of its ARN after `:alarm:`. */
export function alarmNameOfArn(arn: string): string {
  return arn.slice(arn.indexOf(':alarm:') + ':alarm:'.length);
}

/** EventBridge detail-type of a Metrics Insights alarm's per-time-series events. */
export const CONTRIBUTOR_STATE_CHANGE = 'CloudWatch Alarm Contributor State Change';
export const ALARM_STATE_CHANGE = 'CloudWatch Alarm State Change';

/**
 * The failure alarms' rule: the one-minute maximum is 1 or more in 2 of 2 periods, and missing
 * data is not breaching, so a stack deployed before its nodes report starts nothing.
 */
export const FAILURE_RULE = {
  periodSeconds: 60,
  evaluationPeriods: 2,
  datapointsToAlarm: 2,
  threshold: 1,
  comparison: 'GreaterThanOrEqualToThreshold',
  treatMissingData: 'notBreaching',
} as const;

/**
 * One time series (contributor) per serving instance. "Query components and syntax in CloudWatch
 * Metrics Insights" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html):
 * `WHERE tag.keyName = 'value'` filters by resource tag; label keys with characters other than
 * letters, digits and `_` go in double quotes (ASSUMPTION: after the `tag.` prefix, as below; the
 * page shows only unquoted tag keys). A query returns at most 500 time series; ORDER BY MAX()
 * DESC puts the failing instances first, so more than 500 serving nodes are still covered as
 * long as fewer than 500 fail at once ("Limits", alarm-limits.html: 100 contributors in ALARM).
 */
export function statusCheckQuery(): string {
  return (
    'SELECT MAX(StatusCheckFailed) FROM SCHEMA("AWS/EC2", InstanceId) ' +
    `WHERE tag."${SERVING_TAG.key}" = '${SERVING_TAG.value}' GROUP BY InstanceId ORDER BY MAX() DESC`
  );
}

/** CloudWatch's ELB dimensions are ARN tails: 'app/<name>/<id>' (or 'net/…') and 'targetgroup/<name>/<id>'. */
export function loadBalancerDimension(arn: string): string {
  return arn.split(':loadbalancer/')[1] ?? arn;
}
export function targetGroupDimension(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}
export function elbNamespace(loadBalancer: string): 'AWS/ApplicationELB' | 'AWS/NetworkELB' {
  return loadBalancer.startsWith('net/') ? 'AWS/NetworkELB' : 'AWS/ApplicationELB';
}

/** UnHealthyHostCount per target group of one load balancer (CloudWatch publishes it per load balancer and target group). */
export function targetHealthQuery(loadBalancer: string): string {
  return (
    `SELECT MAX(UnHealthyHostCount) FROM SCHEMA("${elbNamespace(loadBalancer)}", LoadBalancer, TargetGroup) ` +
    `WHERE LoadBalancer = '${loadBalancer}' GROUP BY LoadBalancer, TargetGroup ORDER BY MAX() DESC`
  );
}
