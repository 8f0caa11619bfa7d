import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Application, Config, PerformanceDetection } from '../core/config.ts';
import { ALARM_PREFIX, alarmName, EVENT_SOURCE, OPERATOR_EVENT_SOURCE, OperatorDetailTypes, ServiceDetailTypes } from '../core/metrics.ts';

export interface DetectionProps {
  readonly config: Config;
  /** The intake Lambda that every detection rule targets. */
  readonly intake: lambda.IFunction;
  /** Where events go that could not be delivered to intake. */
  readonly deadLetterQueue: sqs.IQueue;
}

/** EC2 instance states that mean a serving node has gone (A11). */
export const INSTANCE_FAILURE_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'] as const;

/**
 * Per-application CloudWatch alarms (performance M-of-N, target health, status checks) and
 * the EventBridge rules that route their state changes, EC2 instance state changes and
 * operator requests to intake.
 */
export class Detection extends Construct {
  /** Alarms by application name. */
  public readonly alarms = new Map<string, cloudwatch.Alarm[]>();
  public readonly alarmRule: events.Rule;
  /** Only when some application lists alarms of its own. */
  public readonly userAlarmRule?: events.Rule;
  public readonly instanceStateRule: events.Rule;
  public readonly operatorRule: events.Rule;
  public readonly preemptedRule: events.Rule;

  constructor(scope: Construct, id: string, props: DetectionProps) {
    super(scope, id);
    const userAlarmArns: string[] = [];
    for (const app of props.config.applications) {
      this.alarms.set(app.name, this.alarmsFor(app));
      userAlarmArns.push(...app.detection.failure.alarmArns);
      if (app.detection.failure.statusChecks && !app.placement.preferredNode) {
        Annotations.of(this).addWarningV2(
          `rapid-failover:status-checks:${app.name}`,
          `${app.name}: status checks are watched from its first failover on (the workflow then points the alarm at the node it moved to); set placement.preferredNode to watch the node it runs on now`,
        );
      }
    }

    const target = new targets.LambdaFunction(props.intake, {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 8,
      maxEventAge: Duration.hours(1),
    });

    // By name prefix, not by ARN: the workflow re-points (re-creates) the status-check alarm
    // after each failover, and an alarm created after deploy must still reach intake.
    this.alarmRule = new events.Rule(this, 'AlarmStateRule', {
      description: 'rapid-failover: an alarm of the control plane went into ALARM',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: ALARM_PREFIX }], state: { value: ['ALARM'] } },
      },
      targets: [target],
    });
    if (userAlarmArns.length > 0) {
      this.userAlarmRule = new events.Rule(this, 'UserAlarmStateRule', {
        description: "rapid-failover: one of the applications' own alarms went into ALARM",
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          resources: [...new Set(userAlarmArns)],
          detail: { state: { value: ['ALARM'] } },
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
        detail: { state: [...INSTANCE_FAILURE_STATES] },
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

  private alarmsFor(app: Application): cloudwatch.Alarm[] {
    const alarms: cloudwatch.Alarm[] = [];
    const perf = app.detection.performance;
    if (perf) alarms.push(this.performanceAlarm(app, perf));

    const health = app.detection.failure.targetHealth;
    if (health) {
      const loadBalancer = loadBalancerDimension(health.loadBalancerArn);
      app.cluster.targetGroupArns.forEach((arn, index) => {
        alarms.push(
          this.failureAlarm(`${app.name}-target-health-${index}`, {
            alarmName: index === 0 ? alarmName(app.name, 'target-health') : `${alarmName(app.name, 'target-health')}-${index}`,
            alarmDescription: `rapid-failover: ${app.name} has unhealthy targets in ${arn}`,
            namespace: loadBalancer.startsWith('net/') ? 'AWS/NetworkELB' : 'AWS/ApplicationELB',
            metricName: 'UnHealthyHostCount',
            dimensionsMap: { LoadBalancer: loadBalancer, TargetGroup: targetGroupDimension(arn) },
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
        );
      });
    }

    // The serving node changes with every failover; the workflow re-points this alarm
    // (PutMetricAlarm) when a node takes over. At deploy time it watches the preferred node.
    const preferred = app.placement.preferredNode;
    if (app.detection.failure.statusChecks && preferred) {
      alarms.push(
        this.failureAlarm(`${app.name}-status-check`, {
          alarmName: alarmName(app.name, 'status-check'),
          alarmDescription: `rapid-failover: EC2 status checks fail on the node serving ${app.name}`,
          namespace: 'AWS/EC2',
          metricName: 'StatusCheckFailed',
          dimensionsMap: { InstanceId: preferred },
          // A node that stops reporting is no healthier than one that fails its checks.
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      );
    }
    return alarms;
  }

  /** A failure alarm: the metric's one-minute maximum is 1 or more for 2 of 2 minutes. */
  private failureAlarm(
    id: string,
    props: { alarmName: string; alarmDescription: string; namespace: string; metricName: string; dimensionsMap: Record<string, string>; treatMissingData: cloudwatch.TreatMissingData },
  ): cloudwatch.Alarm {
    const { namespace, metricName, dimensionsMap, ...alarm } = props;
    return new cloudwatch.Alarm(this, id, {
      ...alarm,
      metric: new cloudwatch.Metric({ namespace, metricName, dimensionsMap, statistic: 'Maximum', period: Duration.minutes(1) }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });
  }

  private performanceAlarm(app: Application, perf: PerformanceDetection): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, `${app.name}-performance`, {
      alarmName: alarmName(app.name, 'performance'),
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

/** CloudWatch's ELB dimensions are ARN tails: 'app/<name>/<id>' and 'targetgroup/<name>/<id>'. */
function loadBalancerDimension(arn: string): string {
  return arn.split(':loadbalancer/')[1] ?? arn;
}
function targetGroupDimension(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}
