// CloudWatch: alarms (PutMetricAlarm, DescribeAlarms; states set by the scenario, not evaluated),
// an application performance model (GetMetricData), and recorded custom metrics (PutMetricData,
// served back by GetMetricData).
//
// Performance model: a metric bound to an application reports, for each period, the time-weighted
// average of "how the application performs" on the node(s) running it during that period: the
// value a scenario set for (application, node), else the binding's healthy value. Periods in which
// no node runs the application have no datapoint (missing data), as for a stopped host.
import type {
  DescribeAlarmsCommandInput,
  DescribeAlarmsCommandOutput,
  Dimension,
  GetMetricDataCommandInput,
  GetMetricDataCommandOutput,
  MetricAlarm,
  MetricDataResult,
  PutMetricAlarmCommandInput,
  PutMetricDataCommandInput,
  StateValue,
  Statistic,
} from '@aws-sdk/client-cloudwatch';
import { errorsFor, NotSimulatedError } from './errors.ts';
import type { World } from './model.ts';
import { paginate } from './query.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('cloudwatch');

export interface MetricKey {
  namespace: string;
  metricName: string;
  /** Dimensions other than InstanceId (an InstanceId dimension in a query selects one node). */
  dimensions?: Record<string, string>;
}

export interface MetricBinding extends MetricKey {
  app: string;
  /** What the metric reads while the application performs normally. */
  healthyValue: number;
}

export interface AlarmDefinition {
  name: string;
  description?: string;
  namespace?: string;
  metricName?: string;
  dimensions?: Record<string, string>;
  statistic?: string;
  period?: number;
  evaluationPeriods?: number;
  datapointsToAlarm?: number;
  threshold?: number;
  comparisonOperator?: MetricAlarm['ComparisonOperator'];
  treatMissingData?: string;
  unit?: MetricAlarm['Unit'];
  actionsEnabled?: boolean;
  alarmActions?: string[];
  okActions?: string[];
  insufficientDataActions?: string[];
}

interface SimAlarm {
  definition: AlarmDefinition;
  state: StateValue;
  reason: string;
  updatedAt: number;
}

interface RecordedPoint {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  at: number;
  value: number;
}

export interface CloudWatchState {
  alarms: Map<string, SimAlarm>;
  bindings: MetricBinding[];
  /** `${app}|${instanceId}` → value changes over time. */
  performance: Map<string, Array<{ at: number; value: number }>>;
  recorded: RecordedPoint[];
}

export function createCloudWatchState(): CloudWatchState {
  return { alarms: new Map(), bindings: [], performance: new Map(), recorded: [] };
}

export function defineAlarm(world: World, state: CloudWatchState, definition: AlarmDefinition): void {
  const existing = state.alarms.get(definition.name);
  state.alarms.set(definition.name, {
    definition,
    state: existing?.state ?? 'INSUFFICIENT_DATA',
    reason: existing?.reason ?? 'Unchecked: Initial alarm creation',
    updatedAt: existing?.updatedAt ?? world.now(),
  });
}

export function setAlarmState(world: World, state: CloudWatchState, name: string, value: StateValue, reason?: string): void {
  if (!state.alarms.has(name)) defineAlarm(world, state, { name });
  const alarm = state.alarms.get(name)!;
  alarm.state = value;
  alarm.reason = reason ?? `Set by the simulation to ${value}`;
  alarm.updatedAt = world.now();
}

/** From now on, `app` on `instanceId` performs at `value` (undefined: back to the healthy value). */
export function setPerformance(world: World, state: CloudWatchState, app: string, instanceId: string, value: number | undefined): void {
  const key = `${app}|${instanceId}`;
  const history = state.performance.get(key) ?? [];
  history.push({ at: world.now(), value: value ?? Number.NaN });
  state.performance.set(key, history);
}

