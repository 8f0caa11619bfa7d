import { createHash } from 'node:crypto';
import { Annotations, Duration, NestedStack, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { servingTagStatements } from './permissions.ts';
import type { Application, Config, PerformanceDetection } from '../core/config.ts';
import {
  ALARM_STATE_CHANGE,
  CONTRIBUTOR_STATE_CHANGE,
  FAILURE_RULE,
  loadBalancerDimension,
  SERVING_TAG,
  stackAlarmNames,
  statusCheckQuery,
  targetHealthQuery,
  type StackAlarmNames,
  USER_ALARM_PREFIX,
} from '../core/detection.ts';
import { EVENT_SOURCE, OPERATOR_EVENT_SOURCE, OperatorDetailTypes, ServiceDetailTypes } from '../core/metrics.ts';

export interface DetectionProps {
  readonly config: Config;
  /** The intake Lambda that every detection rule targets. */
  readonly intake: lambda.IFunction;
  /** Where events go that could not be delivered to intake. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Of the log group of the function that tags the preferred nodes at deploy. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Per-application resources (the performance alarms) live in this many nested stacks, not in the
 * stack itself: CloudFormation takes at most 500 resources per template ("Understand
 * CloudFormation quotas"), and 1,000 applications with a performance alarm each would pass it.
 * An application's alarm goes to nested stack `PerformanceAlarms<n>`, n = its name's SHA-256 mod
 * 8: stable as applications come and go (an alarm never moves between stacks, which would
 * create its name in one before deleting it from the other). 8 × 250 keeps each nested stack at
 * half the limit up to ~1,800 applications with performance detection.
 */
export const PERFORMANCE_ALARM_STACKS = 8;

/** Which nested stack holds an application's performance alarm. */
export function performanceAlarmStackOf(appName: string): number {
  return createHash('sha256').update(appName).digest().readUInt32BE(0) % PERFORMANCE_ALARM_STACKS;
}

/** Preferred nodes tagged per CreateTags call (half of the API's 1,000). */
export const SERVING_TAG_BATCH = 500;

/** EC2 instance states that mean a serving node has gone (A11). */
export const INSTANCE_FAILURE_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'] as const;

/**
 * The states the intake rule routes: the first of each way down. "State change events for Amazon
 * EC2 instances": a stop goes stopping → stopped, a termination shutting-down → terminated, so
 * the later state says nothing new about a serving node; routing it too would also invoke intake
 * again for every failed host the workflow fences (its stopped event goes to the callback).
 */
export const INTAKE_INSTANCE_STATES = ['stopping', 'shutting-down'] as const;

/**
 * Detection without drift: every alarm is defined once, here, and never rewritten at run time.
 * Per application only its performance alarm (its own metric and threshold, M of N: A10). Over
 * the fleet, one Metrics Insights status-check alarm over the instances tagged
 * `rapid-failover:role=serving` (one contributor per instance), and one target-health alarm per
 * load balancer (one contributor per target group): A11. The workflow moves the tag, not the
 * alarm. EventBridge rules route performance ALARMs, contributor ALARMs, EC2 instance state
 * changes and operator requests to intake.
 */
export class Detection extends Construct {
  /** Performance alarms by application name. */
  public readonly alarms = new Map<string, cloudwatch.Alarm[]>();
  /** The nested stacks that hold the performance alarms, by number (only those that hold one). */
  public readonly performanceAlarmStacks = new Map<number, NestedStack>();
  /** The stack-wide status-check alarm (only when some application watches status checks). */
  public readonly statusCheckAlarm?: cloudwatch.CfnAlarm;
  /** Target-health alarms by load balancer dimension ('app/<name>/<id>'). */
  public readonly targetHealthAlarms = new Map<string, cloudwatch.CfnAlarm>();
  /** Tags each preferred node `rapid-failover:role=serving` at deploy, so its status checks are watched before any failover. */
  public readonly servingTags?: cr.AwsCustomResource;
  /** All the CreateTags calls, SERVING_TAG_BATCH nodes each (servingTags is the first). */
  public readonly servingTagBatches: cr.AwsCustomResource[] = [];
  public readonly alarmRule: events.Rule;
  public readonly contributorRule?: events.Rule;
  /** Only when some application lists alarms of its own. */
  public readonly userAlarmRule?: events.Rule;
  public readonly instanceStateRule: events.Rule;
  public readonly operatorRule: events.Rule;
  public readonly preemptedRule: events.Rule;
  /** The stack's alarm names: `rapid-failover.<stack name>.…`, so a second stack neither collides nor matches these. */
  public readonly alarmNames: StackAlarmNames;

  constructor(scope: Construct, id: string, props: DetectionProps) {
    super(scope, id);
    this.alarmNames = stackAlarmNames(Stack.of(this).stackName);
    const names = this.alarmNames;
    const apps = props.config.applications;
    let userAlarms = false;
    for (const app of apps) {
      const perf = app.detection.performance;
      this.alarms.set(app.name, perf ? [this.performanceAlarm(app, perf)] : []);
      userAlarms ||= app.detection.failure.alarmArns.length > 0;
      if (!app.placement.preferredNode) {
        Annotations.of(this).addWarningV2(
          `rapid-failover:placement:${app.name}`,
          `${app.name}: no placement.preferredNode, so until its first failover the control plane does not know which node runs it: that node's status checks and state changes start nothing; set placement.preferredNode to watch it from deploy on`,
        );
      }
    }

    const watched = apps.filter((app) => app.detection.failure.statusChecks);
    if (watched.length > 0) {
      this.statusCheckAlarm = this.fleetAlarm('StatusChecks', {
        alarmName: names.statusChecks,
        alarmDescription: `rapid-failover: EC2 status checks fail on an instance tagged ${SERVING_TAG.key}=${SERVING_TAG.value} (one contributor per instance)`,
        query: statusCheckQuery(),
      });
      const preferred = [...new Set(watched.flatMap((app) => (app.placement.preferredNode ? [app.placement.preferredNode] : [])))].sort();
      if (preferred.length > 0) this.servingTags = this.tagPreferredNodes(preferred, props)[0];
    }

    const loadBalancers = [...new Set(apps.flatMap((app) => (app.detection.failure.targetHealth ? [loadBalancerDimension(app.detection.failure.targetHealth.loadBalancerArn)] : [])))].sort();
    for (const loadBalancer of loadBalancers) {
      this.targetHealthAlarms.set(
        loadBalancer,
        this.fleetAlarm(`TargetHealth-${loadBalancer.replace(/\//g, '-')}`, {
          alarmName: names.targetHealth(loadBalancer),
          alarmDescription: `rapid-failover: a target group of ${loadBalancer} has unhealthy targets (one contributor per target group)`,
          query: targetHealthQuery(loadBalancer),
        }),
      );
    }

    const target = new targets.LambdaFunction(props.intake, {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 8,
      maxEventAge: Duration.hours(1),
    });

    // Only the performance alarms' ALARM transitions: the fleet alarms speak through their contributors.
    this.alarmRule = new events.Rule(this, 'AlarmStateRule', {
      description: "rapid-failover: an application's performance alarm went into ALARM",
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: [ALARM_STATE_CHANGE],
        detail: { alarmName: events.Match.wildcard(names.performance('*')), state: { value: ['ALARM'] } },
      },
      targets: [target],
    });
    if (this.statusCheckAlarm || loadBalancers.length > 0) {
      // By name prefix: one event per time series (instance, target group) that goes into ALARM.
      this.contributorRule = new events.Rule(this, 'ContributorStateRule', {
        description: 'rapid-failover: an instance or target group went into ALARM in a fleet alarm',
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: [CONTRIBUTOR_STATE_CHANGE],
          detail: { alarmName: events.Match.prefix(names.fleetPrefix), state: { value: ['ALARM'] } },
        },
        targets: [target],
      });
    }
    if (userAlarms) {
      // By name prefix, not by ARN: one pattern for any number of applications (the config requires the prefix).
      this.userAlarmRule = new events.Rule(this, 'UserAlarmStateRule', {
        description: "rapid-failover: one of the applications' own alarms went into ALARM",
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: [ALARM_STATE_CHANGE],
          detail: { alarmName: events.Match.prefix(USER_ALARM_PREFIX), state: { value: ['ALARM'] } },
        },
        targets: [target],
      });
    }

    // Event patterns cannot match on instance tags: intake drops instances that serve no application.
    this.instanceStateRule = new events.Rule(this, 'InstanceStateRule', {
      description: 'rapid-failover: an EC2 instance is stopping or gone',
      eventPattern: {
        source: ['aws.ec2'],
        detailType: ['EC2 Instance State-change Notification'],
        detail: { state: [...INTAKE_INSTANCE_STATES] },
      },
      targets: [target],
    });

    this.operatorRule = new events.Rule(this, 'OperatorRule', {
      description: 'rapid-failover: operator switchover or drill',
      eventPattern: {
        source: [OPERATOR_EVENT_SOURCE],
        detailType: [OperatorDetailTypes.Switchover, OperatorDetailTypes.Drill],
      },
      targets: [target],
    });

    // A5: an application halted to make room for a higher-priority one fails over by its own policy.
    this.preemptedRule = new events.Rule(this, 'PreemptedRule', {
      description: 'rapid-failover: an application was preempted on its node',
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [ServiceDetailTypes.Down],
        detail: { reason: ['preempted'] },
      },
      targets: [target],
    });
  }

  /**
   * A Metrics Insights alarm (L1: the L2 Alarm takes a metric or math expression, not a query).
   * "Create a CloudWatch alarm based on a Metrics Insights query"
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Metrics_Insights_Alarm.html):
   * each time series the query returns is a contributor, evaluated on its own.
   */
  private fleetAlarm(id: string, props: { alarmName: string; alarmDescription: string; query: string }): cloudwatch.CfnAlarm {
    return new cloudwatch.CfnAlarm(this, id, {
      alarmName: props.alarmName,
      alarmDescription: props.alarmDescription,
      metrics: [{ id: 'm1', expression: props.query, period: FAILURE_RULE.periodSeconds, returnData: true }],
      threshold: FAILURE_RULE.threshold,
      comparisonOperator: FAILURE_RULE.comparison,
      evaluationPeriods: FAILURE_RULE.evaluationPeriods,
      datapointsToAlarm: FAILURE_RULE.datapointsToAlarm,
      // A node that does not report yet is not failing: a fresh stack starts nothing.
      treatMissingData: FAILURE_RULE.treatMissingData,
    });
  }

  /**
   * The preferred nodes carry the serving tag from deploy on, so the status-check alarm watches
   * them before any failover (afterwards the workflow moves the tag). One CreateTags call per
   * batch at create and when its list changes; a tag is no stack resource, so nothing drifts.
   * CreateTags takes "Up to 1000 resource IDs" (EC2 API reference, CreateTags): batches of
   * SERVING_TAG_BATCH keep each call at half that however many applications there are.
   */
  private tagPreferredNodes(nodeIds: string[], props: DetectionProps): cr.AwsCustomResource[] {
    const stack = Stack.of(this);
    // Its own role without AWS managed policies, and a log group with retention, like every other function here.
    const logGroup = new logs.LogGroup(this, 'ServingTagsLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, 'ServingTagsRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'rapid-failover: tags the preferred nodes serving at deploy',
    });
    logGroup.grantWrite(role);
    // By tag, not by instance ARN: a policy listing every preferred node outgrows IAM's limits (lib/permissions.ts).
    // On the role once, for every batch.
    for (const statement of servingTagStatements(stack, props.config)) role.addToPolicy(statement);
    const [region, account] = [stack.region, stack.account].map((v, i) => (Token.isUnresolved(v) ? `<AWS::${i === 0 ? 'Region' : 'AccountId'}>` : v));
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:${region}:${account}:instance/*]`,
      reason: 'The preferred nodes are reached by tag (a pool tag or rapid-failover:managed), not listed by ARN, so the policy does not grow with the applications; only the serving tag key may be written (aws:TagKeys).',
    });
    for (let start = 0; start < nodeIds.length; start += SERVING_TAG_BATCH) {
      const batch = nodeIds.slice(start, start + SERVING_TAG_BATCH);
      const n = start / SERVING_TAG_BATCH;
      const call: cr.AwsSdkCall = {
        service: 'EC2',
        action: 'CreateTags',
        parameters: { Resources: batch, Tags: [{ Key: SERVING_TAG.key, Value: SERVING_TAG.value }] },
        physicalResourceId: cr.PhysicalResourceId.of(`${this.alarmNames.prefix}serving-tags${n === 0 ? '' : `-${n}`}`),
      };
      this.servingTagBatches.push(
        new cr.AwsCustomResource(this, n === 0 ? 'ServingTags' : `ServingTags${n}`, { onCreate: call, onUpdate: call, role, logGroup, installLatestAwsSdk: false }),
      );
    }
    return this.servingTagBatches;
  }

  private performanceAlarm(app: Application, perf: PerformanceDetection): cloudwatch.Alarm {
    const n = performanceAlarmStackOf(app.name);
    let scope = this.performanceAlarmStacks.get(n);
    if (!scope) {
      scope = new NestedStack(this, `PerformanceAlarms${n}`, {
        description: `rapid-failover: performance alarms of the applications whose name hashes to ${n} of ${PERFORMANCE_ALARM_STACKS}`,
      });
      this.performanceAlarmStacks.set(n, scope);
    }
    return new cloudwatch.Alarm(scope, `${app.name}-performance`, {
      alarmName: this.alarmNames.performance(app.name),
      alarmDescription: `rapid-failover: ${app.name} ${perf.metricName} ${perf.comparison} ${perf.threshold} for ${perf.datapointsToAlarm} of ${perf.evaluationPeriods} periods of ${perf.periodSeconds}s`,
      metric: new cloudwatch.Metric({
        namespace: perf.namespace,
        metricName: perf.metricName,
        dimensionsMap: perf.dimensions,
        statistic: perf.statistic,
        period: Duration.seconds(perf.periodSeconds),
      }),
      threshold: perf.threshold,
      comparisonOperator: perf.comparison as cloudwatch.ComparisonOperator,
      evaluationPeriods: perf.evaluationPeriods,
      datapointsToAlarm: perf.datapointsToAlarm,
      // No data is not evidence of slowness; the failure alarms cover a silent host.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
