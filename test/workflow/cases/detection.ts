// End to end on the synthesized stack: the simulated CloudWatch evaluates the template's own
// alarms from metric datapoints on every period boundary (threshold, comparison, M of N, missing
// data, one contributor per time series), and their events reach intake only through the
// template's EventBridge rules (A10, A11, A12). Rules: "Evaluating an alarm" and "Configuring how
// CloudWatch alarms treat missing data" (local/fleet/alarm-evaluation.ts).
import type { DescribeAlarmContributorsCommandOutput, DescribeAlarmsCommandOutput, GetMetricDataCommandOutput } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { stackAlarmNames } from '../../../core/detection.ts';
import type { SimulatedFleet } from '../../../local/fleet/index.ts';
import { SIMULATION_EPOCH } from '../../../local/runtime/simulation.ts';
import { LOCAL_STACK_NAME } from '../../../local/runtime/synthesize.ts';
import { app, incidentsOf, node, nodeId, performance, scenario, servingNodes, type TimelineInput } from '../fixtures.ts';
import type { Run, RunOptions } from '../harness.ts';

/** The local runtime's stack names its alarms `rapid-failover.RapidFailoverLocal.…`. */
const LOCAL_ALARMS = stackAlarmNames(LOCAL_STACK_NAME);
const STATUS_CHECK_ALARM = LOCAL_ALARMS.statusChecks;

/** Seconds since the scenario began. */
const at = (iso: string) => (Date.parse(iso) - SIMULATION_EPOCH.getTime()) / 1000;

/** Keeps the fleet, to read what CloudWatch holds once the run is over. */
function keepFleet(): { options: RunOptions; fleet: () => SimulatedFleet } {
  let kept: SimulatedFleet | undefined;
  return {
    options: { beforeRun: ({ fleet }) => void (kept = fleet) },
    fleet: () => kept ?? (() => { throw new Error('the run did not start') })(),
  };
}

function alarmNamed(fleet: SimulatedFleet, name: string) {
  const out = fleet.answerNow('cloudwatch', 'DescribeAlarms', { AlarmNames: [name] }) as DescribeAlarmsCommandOutput;
  const alarm = out.MetricAlarms?.[0];
  if (!alarm) throw new Error(`no alarm ${name}`);
  return alarm;
}

/** The orders metric, one value per minute of [0, minutes) (undefined: no datapoint). */
function ordersPerMinute(fleet: SimulatedFleet, minutes: number): Array<number | undefined> {
  const out = fleet.answerNow('cloudwatch', 'GetMetricData', {
    StartTime: SIMULATION_EPOCH,
    EndTime: new Date(SIMULATION_EPOCH.getTime() + minutes * 60_000),
    ScanBy: 'TimestampAscending',
    MetricDataQueries: [{ Id: 'm1', MetricStat: { Metric: { Namespace: 'Workflow/Test', MetricName: 'RequestsPerSecond', Dimensions: [{ Name: 'Service', Value: 'orders' }] }, Period: 60, Stat: 'Average' } }],
  }) as GetMetricDataCommandOutput;
  const result = out.MetricDataResults![0]!;
  const byMinute = new Map(result.Timestamps!.map((t, i) => [(new Date(t).getTime() - SIMULATION_EPOCH.getTime()) / 60_000, result.Values![i]]));
  return Array.from({ length: minutes }, (_, m) => byMinute.get(m));
}

/**
 * The control plane's own costs (EventBridge delivery, intake's cold start, state transitions)
 * at zero: these cases time the ALARM itself, which is when the workflow's first step then starts.
 */
const AT_ALARM_TIME = { lambda: { coldStartMs: 0, invokeMs: 0 }, stepFunctions: { stateTransitionMs: 0 }, eventBridge: { deliveryMs: 0 } };

/** orders: below 100 req/s is bad, 2 of 3 one-minute periods (healthy: 200). */
function ordersScenario(name: string, timeline: TimelineInput[]) {
  return scenario({
    name,
    applications: [app('orders', { detection: { performance: performance('orders') } })],
    instances: [node(1, { runs: ['orders'] }), node(2, { type: 'm7i.2xlarge' })],
    timeline,
    latency: AT_ALARM_TIME,
  });
}