export function cloudWatchHandlers(world: World, state: CloudWatchState): Handlers {
  return {
    DescribeAlarms: (input: DescribeAlarmsCommandInput): Output<DescribeAlarmsCommandOutput> => {
      if (input.AlarmNames?.length && input.AlarmNamePrefix) {
        throw error('InvalidParameterCombination', 'AlarmNames and AlarmNamePrefix cannot be used together');
      }
      const wantMetricAlarms = !input.AlarmTypes?.length || input.AlarmTypes.includes('MetricAlarm');
      const alarms = wantMetricAlarms
        ? [...state.alarms.values()]
            .filter((a) => !input.AlarmNames?.length || input.AlarmNames.includes(a.definition.name))
            .filter((a) => !input.AlarmNamePrefix || a.definition.name.startsWith(input.AlarmNamePrefix))
            .filter((a) => !input.StateValue || a.state === input.StateValue)
        : [];
      const { page, nextToken } = paginate(alarms, input.MaxRecords, input.NextToken, { min: 1, max: 100, default: 50 }, error);
      return { MetricAlarms: page.map((a) => describeAlarm(world, a)), CompositeAlarms: [], ...(nextToken ? { NextToken: nextToken } : {}) };
    },

    GetMetricData: (input: GetMetricDataCommandInput): Output<GetMetricDataCommandOutput> => {
      const queries = input.MetricDataQueries ?? [];
      if (queries.length === 0 || queries.length > 500) throw error('InvalidParameterValue', 'MetricDataQueries must have 1 to 500 members');
      if (!input.StartTime || !input.EndTime) throw error('MissingParameter', 'StartTime and EndTime are required');
      const start = new Date(input.StartTime).getTime();
      const end = new Date(input.EndTime).getTime();
      if (!(start < end)) throw error('InvalidParameterValue', 'The parameter StartTime must be less than the parameter EndTime');
      const results: MetricDataResult[] = [];
      for (const query of queries) {
        if (!query.Id) throw error('MissingParameter', 'Each MetricDataQuery needs an Id');
        if (query.Expression) throw new NotSimulatedError('cloudwatch', 'GetMetricData', 'metric math expressions');
        const stat = query.MetricStat;
        if (!stat?.Metric?.MetricName || !stat.Metric.Namespace || !stat.Period || !stat.Stat) {
          throw error('InvalidParameterValue', `Query ${query.Id}: MetricStat needs Metric (Namespace, MetricName), Period and Stat`);
        }
        const periodMs = stat.Period * 1000;
        const dimensions = Object.fromEntries((stat.Metric.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? '']));
        const points: Array<[number, number]> = [];
        for (let bucket = Math.floor(start / periodMs) * periodMs; bucket < end && bucket <= world.now(); bucket += periodMs) {
          const value = bucketValue(world, state, stat.Metric.Namespace, stat.Metric.MetricName, dimensions, bucket, periodMs, stat.Stat);
          if (value !== undefined) points.push([bucket, value]);
        }
        if (input.ScanBy !== 'TimestampAscending') points.reverse();
        if (query.ReturnData === false) continue;
        results.push({
          Id: query.Id,
          Label: query.Label ?? stat.Metric.MetricName,
          Timestamps: points.map(([at]) => new Date(at)),
          Values: points.map(([, value]) => value),
          StatusCode: 'Complete',
          Messages: [],
        });
      }
      return { MetricDataResults: results, Messages: [] };
    },

    // Creating an alarm sets it to INSUFFICIENT_DATA; updating one keeps its state and replaces
    // its whole configuration (CloudWatch API reference, PutMetricAlarm). The simulation does not
    // evaluate alarms: a scenario sets their states.
    PutMetricAlarm: (input: PutMetricAlarmCommandInput) => {
      if (!input.AlarmName) throw error('MissingParameter', 'The parameter AlarmName is required');
      if (input.Metrics?.length) throw new NotSimulatedError('cloudwatch', 'PutMetricAlarm', 'metric math alarms (Metrics)');
      if (!input.EvaluationPeriods || input.EvaluationPeriods < 1) throw error('ValidationError', 'EvaluationPeriods must be at least 1');
      if (!input.ComparisonOperator) throw error('MissingParameter', 'The parameter ComparisonOperator is required');
      if (input.Statistic && input.ExtendedStatistic) throw error('InvalidParameterCombination', 'Statistic and ExtendedStatistic are mutually exclusive');
      if (input.DatapointsToAlarm !== undefined && input.DatapointsToAlarm > input.EvaluationPeriods) {
        throw error('ValidationError', 'DatapointsToAlarm must not exceed EvaluationPeriods');
      }
      if (input.Period !== undefined && ![10, 20, 30].includes(input.Period) && input.Period % 60 !== 0) {
        throw error('ValidationError', 'Period must be 10, 20, 30 or a multiple of 60');
      }
      defineAlarm(world, state, {
        name: input.AlarmName,
        ...(input.AlarmDescription !== undefined ? { description: input.AlarmDescription } : {}),
        ...(input.Namespace !== undefined ? { namespace: input.Namespace } : {}),
        ...(input.MetricName !== undefined ? { metricName: input.MetricName } : {}),
        dimensions: Object.fromEntries((input.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? ''])),
        ...((input.Statistic ?? input.ExtendedStatistic) ? { statistic: input.Statistic ?? input.ExtendedStatistic } : {}),
        ...(input.Period !== undefined ? { period: input.Period } : {}),
        evaluationPeriods: input.EvaluationPeriods,
        ...(input.DatapointsToAlarm !== undefined ? { datapointsToAlarm: input.DatapointsToAlarm } : {}),
        ...(input.Threshold !== undefined ? { threshold: input.Threshold } : {}),
        comparisonOperator: input.ComparisonOperator,
        ...(input.TreatMissingData !== undefined ? { treatMissingData: input.TreatMissingData } : {}),
        ...(input.Unit !== undefined ? { unit: input.Unit } : {}),
        actionsEnabled: input.ActionsEnabled ?? true,
        alarmActions: [...(input.AlarmActions ?? [])],
        okActions: [...(input.OKActions ?? [])],
        insufficientDataActions: [...(input.InsufficientDataActions ?? [])],
      });
      return {};
    },

    PutMetricData: (input: PutMetricDataCommandInput) => {
      if (!input.Namespace) throw error('MissingParameter', 'The parameter Namespace is required');
      if (input.Namespace.startsWith('AWS/')) throw error('InvalidParameterValue', `The value ${input.Namespace} for parameter Namespace is invalid.`);
      const data = input.MetricData ?? [];
      if (data.length > 1_000) throw error('InvalidParameterValue', 'MetricData may hold at most 1000 items');
      for (const datum of data) {
        if (!datum.MetricName) throw error('MissingParameter', 'MetricData members need a MetricName');
        const dimensions = Object.fromEntries((datum.Dimensions ?? []).map((d: Dimension) => [d.Name ?? '', d.Value ?? '']));
        const at = datum.Timestamp ? new Date(datum.Timestamp).getTime() : world.now();
        const values = datum.Values?.length
          ? datum.Values.flatMap((v, i) => Array.from({ length: datum.Counts?.[i] ?? 1 }, () => v))
          : datum.Value !== undefined
            ? [datum.Value]
            : [];
        for (const value of values) state.recorded.push({ namespace: input.Namespace, metricName: datum.MetricName, dimensions, at, value });
      }
      return {};
    },
  };
}

