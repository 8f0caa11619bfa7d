// A10/A15: the application's performance metric, as CloudWatch has it (GetMetricData).
import { GetMetricDataCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { PerformanceDetection } from '../../core/config.ts';

/**
 * The last `evaluationPeriods` datapoints ending at `end`, oldest first. The configured
 * dimensions are used as they are; an `InstanceId` dimension is pointed at `nodeId`, so the
 * metric read is the new node's.
 */
export async function readPerformance(cloudwatch: CloudWatchClient, perf: PerformanceDetection, nodeId: string, end: Date): Promise<number[]> {
  const start = new Date(end.getTime() - perf.periodSeconds * perf.evaluationPeriods * 1000);
  const dimensions = Object.entries(perf.dimensions).map(([Name, Value]) => ({ Name, Value: Name === 'InstanceId' ? nodeId : Value }));
  const values: { t: number; v: number }[] = [];
  let token: string | undefined;
  do {
    const out = await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        ScanBy: 'TimestampAscending',
        NextToken: token,
        MetricDataQueries: [
          {
            Id: 'perf',
            ReturnData: true,
            MetricStat: {
              Metric: { Namespace: perf.namespace, MetricName: perf.metricName, Dimensions: dimensions },
              Period: perf.periodSeconds,
              Stat: perf.statistic,
            },
          },
        ],
      }),
    );
    for (const result of out.MetricDataResults ?? []) {
      if (result.Id !== 'perf') continue;
      (result.Timestamps ?? []).forEach((timestamp, i) => {
        const v = result.Values?.[i];
        if (v !== undefined) values.push({ t: new Date(timestamp).getTime(), v });
      });
    }
    token = out.NextToken;
  } while (token);
  return values.sort((a, b) => a.t - b.t).map((p) => p.v);
}
