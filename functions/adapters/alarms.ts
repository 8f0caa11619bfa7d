// Re-points the application's status-check alarm (rapid-failover-<app>-status-check) at the
// node now serving it: the alarm is read and written back with only the InstanceId changed.
import { DescribeAlarmsCommand, PutMetricAlarmCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { alarmName } from '../../core/metrics.ts';

/** Returns false when the alarm does not exist (the stack creates it only with a preferred node). */
export async function repointStatusAlarm(cloudwatch: CloudWatchClient, app: string, nodeId: string): Promise<boolean> {
  const name = alarmName(app, 'status-check');
  const out = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ['MetricAlarm'] }));
  const alarm = out.MetricAlarms?.[0];
  if (!alarm) return false;
  const dimensions = (alarm.Dimensions ?? []).filter((d) => d.Name !== 'InstanceId');
  if ((alarm.Dimensions ?? []).some((d) => d.Name === 'InstanceId' && d.Value === nodeId)) return true;
  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      AlarmDescription: alarm.AlarmDescription,
      ActionsEnabled: alarm.ActionsEnabled,
      AlarmActions: alarm.AlarmActions,
      OKActions: alarm.OKActions,
      InsufficientDataActions: alarm.InsufficientDataActions,
      Namespace: alarm.Namespace ?? 'AWS/EC2',
      MetricName: alarm.MetricName ?? 'StatusCheckFailed',
      Dimensions: [...dimensions, { Name: 'InstanceId', Value: nodeId }],
      Statistic: alarm.Statistic,
      ExtendedStatistic: alarm.ExtendedStatistic,
      Period: alarm.Period ?? 60,
      EvaluationPeriods: alarm.EvaluationPeriods ?? 2,
      DatapointsToAlarm: alarm.DatapointsToAlarm,
      Threshold: alarm.Threshold ?? 1,
      ComparisonOperator: alarm.ComparisonOperator ?? 'GreaterThanOrEqualToThreshold',
      TreatMissingData: alarm.TreatMissingData,
      Unit: alarm.Unit,
    }),
  );
  return true;
}