function sameDimensions(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function bucketValue(
  world: World,
  state: CloudWatchState,
  namespace: string,
  metricName: string,
  dimensions: Record<string, string>,
  from: number,
  periodMs: number,
  stat: string,
): number | undefined {
  const { InstanceId: instanceId, ...rest } = dimensions;
  const binding = state.bindings.find((b) => b.namespace === namespace && b.metricName === metricName && sameDimensions(b.dimensions ?? {}, rest));
  // The model has data up to now; the current period is partial.
  if (binding) return modelValue(world, state, binding, instanceId, from, Math.min(from + periodMs, world.now()), stat);
  const values = state.recorded
    .filter((p) => p.namespace === namespace && p.metricName === metricName && sameDimensions(p.dimensions, dimensions) && p.at >= from && p.at < from + periodMs)
    .map((p) => p.value);
  return aggregate(values, stat);
}

function aggregate(values: number[], stat: string): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'SampleCount':
      return values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    default: {
      const percentile = /^p(\d+(\.\d+)?)$/.exec(stat);
      if (!percentile) throw error('InvalidParameterValue', `The statistic '${stat}' is not valid`);
      const sorted = [...values].sort((a, b) => a - b);
      const rank = Math.ceil((Number(percentile[1]) / 100) * sorted.length);
      return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
    }
  }
}

