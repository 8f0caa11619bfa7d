// CloudWatch (alarms, the performance model, custom metrics), SNS and EventBridge.
import { DescribeAlarmsCommand, GetMetricDataCommand, PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { quietFleet, SECOND } from './clients.ts';

const MINUTE = 60 * SECOND;
const LATENCY = { namespace: 'Shop', metricName: 'LatencyMs', dimensions: { App: 'web' } };

describe('CloudWatch performance model', () => {
  it('serves per-period datapoints from the node running the application, time-weighted', async () => {
    const { fleet, clock, cloudwatch } = quietFleet();
    const start = clock.nowMs();
    fleet.bindMetric({ ...LATENCY, app: 'web', healthyValue: 100 });
    const node = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });

    clock.advance(2 * MINUTE);
    fleet.setPerformance('web', node, 900); // degraded from minute 2
    clock.advance(1.5 * MINUTE);
    fleet.setAppRunning(node, 'web', false); // and gone from minute 3.5
    clock.advance(2.5 * MINUTE);

    const { MetricDataResults } = await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(start),
        EndTime: new Date(start + 6 * MINUTE),
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [
          { Id: 'm', MetricStat: { Metric: { Namespace: 'Shop', MetricName: 'LatencyMs', Dimensions: [{ Name: 'App', Value: 'web' }] }, Period: 60, Stat: 'Average' } },
        ],
      }),
    );

    const result = MetricDataResults?.[0];
    expect(result?.Timestamps?.map((t) => (t.getTime() - start) / MINUTE)).toEqual([0, 1, 2, 3]);
    expect(result?.Values).toEqual([100, 100, 900, 900]);
    expect(result?.StatusCode).toBe('Complete');
  });

  it('follows the application to its new node after a failover', async () => {
    const { fleet, clock, cloudwatch } = quietFleet();
    const start = clock.nowMs();
    fleet.bindMetric({ ...LATENCY, app: 'web', healthyValue: 100 });
    const old = fleet.addInstance({ instanceType: 'm7i.large', apps: ['web'] });
    const next = fleet.addInstance({ instanceType: 'm7i.xlarge', installedApps: ['web'] });
    fleet.setPerformance('web', old, 800);

    clock.advance(MINUTE);
    fleet.setAppRunning(old, 'web', false);
    fleet.setAppRunning(next, 'web', true);
    clock.advance(MINUTE);

    const { MetricDataResults } = await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(start),
        EndTime: new Date(start + 2 * MINUTE),
        MetricDataQueries: [
          { Id: 'm', MetricStat: { Metric: { Namespace: 'Shop', MetricName: 'LatencyMs', Dimensions: [{ Name: 'App', Value: 'web' }] }, Period: 60, Stat: 'Average' } },
        ],
      }),
    );

    // Newest first (the default ScanBy).
    expect(MetricDataResults?.[0]?.Values).toEqual([100, 800]);
  });

  it('serves recorded PutMetricData points back by statistic', async () => {
    const { clock, cloudwatch } = quietFleet();
    const start = clock.nowMs();
    const metric = { Namespace: 'RapidFailover', MetricName: 'RecoverySeconds', Dimensions: [{ Name: 'App', Value: 'web' }] };

    await cloudwatch.send(new PutMetricDataCommand({ Namespace: 'RapidFailover', MetricData: [{ MetricName: 'RecoverySeconds', Dimensions: metric.Dimensions, Values: [40, 80], Counts: [1, 2] }] }));
    clock.advance(MINUTE);
    const query = (Stat: string) =>
      cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: new Date(start),
          EndTime: new Date(start + MINUTE),
          MetricDataQueries: [{ Id: 'r', MetricStat: { Metric: metric, Period: 60, Stat } }],
        }),
      );

    expect((await query('Maximum')).MetricDataResults?.[0]?.Values).toEqual([80]);
    expect((await query('SampleCount')).MetricDataResults?.[0]?.Values).toEqual([3]);
    expect((await query('Sum')).MetricDataResults?.[0]?.Values).toEqual([200]);
    await expect(cloudwatch.send(new PutMetricDataCommand({ Namespace: 'AWS/EC2', MetricData: [{ MetricName: 'x', Value: 1 }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });

  it('describes alarms in the state the scenario set', async () => {
    const { fleet, cloudwatch } = quietFleet();
    fleet.defineAlarm({ name: 'web-latency', namespace: 'Shop', metricName: 'LatencyMs', threshold: 500, comparisonOperator: 'GreaterThanThreshold', evaluationPeriods: 5, datapointsToAlarm: 3, period: 60, statistic: 'p99' });
    fleet.defineAlarm({ name: 'api-latency' });
    fleet.setAlarmState('web-latency', 'ALARM', 'Threshold Crossed: 3 out of the last 5 datapoints');

    const named = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ['web-latency'] }));
    const alarming = await cloudwatch.send(new DescribeAlarmsCommand({ StateValue: 'ALARM' }));

    expect(named.MetricAlarms?.[0]).toMatchObject({
      AlarmName: 'web-latency',
      AlarmArn: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-latency',
      StateValue: 'ALARM',
      ExtendedStatistic: 'p99',
      Threshold: 500,
    });
    expect(alarming.MetricAlarms?.map((a) => a.AlarmName)).toEqual(['web-latency']);
  });

  it('re-points an alarm with PutMetricAlarm, keeping its state, and creates new ones INSUFFICIENT_DATA', async () => {
    const { fleet, cloudwatch } = quietFleet();
    fleet.defineAlarm({ name: 'web-status-check', namespace: 'AWS/EC2', metricName: 'StatusCheckFailed', dimensions: { InstanceId: 'i-0aaaaaaaaaaaaaaaa' } });
    fleet.setAlarmState('web-status-check', 'OK');
    const put = (AlarmName: string, InstanceId: string) =>
      cloudwatch.send(
        new PutMetricAlarmCommand({
          AlarmName,
          Namespace: 'AWS/EC2',
          MetricName: 'StatusCheckFailed',
          Dimensions: [{ Name: 'InstanceId', Value: InstanceId }],
          Statistic: 'Maximum',
          Period: 60,
          EvaluationPeriods: 2,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        }),
      );

    await put('web-status-check', 'i-0bbbbbbbbbbbbbbbb');
    await put('api-status-check', 'i-0cccccccccccccccc');
    const { MetricAlarms } = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ['web-status-check', 'api-status-check'], AlarmTypes: ['MetricAlarm'] }));

    expect(MetricAlarms?.map((a) => [a.AlarmName, a.StateValue, a.Dimensions?.[0]?.Value])).toEqual([
      ['web-status-check', 'OK', 'i-0bbbbbbbbbbbbbbbb'],
      ['api-status-check', 'INSUFFICIENT_DATA', 'i-0cccccccccccccccc'],
    ]);
  });
});