/** Registers the cases; `run` runs a scenario and checks the invariants every run must keep. */
export function detectionCases(run: Run): void {
  describe('A10: the performance alarm is evaluated from its datapoints (M of N)', () => {
    it('A10: a dip of M-1 periods below the threshold raises nothing, because the alarm evaluated it and stayed OK', async () => {
      const kept = keepFleet();
      // Bad from +60 s to +120 s: one full bad one-minute period; the alarm needs 2 of 3.
      const s = ordersScenario('dip-m-minus-1', [
        { at: 60, event: 'performance-degraded', app: 'orders', value: 20 },
        { at: 120, event: 'performance-recovered', app: 'orders' },
      ]);

      const result = await run(s, kept.options);

      expect(incidentsOf(result, 'orders')).toEqual([]);
      expect(ordersPerMinute(kept.fleet(), 2)).toEqual([200, 20]);
      // Evaluated (not left INSUFFICIENT_DATA by a runtime that never looked): the bad datapoint was counted and was not enough.
      const alarm = alarmNamed(kept.fleet(), LOCAL_ALARMS.performance('orders'));
      expect(alarm.StateValue).toBe('OK');
      expect(alarm.StateReason).toMatch(/^Threshold Crossed: \d out of the last 3 datapoints were not less than the threshold \(100\.0\)/);
    });

    it('A10: the same dip lasting M periods raises ALARM at the end of its M-th bad period, and the application fails over', async () => {
      // Bad from +30 s: [0, 60) averages 110 (not bad), [60, 120) and [120, 180) are bad: ALARM at +180 s.
      const s = ordersScenario('dip-m', [
        { at: 30, event: 'performance-degraded', app: 'orders', value: 20 },
        { at: 180, event: 'performance-recovered', app: 'orders' },
      ]);

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'orders');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'performance', outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(2) });
      expect(at(incident!.steps[0]!.startedAt)).toBe(180);
    });

    it('A10: M of N need not be consecutive: bad, good, bad is 2 of 3', async () => {
      const s = ordersScenario('m-of-n', [
        { at: 60, event: 'performance-degraded', app: 'orders', value: 20 },
        { at: 120, event: 'performance-recovered', app: 'orders' },
        { at: 180, event: 'performance-degraded', app: 'orders', value: 20 },
        { at: 240, event: 'performance-recovered', app: 'orders' },
      ]);

      const result = await run(s);

      const [incident, ...others] = incidentsOf(result, 'orders');
      expect(others).toEqual([]);
      expect(incident).toMatchObject({ trigger: 'performance', outcome: 'failed-over' });
      expect(at(incident!.steps[0]!.startedAt)).toBe(240);
    });

    it('A10: a degradation that stays on the good side of the threshold raises nothing, however long it lasts', async () => {
      const kept = keepFleet();
      const s = ordersScenario('above-threshold', [{ at: 60, event: 'performance-degraded', app: 'orders', value: 150 }]);

      const result = await run(s, kept.options);

      expect(incidentsOf(result, 'orders')).toEqual([]);
      expect(alarmNamed(kept.fleet(), LOCAL_ALARMS.performance('orders')).StateValue).toBe('OK');
    });
  });

  describe('A11: the status-check alarm over the serving tag', () => {
    it('A11: missing data does not breach: a stack deployed while the node it watches reports nothing starts no failover', async () => {
      const kept = keepFleet();
      // web's preferred node is stopped when the stack is deployed: no status checks, no performance datapoints.
      const s = scenario({
        name: 'deployed-before-reporting',
        applications: [app('web', { detection: { performance: performance('web'), failure: { statusChecks: true } } })],
        instances: [node(1, { runs: ['web'], state: 'stopped' }), node(2)],
        // Nothing happens for ten minutes (a recovery with nothing to recover from).
        timeline: [{ at: 600, event: 'performance-recovered', app: 'web' }],
      });

      // Not the invariants: web is down on purpose (its node is stopped) and nobody is paged for that here.
      const result = await run(s, { ...kept.options, invariants: false });

      expect(result.incidents).toEqual([]);
      expect(result.virtualSeconds).toBeGreaterThanOrEqual(600);
      const status = alarmNamed(kept.fleet(), STATUS_CHECK_ALARM);
      expect([status.StateValue, status.StateReason]).toEqual(['OK', 'the query returned no time series (missing data treated as not breaching)']);
      expect(alarmNamed(kept.fleet(), LOCAL_ALARMS.performance('web')).StateValue).toBe('OK');
    });

    it('A11/A12: after a failover the status checks of the node it moved to are watched (its serving tag), with no alarm rewritten', async () => {
      const kept = keepFleet();
      const s = scenario({
        name: 'follows-the-tag',
        latency: AT_ALARM_TIME,
        applications: [app('api', { detection: { performance: performance('api'), failure: { statusChecks: true } } })],
        instances: [node(1, { runs: ['api'] }), node(2, { type: 'm7i.2xlarge' }), node(3, { type: 'm7i.2xlarge' }), node(4)],
        timeline: [
          { at: 60, event: 'performance-degraded', app: 'api', value: 20 },
          { at: 600, event: 'performance-recovered', app: 'api' },
          // A free pool node fails: it serves nothing and carries no serving tag, so nothing watches it.
          { at: 900, event: 'instance-failed', node: nodeId(4) },
          { at: 1200, event: 'instance-failed', node: nodeId(2) },
        ],
      });

      const result = await run(s, kept.options);

      const [performanceFailover, statusFailover, ...others] = incidentsOf(result, 'api');
      expect(others).toEqual([]);
      expect(performanceFailover).toMatchObject({ trigger: 'performance', outcome: 'failed-over', fromNode: nodeId(1), toNode: nodeId(2) });
      expect(statusFailover).toMatchObject({ trigger: 'failure', outcome: 'failed-over', fromNode: nodeId(2), triggerSource: expect.stringMatching(new RegExp(`^${STATUS_CHECK_ALARM}/[0-9a-f]{16}$`)) });
      // StatusCheckFailed reads 1 from +20:00: two bad one-minute periods end at +22:00.
      expect(at(statusFailover!.steps[0]!.startedAt)).toBe(1320);
      expect(servingNodes(result, 'api')).not.toContain(nodeId(2));
      // The alarm was never written at run time; node 4 never became a contributor.
      expect(result.apiCalls.byCommand['cloudwatch:PutMetricAlarm']).toBeUndefined();
      expect(result.apiCalls.byCommand['cloudwatch:DescribeAlarms']).toBeUndefined();
      const contributors = kept.fleet().answerNow('cloudwatch', 'DescribeAlarmContributors', { AlarmName: STATUS_CHECK_ALARM }) as DescribeAlarmContributorsCommandOutput;
      expect(contributors.AlarmContributors).toEqual([]);
    });
  });
}
