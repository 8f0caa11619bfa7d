// CloudWatch: metrics (an application performance model, metrics AWS publishes itself such as
// EC2 status checks, and recorded PutMetricData points, all served by GetMetricData) and alarms
// that are EVALUATED from those datapoints on every period boundary in virtual time: threshold,
// comparison, M of N, missing data (alarm-evaluation.ts), and per time series for Metrics
// Insights alarms (metrics-insights.ts). State changes go out as the EventBridge events CloudWatch
// sends ("Alarm events and EventBridge"): "CloudWatch Alarm State Change" for an alarm,
// "CloudWatch Alarm Contributor State Change" for one time series of a Metrics Insights alarm.
//
// Performance model: a metric bound to an application reports, for each period, the time-weighted
// average of "how the application performs" on the node(s) running it during that period: the
// value a scenario set for (application, node), else the binding's healthy value. Periods in which
// no node runs the application have no datapoint (missing data), as for a stopped host.
import { createHash } from 'node:crypto';
import type {
  DescribeAlarmContributorsCommandInput,
  DescribeAlarmContributorsCommandOutput,
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
import { evaluate, evaluationRange, type AlarmState, type Comparison, type EvaluationRule, type TreatMissingData } from './alarm-evaluation.ts';
import { errorsFor, NotSimulatedError } from './errors.ts';
import { parseInsightsQuery, runInsightsQuery, type InsightsQuery, type InsightsSeries } from './metrics-insights.ts';
import type { World } from './model.ts';
import { paginate } from './query.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('cloudwatch');
const MINUTE_MS = 60_000;
const MAX_CONTRIBUTORS_IN_ALARM = 100;

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
  /** Seconds. */
  period?: number;
  /** A Metrics Insights query: one contributor per time series it returns (instead of namespace/metricName). */
  query?: string;
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

interface Contributor {
  id: string;
  attributes: Record<string, string>;
  state: 'OK' | 'ALARM';
  reason: string;
  updatedAt: number;
}

interface SimAlarm {
  definition: AlarmDefinition;
  query?: InsightsQuery;
  state: StateValue;
  reason: string;
  updatedAt: number;
  /** Metrics Insights alarms: the time series the query returned at the last evaluation. */
  contributors: Map<string, Contributor>;
}

interface RecordedSeries {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  /** Sorted by time. */
  points: Array<{ at: number; value: number }>;
}

/** One datapoint of a metric AWS publishes itself (EC2 status checks, ELB target counts). */
export interface VendedDatapoint {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  value: number;
}

/**
 * What an alarm's action sends when the alarm changes state: a notification to an SNS topic.
 * "Using Amazon CloudWatch alarms" → alarm actions: an alarm runs its actions for the state it
 * enters (ALARM → AlarmActions, OK → OKActions, INSUFFICIENT_DATA → InsufficientDataActions),
 * once per state change. ASSUMPTION (message shape): the subject `ALARM: "<name>" in <region>` and
 * a JSON body with the alarm's name, ARN, description, states and reason, as CloudWatch's email
 * notifications show them.
 */
export interface AlarmNotification {
  topicArn: string;
  alarmName: string;
  alarmArn: string;
  subject: string;
  message: string;
}

/** An event CloudWatch sends to EventBridge (source aws.cloudwatch). */
export interface AlarmEvent {
  detailType: 'CloudWatch Alarm State Change' | 'CloudWatch Alarm Contributor State Change';
  time: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface CloudWatchState {
  alarms: Map<string, SimAlarm>;
  bindings: MetricBinding[];
  /** `${app}|${instanceId}` → value changes over time. */
  performance: Map<string, Array<{ at: number; value: number }>>;
  /** Series key → points (PutMetricData and vended metrics). */
  recorded: Map<string, RecordedSeries>;
  /** What AWS services publish each minute, read from the fleet's state at that moment. */
  vended: Array<() => VendedDatapoint[]>;
  /** The resource tags of a metric's resource (Metrics Insights `tag.`), by its dimensions. */
  resourceTags: (dimensions: Readonly<Record<string, string>>) => Record<string, string>;
  /** Where alarm state changes go (EventBridge); none until the evaluation is started. */
  onEvent?: (event: AlarmEvent) => void;
  /** Where the alarms' SNS actions go (the topic decides whether CloudWatch may publish). */
  onNotification?: (notification: AlarmNotification) => void;
}

export function createCloudWatchState(): CloudWatchState {
  return { alarms: new Map(), bindings: [], performance: new Map(), recorded: new Map(), vended: [], resourceTags: () => ({}) };
}

export function defineAlarm(world: World, state: CloudWatchState, definition: AlarmDefinition): void {
  const existing = state.alarms.get(definition.name);
  let query: InsightsQuery | undefined;
  if (definition.query) {
    try {
      query = parseInsightsQuery(definition.query);
    } catch (e) {
      throw error('ValidationError', `Alarm ${definition.name}: ${(e as Error).message}`);
    }
  }
  state.alarms.set(definition.name, {
    definition,
    ...(query ? { query } : {}),
    state: existing?.state ?? 'INSUFFICIENT_DATA',
    reason: existing?.reason ?? 'Unchecked: Initial alarm creation',
    updatedAt: existing?.updatedAt ?? world.now(),
    contributors: existing?.contributors ?? new Map(),
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

// ---- recorded metrics ------------------------------------------------------------------------

function seriesKey(namespace: string, metricName: string, dimensions: Readonly<Record<string, string>>): string {
  const dims = Object.keys(dimensions)
    .sort()
    .map((k) => `${k}=${dimensions[k]}`)
    .join(',');
  return `${namespace}|${metricName}|${dims}`;
}

export function recordPoint(state: CloudWatchState, namespace: string, metricName: string, dimensions: Record<string, string>, at: number, value: number): void {
  const key = seriesKey(namespace, metricName, dimensions);
  let series = state.recorded.get(key);
  if (!series) {
    series = { namespace, metricName, dimensions: { ...dimensions }, points: [] };
    state.recorded.set(key, series);
  }
  const points = series.points;
  let i = points.length;
  while (i > 0 && points[i - 1]!.at > at) i--;
  points.splice(i, 0, { at, value });
}

/** Values recorded in [from, to). */
function pointsIn(series: RecordedSeries, from: number, to: number): number[] {
  const points = series.points;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.at < from) lo = mid + 1;
    else hi = mid;
  }
  const values: number[] = [];
  for (let i = lo; i < points.length && points[i]!.at < to; i++) values.push(points[i]!.value);
  return values;
}

/**
 * Publishes one datapoint per vended metric, for the minute starting at `at`. ASSUMPTION: EC2
 * runs its status checks once a minute and a datapoint holds the result at the start of its
 * minute (the metrics are "available at a 1-minute frequency"; when in the minute the check runs
 * is not documented).
 */
export function publishVendedMetrics(state: CloudWatchState, at: number): void {
  for (const sample of state.vended) {
    for (const point of sample()) recordPoint(state, point.namespace, point.metricName, point.dimensions, at, point.value);
  }
}

function vendedNow(state: CloudWatchState): Map<string, VendedDatapoint> {
  const now = new Map<string, VendedDatapoint>();
  for (const sample of state.vended) for (const point of sample()) now.set(seriesKey(point.namespace, point.metricName, point.dimensions), point);
  return now;
}

// ---- alarm evaluation ------------------------------------------------------------------------

function ruleOf(definition: AlarmDefinition): EvaluationRule {
  const evaluationPeriods = definition.evaluationPeriods ?? 1;
  return {
    threshold: definition.threshold ?? 0,
    comparison: (definition.comparisonOperator ?? 'GreaterThanThreshold') as Comparison,
    evaluationPeriods,
    datapointsToAlarm: definition.datapointsToAlarm ?? evaluationPeriods,
    treatMissingData: (definition.treatMissingData ?? 'missing') as TreatMissingData,
  };
}

function periodMs(definition: AlarmDefinition): number {
  return (definition.period ?? 60) * 1000;
}

/** Alarms a scenario only sets (no metric, no query) are not evaluated. */
function evaluable(alarm: SimAlarm): boolean {
  const d = alarm.definition;
  return alarm.query !== undefined || (d.namespace !== undefined && d.metricName !== undefined && d.threshold !== undefined && d.comparisonOperator !== undefined);
}

/** The virtual-clock step that reaches every alarm's period boundary and every minute. */
export function evaluationStepMs(state: CloudWatchState): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let step = MINUTE_MS;
  for (const alarm of state.alarms.values()) if (evaluable(alarm)) step = gcd(step, periodMs(alarm.definition));
  return step;
}

/** A single-metric alarm's datapoints over `periods` periods ending at `end`, oldest first. */
function metricDatapoints(world: World, state: CloudWatchState, d: AlarmDefinition, end: number, periods: number): Array<number | undefined> {
  const P = periodMs(d);
  const values: Array<number | undefined> = [];
  for (let k = periods; k >= 1; k--) {
    values.push(bucketValue(world, state, d.namespace!, d.metricName!, d.dimensions ?? {}, end - k * P, P, d.statistic ?? 'Average'));
  }
  return values;
}

/** What a single-metric alarm's next datapoints will be if nothing changes. */
function metricValueNow(world: World, state: CloudWatchState, d: AlarmDefinition, vended: Map<string, VendedDatapoint>): number | undefined {
  const { InstanceId: instanceId, ...rest } = d.dimensions ?? {};
  const binding = state.bindings.find((b) => b.namespace === d.namespace && b.metricName === d.metricName && sameDimensions(b.dimensions ?? {}, rest));
  const now = world.now();
  if (binding) return modelValue(world, state, binding, instanceId, now, now + 1, d.statistic ?? 'Average');
  return vended.get(seriesKey(d.namespace!, d.metricName!, d.dimensions ?? {}))?.value;
}

function insightsCatalog(state: CloudWatchState, vended?: Map<string, VendedDatapoint>): InsightsSeries[] {
  if (vended) {
    // The value each series reports now, whatever the range asked.
    return [...vended.values()].map((p) => ({ ...p, tags: state.resourceTags(p.dimensions), observations: () => [p.value] }));
  }
  return [...state.recorded.values()].map((s) => ({
    namespace: s.namespace,
    metricName: s.metricName,
    dimensions: s.dimensions,
    // The resource's tags at evaluation: "the alarm matches a metric only if its resource has the tag during the evaluation period" (Create a Metrics Insights alarm).
    tags: state.resourceTags(s.dimensions),
    observations: (from, to) => pointsIn(s, from, to),
  }));
}

function contributorId(alarm: string, attributes: Record<string, string>): string {
  return createHash('sha256').update(`${alarm}|${JSON.stringify(attributes)}`).digest('hex').slice(0, 16);
}

/** CloudWatch's timestamp format in alarm events: 2019-10-02T17:04:40.989+0000. */
function eventTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

function configurationOf(alarm: SimAlarm): Record<string, unknown> {
  const d = alarm.definition;
  const metrics = alarm.query
    ? [{ id: 'm1', expression: d.query, returnData: true, period: d.period ?? 60 }]
    : [{ id: 'm1', metricStat: { metric: { dimensions: d.dimensions ?? {}, name: d.metricName, namespace: d.namespace }, period: d.period ?? 60, stat: d.statistic ?? 'Average' }, returnData: true }];
  return { ...(d.description ? { description: d.description } : {}), metrics };
}

function transition(world: World, state: CloudWatchState, alarm: SimAlarm, next: StateValue, reason: string): void {
  const now = world.now();
  const previous = { value: alarm.state, reason: alarm.reason, timestamp: eventTimestamp(alarm.updatedAt) };
  alarm.reason = reason;
  if (next === alarm.state) return;
  alarm.state = next;
  alarm.updatedAt = now;
  notifyActions(world, state, alarm, previous.value, reason);
  state.onEvent?.({
    detailType: 'CloudWatch Alarm State Change',
    time: new Date(now).toISOString(),
    resources: [world.arn('cloudwatch', `alarm:${alarm.definition.name}`)],
    detail: {
      alarmName: alarm.definition.name,
      state: { value: next, reason, timestamp: eventTimestamp(now) },
      previousState: previous,
      configuration: configurationOf(alarm),
    },
  });
}

function notifyActions(world: World, state: CloudWatchState, alarm: SimAlarm, previous: StateValue, reason: string): void {
  const d = alarm.definition;
  if (d.actionsEnabled === false) return;
  const targets = alarm.state === 'ALARM' ? d.alarmActions : alarm.state === 'OK' ? d.okActions : d.insufficientDataActions;
  const alarmArn = world.arn('cloudwatch', `alarm:${d.name}`);
  for (const topicArn of (targets ?? []).filter((t) => t.includes(':sns:'))) {
    state.onNotification?.({
      topicArn,
      alarmName: d.name,
      alarmArn,
      subject: `${alarm.state}: "${d.name}" in ${world.region}`.slice(0, 99),
      message: JSON.stringify({
        AlarmName: d.name,
        AlarmDescription: d.description ?? null,
        AWSAccountId: world.accountId,
        NewStateValue: alarm.state,
        NewStateReason: reason,
        StateChangeTime: eventTimestamp(world.now()),
        Region: world.region,
        AlarmArn: alarmArn,
        OldStateValue: previous,
      }),
    });
  }
}

/** The alarm's state from its contributors: ALARM if one is; OK if any time series exists; else as missing data says. */
function stateFromContributors(rule: EvaluationRule, current: StateValue, alarming: number, total: number, breaching = alarming): { state: StateValue; reason: string } {
  // Limits (alarm-limits.html): "95 out of 150 time series evaluated to ALARM", or "100+ time series evaluated to ALARM".
  const counted = breaching > MAX_CONTRIBUTORS_IN_ALARM ? `${MAX_CONTRIBUTORS_IN_ALARM}+ time series` : `${alarming} out of ${total} time series`;
  if (total > 0) return { state: alarming > 0 ? 'ALARM' : 'OK', reason: `${counted} evaluated to ALARM` };
  const none = 'the query returned no time series';
  switch (rule.treatMissingData) {
    case 'breaching':
      return { state: 'ALARM', reason: `${none} (missing data treated as breaching)` };
    case 'notBreaching':
      return { state: 'OK', reason: `${none} (missing data treated as not breaching)` };
    case 'ignore':
      return { state: current, reason: `${none} (ignored)` };
    case 'missing':
      return { state: 'INSUFFICIENT_DATA', reason: none };
  }
}

/**
 * The contributors' states after an evaluation, in the query's order. "Each time series
 * (contributor) can only be in ALARM or OK state, never in INSUFFICIENT_DATA" (Acting on alarm
 * changes): undecided keeps the state. "Alarms evaluating multiple time series will limit the
 * number of contributors in ALARM to 100" (Limits, alarm-limits.html). ASSUMPTION: those already
 * in ALARM keep their place, then the next in the query's order; the rest stay OK, sending nothing.
 */
function contributorStates(evaluated: ReadonlyArray<{ before: 'OK' | 'ALARM' | undefined; result: AlarmState }>): Array<'OK' | 'ALARM'> {
  const wanted = evaluated.map(({ before, result }) => (result === 'INSUFFICIENT_DATA' ? (before ?? 'OK') : result));
  let room = MAX_CONTRIBUTORS_IN_ALARM - wanted.filter((w, i) => w === 'ALARM' && evaluated[i]!.before === 'ALARM').length;
  return wanted.map((w, i) => {
    if (w !== 'ALARM' || evaluated[i]!.before === 'ALARM') return w;
    if (room <= 0) return 'OK';
    room--;
    return 'ALARM';
  });
}

function evaluateAlarm(world: World, state: CloudWatchState, alarm: SimAlarm, end: number): void {
  const rule = ruleOf(alarm.definition);
  const periods = evaluationRange(rule);
  if (!alarm.query) {
    const result = evaluate(metricDatapoints(world, state, alarm.definition, end, periods), rule, alarm.state as AlarmState);
    transition(world, state, alarm, result.state, result.reason);
    return;
  }
  const name = alarm.definition.name;
  const series = runInsightsQuery(alarm.query, insightsCatalog(state), { end, periodMs: periodMs(alarm.definition), periods });
  const evaluated = series.map(({ attributes, values }) => {
    const id = contributorId(name, attributes);
    const before = alarm.contributors.get(id);
    return { id, attributes, before, result: evaluate(values, rule, before?.state ?? 'OK') };
  });
  const states = contributorStates(evaluated.map((e) => ({ before: e.before?.state, result: e.result.state })));
  const seen = new Map<string, Contributor>();
  let alarming = 0;
  evaluated.forEach(({ id, attributes, before, result }, i) => {
    const next = states[i]!;
    if (next === 'ALARM') alarming++;
    const contributor: Contributor = before ?? { id, attributes, state: 'OK', reason: '', updatedAt: world.now() };
    contributor.reason = result.reason;
    if (next !== contributor.state || (!before && next === 'ALARM')) {
      contributor.state = next;
      contributor.updatedAt = world.now();
      state.onEvent?.({
        detailType: 'CloudWatch Alarm Contributor State Change',
        time: new Date(world.now()).toISOString(),
        resources: [world.arn('cloudwatch', `alarm:${name}`)],
        detail: {
          alarmName: name,
          alarmContributor: { id, attributes },
          state: { value: next, reason: result.reason, timestamp: eventTimestamp(world.now()) },
          configuration: configurationOf(alarm),
        },
      });
    }
    seen.set(id, contributor);
  });
  // ASSUMPTION: a time series the query no longer returns (its instance untagged or gone) stops being a contributor, without an event.
  alarm.contributors = seen;
  const breaching = evaluated.filter((e) => e.result.state === 'ALARM').length;
  const overall = stateFromContributors(rule, alarm.state, alarming, seen.size, breaching);
  transition(world, state, alarm, overall.state, overall.reason);
}

/** Evaluates every alarm whose period ends at `now` (periods are aligned to the epoch, as CloudWatch aligns them to the clock). */
export function evaluateDueAlarms(world: World, state: CloudWatchState): void {
  const now = world.now();
  for (const alarm of state.alarms.values()) {
    if (evaluable(alarm) && now % periodMs(alarm.definition) === 0) evaluateAlarm(world, state, alarm, now);
  }
}

/**
 * Whether some alarm (or contributor) would still change state if nothing else changed: the
 * datapoints so far, followed by the value each metric reports now, evaluated period by period
 * until the whole evaluation range is made of such values. Returns what would change, or null.
 * The local runtime keeps virtual time running until this is null.
 */
export function pendingAlarmChange(world: World, state: CloudWatchState): string | null {
  const now = world.now();
  const vended = vendedNow(state);
  for (const alarm of state.alarms.values()) {
    if (!evaluable(alarm)) continue;
    const rule = ruleOf(alarm.definition);
    const P = periodMs(alarm.definition);
    const periods = evaluationRange(rule);
    const end = Math.floor(now / P) * P;
    const name = alarm.definition.name;
    if (!alarm.query) {
      const window = metricDatapoints(world, state, alarm.definition, end, periods);
      const future = metricValueNow(world, state, alarm.definition, vended);
      let current = alarm.state as AlarmState;
      for (let step = 0; step <= periods; step++) {
        const next = evaluate([...window.slice(step), ...Array<number | undefined>(step).fill(future)], rule, current).state;
        if (next !== alarm.state) return `${name} → ${next}`;
        current = next;
      }
      continue;
    }
    const past = runInsightsQuery(alarm.query, insightsCatalog(state), { end, periodMs: P, periods });
    const present = runInsightsQuery(alarm.query, insightsCatalog(state, vended), { end: now, periodMs: P, periods: 1 });
    const keyOf = (attributes: Record<string, string>) => JSON.stringify(attributes);
    const groups = new Map<string, { attributes: Record<string, string>; window: Array<number | undefined>; future: number | undefined }>();
    for (const r of past) groups.set(keyOf(r.attributes), { attributes: r.attributes, window: r.values, future: undefined });
    for (const r of present) {
      const group = groups.get(keyOf(r.attributes)) ?? { attributes: r.attributes, window: Array<number | undefined>(periods).fill(undefined), future: undefined };
      group.future = r.values[0];
      groups.set(keyOf(r.attributes), group);
    }
    const states = new Map<string, 'OK' | 'ALARM'>();
    for (let step = 0; step <= periods; step++) {
      const live = [...groups].flatMap(([key, group]) => {
        const window = [...group.window.slice(step), ...Array<number | undefined>(step).fill(group.future)];
        if (window.every((v) => v === undefined)) return [];
        const contributor = alarm.contributors.get(contributorId(name, group.attributes));
        const before = states.get(key) ?? contributor?.state;
        return [{ key, now: contributor?.state ?? 'OK', before, result: evaluate(window, rule, before ?? 'OK').state }];
      });
      const next = contributorStates(live);
      for (const [i, { key, now }] of live.entries()) {
        if (next[i] !== now) return `${name} contributor ${key} → ${next[i]}`;
        states.set(key, next[i]!);
      }
      const overall = stateFromContributors(rule, alarm.state, next.filter((n) => n === 'ALARM').length, live.length).state;
      if (overall !== alarm.state) return `${name} → ${overall}`;
    }
  }
  return null;
}

// ---- the API -----------------------------------------------------------------------------------

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

    // The contributors of a multi-time-series alarm that are in ALARM (CloudWatch API reference, DescribeAlarmContributors).
    DescribeAlarmContributors: (input: DescribeAlarmContributorsCommandInput): Output<DescribeAlarmContributorsCommandOutput> => {
      const alarm = input.AlarmName ? state.alarms.get(input.AlarmName) : undefined;
      if (!alarm) throw error('ResourceNotFoundException', `Alarm ${input.AlarmName ?? ''} does not exist`);
      return {
        AlarmContributors: [...alarm.contributors.values()]
          .filter((c) => c.state === 'ALARM')
          .map((c) => ({ ContributorId: c.id, ContributorAttributes: { ...c.attributes }, StateReason: c.reason, StateTransitionedTimestamp: new Date(c.updatedAt) })),
      };
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
    // its whole configuration (CloudWatch API reference, PutMetricAlarm). A Metrics Insights
    // alarm has one query in Metrics.
    PutMetricAlarm: (input: PutMetricAlarmCommandInput) => {
      if (!input.AlarmName) throw error('MissingParameter', 'The parameter AlarmName is required');
      const expressions = (input.Metrics ?? []).filter((m) => m.Expression);
      if ((input.Metrics?.length ?? 0) > 0 && !(input.Metrics!.length === 1 && expressions.length === 1 && /^\s*SELECT\b/i.test(expressions[0]!.Expression!))) {
        throw new NotSimulatedError('cloudwatch', 'PutMetricAlarm', 'metric math alarms (Metrics other than one Metrics Insights query)');
      }
      if (!input.EvaluationPeriods || input.EvaluationPeriods < 1) throw error('ValidationError', 'EvaluationPeriods must be at least 1');
      if (!input.ComparisonOperator) throw error('MissingParameter', 'The parameter ComparisonOperator is required');
      if (input.Statistic && input.ExtendedStatistic) throw error('InvalidParameterCombination', 'Statistic and ExtendedStatistic are mutually exclusive');
      if (input.DatapointsToAlarm !== undefined && input.DatapointsToAlarm > input.EvaluationPeriods) {
        throw error('ValidationError', 'DatapointsToAlarm must not exceed EvaluationPeriods');
      }
      const period = input.Period ?? expressions[0]?.Period;
      if (period !== undefined && ![10, 20, 30].includes(period) && period % 60 !== 0) {
        throw error('ValidationError', 'Period must be 10, 20, 30 or a multiple of 60');
      }
      defineAlarm(world, state, {
        name: input.AlarmName,
        ...(input.AlarmDescription !== undefined ? { description: input.AlarmDescription } : {}),
        ...(input.Namespace !== undefined ? { namespace: input.Namespace } : {}),
        ...(input.MetricName !== undefined ? { metricName: input.MetricName } : {}),
        ...(expressions[0]?.Expression ? { query: expressions[0].Expression } : {}),
        dimensions: Object.fromEntries((input.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? ''])),
        ...((input.Statistic ?? input.ExtendedStatistic) ? { statistic: input.Statistic ?? input.ExtendedStatistic } : {}),
        ...(period !== undefined ? { period } : {}),
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
        for (const value of values) recordPoint(state, input.Namespace, datum.MetricName, dimensions, at, value);
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
  const series = state.recorded.get(seriesKey(namespace, metricName, dimensions));
  return series ? aggregate(pointsIn(series, from, from + periodMs), stat) : undefined;
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
    ...(d.query ? { Metrics: [{ Id: 'm1', Expression: d.query, Period: d.period ?? 60, ReturnData: true }] } : {}),
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
