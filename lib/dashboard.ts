import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, METRICS_SERVICE, MetricNames, STACK_DIMENSION } from '../core/metrics.ts';

export interface DashboardProps {
  readonly stateMachine: sfn.StateMachine;
  /** @default `rapid-failover-<stackName>` */
  readonly dashboardName?: string;
  /** The handlers' metrics carry it as the `stack` dimension: the dashboard shows this stack's only. */
  readonly stackName: string;
}

/** Failovers started / succeeded / failed, RTO per failover and free pool nodes, from the handlers' EMF metrics. */
export class FailoverDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRICS_SERVICE, [STACK_DIMENSION]: props.stackName },
        statistic,
        period: Duration.minutes(5),
      });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `rapid-failover-${props.stackName}`,
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Failovers',
            left: [
              metric(MetricNames.FailoversStarted, 'Sum'),
              metric(MetricNames.FailoversSucceeded, 'Sum'),
              metric(MetricNames.FailoversFailed, 'Sum'),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'RTO per failover (seconds)',
            left: [metric(MetricNames.RtoSeconds, 'Maximum'), metric(MetricNames.RtoSeconds, 'Average')],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Free pool nodes',
            left: [metric(MetricNames.FreePoolNodes, 'Minimum')],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Workflow executions',
            left: [
              props.stateMachine.metricStarted(),
              props.stateMachine.metricSucceeded(),
              props.stateMachine.metricFailed(),
              props.stateMachine.metricTimedOut(),
            ],
            width: 12,
          }),
        ],
      ],
    });
  }
}
