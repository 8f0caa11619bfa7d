import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Config } from '../core/config.ts';
import type { StackAlarmNames } from '../core/detection.ts';
import { failoverBound } from '../core/failover-bound.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE, MetricNames, STACK_DIMENSION } from '../core/metrics.ts';
import type { Workflow } from './workflow.ts';

export interface ControlPlaneAlarmsProps {
  readonly config: Config;
  readonly names: StackAlarmNames;
  readonly alertTopic: sns.ITopic;
  readonly intake: lambda.IFunction;
  /** EventBridge's dead-letter queue of the rules' target (events it could not deliver to intake). */
  readonly deadLetterQueue: sqs.IQueue;
  /** Intake's on-failure destination (events intake failed on after Lambda's retries). */
  readonly failedTriggers: sqs.IQueue;
  readonly workflow: Workflow;
  /** The state machine's timeout: an application whose longest failover is longer gets a synth warning. */
  readonly workflowTimeout: Duration;
}

/**
 * Nothing is lost silently: every place where a trigger or an execution can end without a
 * failover pages the administrators through the alert topic. All are named with the stack's
 * prefix (the topic admits only those), and none breaches on missing data.
 */
export class ControlPlaneAlarms extends Construct {
  public readonly undeliveredEvents: cloudwatch.Alarm;
  public readonly failedTriggers: cloudwatch.Alarm;
  public readonly intakeErrors: cloudwatch.Alarm;
  public readonly malformedEvents: cloudwatch.Alarm;
  public readonly failoverOverrun: cloudwatch.Alarm;
  /** The longest failover of any application, in seconds (core/failover-bound.ts). */
  public readonly longestFailoverSeconds: number;

  constructor(scope: Construct, id: string, props: ControlPlaneAlarmsProps) {
    super(scope, id);
    const { names } = props;
    const action = new cwActions.SnsAction(props.alertTopic);
    const alarm = (alarmId: string, what: string, alarmProps: Omit<cloudwatch.AlarmProps, 'alarmName' | 'evaluationPeriods'> & { evaluationPeriods?: number }) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarmProps,
        alarmName: names.controlPlane(what),
      });
      created.addAlarmAction(action);
      return created;
    };
    /**
     * A queue's depth, every 5 minutes. "Available CloudWatch metrics for Amazon SQS" (SQS
     * Developer Guide): ApproximateNumberOfMessagesVisible is reported while the queue is active,
     * and a queue nobody calls goes inactive: missing data then keeps the alarm as it was (ignore),
     * so a message nobody has looked at does not turn the alarm back to OK.
     */
    const depth = (queue: sqs.IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM });

    this.undeliveredEvents = alarm('UndeliveredEvents', 'undelivered-events', {
      alarmDescription: `rapid-failover: EventBridge could not deliver a trigger to intake; it is in queue ${props.deadLetterQueue.queueName} (message attributes RULE_ARN, ERROR_CODE, ERROR_MESSAGE): invoke intake with it once intake works`,
      metric: depth(props.deadLetterQueue),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    this.failedTriggers = alarm('FailedTriggers', 'failed-triggers', {
      alarmDescription: `rapid-failover: intake failed on a trigger after Lambda's retries (StartExecution throttled, DynamoDB unavailable...); the event and the error are in queue ${props.failedTriggers.queueName}: invoke intake with its requestPayload once the cause is gone`,
      metric: depth(props.failedTriggers),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    // Every failed attempt counts ("Lambda function metrics", Errors): the first retry is a minute later.
    this.intakeErrors = alarm('IntakeErrors', 'intake-errors', {
      alarmDescription: 'rapid-failover: intake failed on an event (Lambda retries it a minute and then two minutes later, then puts it in the failed-triggers queue); see the intake log',
      metric: props.intake.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    const ownMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRICS_SERVICE, [STACK_DIMENSION]: names.stackName },
        statistic,
        period: Duration.minutes(1),
      });
    this.malformedEvents = alarm('MalformedEvents', 'malformed-events', {
      alarmDescription: 'rapid-failover: intake rejected a malformed event (not retried, nothing started); the event and the reason are in the intake log ("malformed event rejected")',
      metric: ownMetric(MetricNames.MalformedEvents, cloudwatch.Stats.SUM),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    const bounds = props.config.applications.map(failoverBound).sort((a, b) => a.seconds - b.seconds);
    const [shortest, longest] = [bounds[0]!, bounds.at(-1)!];
    this.longestFailoverSeconds = longest.seconds;
    this.failoverOverrun = alarm('FailoverOverrun', 'failover-overrun', {
      // Bounded length (an alarm description holds at most 1,024 characters), whatever the number of applications.
      alarmDescription:
        "rapid-failover: a failover has run longer than the longest its application's config allows (core/failover-bound.ts: " +
        `${bounds.length} application(s), from ${shortest.seconds} s (${shortest.app}) to ${longest.seconds} s (${longest.app})): it is stuck; see its execution history`,
      metric: ownMetric(MetricNames.FailoverOverrunSeconds, cloudwatch.Stats.MAXIMUM),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const timeout = props.workflowTimeout.toSeconds();
    for (const bound of bounds.filter((b) => b.seconds >= timeout)) {
      Annotations.of(this).addWarningV2(
        `rapid-failover:longest-failover:${bound.app}`,
        `${bound.app}: its longest failover (${bound.attempts} attempts × ${bound.perAttemptSeconds} s + ${bound.seconds - bound.attempts * bound.perAttemptSeconds} s = ${bound.seconds} s; per attempt ${Object.entries(bound.terms).map(([k, v]) => `${k} ${v} s`).join(', ')}) is longer than the workflow's timeout of ${timeout} s; ` +
          'an execution that needs all of it is stopped by the timeout (the executions-timed-out alarm pages). Lower policy.maxAttempts or the timeoutSeconds of its provisioning and documents to fit',
      );
    }

    // The workflow's own alarms get the stack's names too (the topic admits only those).
    (props.workflow.failedAlarm.node.defaultChild as cloudwatch.CfnAlarm).alarmName = names.controlPlane('executions-failed');
    (props.workflow.timedOutAlarm.node.defaultChild as cloudwatch.CfnAlarm).alarmName = names.controlPlane('executions-timed-out');
  }
}