describe('notifications', () => {
  it('records SNS messages and enforces the subject rules', async () => {
    const { fleet, sns } = quietFleet();
    const topic = 'arn:aws:sns:us-east-1:123456789012:failover-alerts';

    const { MessageId } = await sns.send(new PublishCommand({ TopicArn: topic, Subject: 'web: no eligible node', Message: 'details' }));

    expect(fleet.published()).toEqual([expect.objectContaining({ messageId: MessageId, topicArn: topic, subject: 'web: no eligible node', message: 'details' })]);
    await expect(sns.send(new PublishCommand({ TopicArn: topic, Subject: 'x'.repeat(100), Message: 'm' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(sns.send(new PublishCommand({ TopicArn: topic, Subject: 'two\nlines', Message: 'm' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });

  it('SNS Publish: "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100 characters long"', async () => {
    const { fleet, sns } = quietFleet();
    const topic = 'arn:aws:sns:us-east-1:123456789012:failover-alerts';
    // What core's describeAlert makes of a subject it has to cut: 99 characters ending in "…".
    const cut = `rapid-failover: café: ${'x'.repeat(76)}…`;

    await sns.send(new PublishCommand({ TopicArn: topic, Subject: cut, Message: 'm' }));

    expect([...cut]).toHaveLength(99);
    expect(fleet.published().map((p) => p.subject)).toEqual([cut]);
    await expect(sns.send(new PublishCommand({ TopicArn: topic, Subject: `${cut}x`, Message: 'm' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(sns.send(new PublishCommand({ TopicArn: topic, Subject: 'tab\there', Message: 'm' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('records EventBridge entries and reports malformed ones per entry', async () => {
    const { fleet, events } = quietFleet();

    const result = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'rapid-failover', DetailType: 'Service Up', Detail: JSON.stringify({ app: 'web', node: 'i-0123456789abcdef0' }) },
          { Source: 'rapid-failover', DetailType: 'Service Down', Detail: 'not json' },
        ],
      }),
    );

    expect(result.FailedEntryCount).toBe(1);
    expect(result.Entries?.[1]).toEqual({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' });
    expect(fleet.events()).toEqual([
      expect.objectContaining({ source: 'rapid-failover', detailType: 'Service Up', eventBusName: 'default', detail: { app: 'web', node: 'i-0123456789abcdef0' } }),
    ]);
  });
});