/** Time-weighted over [from, to): the application's performance on the nodes running it. */
function modelValue(
  world: World,
  state: CloudWatchState,
  binding: MetricBinding,
  instanceId: string | undefined,
  from: number,
  to: number,
  stat: string,
): number | undefined {
  const events = world.appTimeline.filter((e) => e.app === binding.app && (instanceId === undefined || e.instanceId === instanceId));
  const cuts = new Set<number>([from]);
  for (const e of events) if (e.at > from && e.at < to) cuts.add(e.at);
  for (const [key, history] of state.performance) {
    if (!key.startsWith(`${binding.app}|`)) continue;
    for (const change of history) if (change.at > from && change.at < to) cuts.add(change.at);
  }
  const times = [...cuts].sort((a, b) => a - b);
  const segments: Array<{ weight: number; value: number }> = [];
  times.forEach((t, i) => {
    const next = times[i + 1] ?? to;
    if (next <= t) return;
    const running = new Map<string, boolean>();
    for (const e of events) if (e.at <= t) running.set(e.instanceId, e.running);
    const values = [...running].filter(([, on]) => on).map(([node]) => performanceAt(state, binding, node, t));
    if (values.length > 0) segments.push({ weight: next - t, value: values.reduce((a, b) => a + b, 0) / values.length });
  });
  if (segments.length === 0) return undefined;
  if (stat === 'Minimum') return Math.min(...segments.map((s) => s.value));
  if (stat === 'Maximum') return Math.max(...segments.map((s) => s.value));
  const weight = segments.reduce((a, s) => a + s.weight, 0);
  if (stat === 'SampleCount') return Math.max(1, Math.round(weight / 60_000));
  return segments.reduce((a, s) => a + s.value * s.weight, 0) / weight;
}

function performanceAt(state: CloudWatchState, binding: MetricBinding, instanceId: string, at: number): number {
  let value = Number.NaN;
  for (const change of state.performance.get(`${binding.app}|${instanceId}`) ?? []) if (change.at <= at) value = change.value;
  return Number.isNaN(value) ? binding.healthyValue : value;
}

function describeAlarm(world: World, alarm: SimAlarm): MetricAlarm {
  const d = alarm.definition;
  const standard = ['Average', 'Sum', 'SampleCount', 'Minimum', 'Maximum'];
  return {
    AlarmName: d.name,
    AlarmArn: world.arn('cloudwatch', `alarm:${d.name}`),
    ...(d.description ? { AlarmDescription: d.description } : {}),
    ActionsEnabled: d.actionsEnabled ?? true,
    AlarmActions: [...(d.alarmActions ?? [])],
    OKActions: [...(d.okActions ?? [])],
    InsufficientDataActions: [...(d.insufficientDataActions ?? [])],
    StateValue: alarm.state,
    StateReason: alarm.reason,
    StateUpdatedTimestamp: new Date(alarm.updatedAt),
    StateTransitionedTimestamp: new Date(alarm.updatedAt),
    ...(d.namespace ? { Namespace: d.namespace } : {}),
    ...(d.metricName ? { MetricName: d.metricName } : {}),
    Dimensions: Object.entries(d.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
    ...(d.statistic
      ? standard.includes(d.statistic)
        ? { Statistic: d.statistic as Statistic }
        : { ExtendedStatistic: d.statistic }
      : {}),
    ...(d.period !== undefined ? { Period: d.period } : {}),
    ...(d.evaluationPeriods !== undefined ? { EvaluationPeriods: d.evaluationPeriods } : {}),
    ...(d.datapointsToAlarm !== undefined ? { DatapointsToAlarm: d.datapointsToAlarm } : {}),
    ...(d.threshold !== undefined ? { Threshold: d.threshold } : {}),
    ...(d.comparisonOperator ? { ComparisonOperator: d.comparisonOperator } : {}),
    ...(d.unit ? { Unit: d.unit } : {}),
    TreatMissingData: d.treatMissingData ?? 'missing',
  };
}
