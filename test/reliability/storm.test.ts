// Storm: 50 trigger deliveries (duplicates among them) for 20 applications at once, against a
// pool of 10 free nodes. The deliveries are counted as intake received them; a repeated event is
// answered with its open execution, and every other delivery about an application that moved is
// folded into the incident that moved it (a known gap for the others: see below). Exactly 10
// failovers; every other application takes the no-eligible path its trigger asks for
// (performance: stay, A14; failure: alert, A14, one alert per alerted incident); no node is given twice.
import { describe, expect, it } from 'vitest';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import type { ProgressEvent } from '../../local/runtime/simulation.ts';
import { concurrencyAppName, concurrencyMethod, concurrencyScenario } from '../../bench/scenarios.ts';
import { app, incidentsOf, node, nodeId, performance, POOLS, scenario, type TimelineInput } from '../workflow/fixtures.ts';
import { expectReliable, simulate } from './harness.ts';

const dynamoEndpoint = sharedDynamoEndpoint();

const name = (i: number) => `app-${String(i).padStart(2, '0')}`;
/** app-00 … app-09 are slow (performance trigger), app-10 … app-19 lose their host (failure trigger). */
const SLOW = Array.from({ length: 10 }, (_, i) => name(i));
const FAILED = Array.from({ length: 10 }, (_, i) => name(i + 10));
const home = (i: number) => nodeId(i + 1);
const FREE = Array.from({ length: 10 }, (_, i) => nodeId(21 + i));

function stormScenario() {
  const timeline: TimelineInput[] = [];
  SLOW.forEach((a) => {
    // The alarm goes off at 150 s (2 of 3 one-minute periods) and EventBridge delivers it twice more.
    timeline.push({ at: 30, event: 'performance-degraded', app: a, value: 10 });
    timeline.push({ at: 150, event: 'duplicate-alarm', app: a, times: 2 });
  });
  FAILED.forEach((a, k) => {
    const i = k + 10;
    // The status-check alarm goes off at 150 s; half of the hosts are also stopped then (two EC2 state changes each).
    timeline.push({ at: 30, event: 'instance-failed', node: home(i) });
    if (k < 5) timeline.push({ at: 150, event: 'instance-stopped', node: home(i) });
  });
  return scenario({
    name: 'storm',
    applications: [
      ...SLOW.map((a) => app(a, { detection: { performance: performance(a, 100), failure: { statusChecks: true } } })),
      ...FAILED.map((a) => app(a)),
    ],
    instances: [...[...SLOW, ...FAILED].map((a, i) => node(i + 1, { runs: [a] })), ...FREE.map((_, k) => node(21 + k))],
    timeline,
    runForSeconds: 3_600,
  });
}

/** The events intake was handed during a run, each with what it did (incident ids started, deduplicated, ignored). */
type Delivery = NonNullable<ProgressEvent['delivery']>;

/** The application an incident id is about: ids are <time>-<app>-<trigger>-<hash>. */
const appOfIncident = (id: string) => id.split('-').slice(1, -2).join('-');

describe('storm', () => {
  it('50 triggers for 20 applications, 10 free nodes: exactly 10 failovers, the rest stay (performance) or alert (failure); repeats and deliveries about a moved application deduplicated', async () => {
    const s = stormScenario();
    const deliveries: Delivery[] = [];

    const run = await simulate(s, { dynamoEndpoint, onProgress: (e) => e.delivery && deliveries.push(e.delivery) });
    const { result } = run;

    expectReliable(run, s);
    // The deliveries the storm made, by what they were: each slow application's evaluated ALARM and
    // the duplicates EventBridge re-delivered; each failed host's status-check contributor; each
    // stopped host's 'stopping' state change (its 'stopped' goes to the callback, not to intake:
    // INTAKE_INSTANCE_STATES, lib/detection.ts).
    const count = (detailType: string) => deliveries.filter((d) => d.detailType === detailType).length;
    const planned = {
      alarms: SLOW.length + s.timeline.filter((e) => e.event === 'duplicate-alarm').reduce((n, e) => n + (e.event === 'duplicate-alarm' ? e.times : 0), 0),
      contributors: s.timeline.filter((e) => e.event === 'instance-failed').length,
      ec2: s.timeline.filter((e) => e.event === 'instance-stopped').length,
    };
    expect({
      alarms: count('CloudWatch Alarm State Change'),
      contributors: count('CloudWatch Alarm Contributor State Change'),
      ec2: count('EC2 Instance State-change Notification'),
    }, 'deliveries made, by kind').toEqual(planned);
    expect(deliveries.length, 'nothing else reached intake').toBe(planned.alarms + planned.contributors + planned.ec2);
    expect(deliveries.flatMap((d) => d.ignored), 'deliveries intake ignored').toEqual([]);

    // Every delivery is one incident of the report.
    const ids = deliveries.flatMap((d) => [...d.started, ...d.deduplicated]);
    const perApp = new Map<string, string[]>();
    for (const id of ids) perApp.set(appOfIncident(id), [...(perApp.get(appOfIncident(id)) ?? []), id]);
    expect([...perApp.keys()].sort(), 'applications the deliveries were about').toEqual([...SLOW, ...FAILED].sort());
    expect(result.incidents.length, 'incidents reported: one per delivery').toBe(ids.length);
    const deduplicated = (a: string) => incidentsOf(result, a).filter((i) => i.outcome === 'deduplicated');
    // A delivery of an event already delivered (same incident id: the duplicated ALARM, whose
    // execution is still open) is answered by Step Functions with the running execution.
    const repeats = (a: string) => perApp.get(a)!.length - new Set(perApp.get(a)).size;
    const sameExecution = (a: string) => deduplicated(a).filter((i) => i.explanation.some((line) => line.includes('Step Functions answered with that execution'))).length;
    expect(
      Object.fromEntries([...perApp.keys()].map((a) => [a, sameExecution(a)])),
      'deliveries answered with the open execution of the same name, per application',
    ).toEqual(Object.fromEntries([...perApp.keys()].map((a) => [a, repeats(a)])));
    // An application that moved: one incident did the work and every other delivery about it was
    // deduplicated (the same execution, or folded into the incident holding the lock).
    const movedApps = [...new Set(result.incidents.filter((i) => i.outcome === 'failed-over').map((i) => i.app))];
    expect(
      Object.fromEntries(movedApps.map((a) => [a, deduplicated(a).length])),
      'deduplicated incidents per application that moved: every delivery but the first',
    ).toEqual(Object.fromEntries(movedApps.map((a) => [a, perApp.get(a)!.length - 1])));
    // KNOWN GAP (B3, documented here): an incident that does not move its application (stayed,
    // alerted) releases the lock within seconds; a later, distinct trigger of the same problem
    // (the evaluated ALARM after the injected one; the status-check alarm after the EC2 stop)
    // then starts an incident of its own, which stays or alerts again. Such incidents never run at
    // once (the lock), and each alerted one sends exactly one alert.
    for (const a of [...perApp.keys()].filter((x) => !movedApps.includes(x))) {
      const spans = incidentsOf(result, a)
        .filter((i) => i.outcome !== 'deduplicated')
        .map((i) => [i.steps[0]?.startedAt ?? '', i.steps.at(-1)?.endedAt ?? ''] as const)
        .sort();
      spans.slice(1).forEach(([startedAt], k) => expect(startedAt >= spans[k]![1], `${a}: an incident started at ${startedAt}, before the one before it ended at ${spans[k]![1]}`).toBe(true));
    }

    const failovers = result.incidents.filter((i) => i.outcome === 'failed-over');
    expect(failovers, 'failovers').toHaveLength(10);
    expect(new Set(failovers.map((i) => i.app)).size, 'no application failed over twice').toBe(10);
    expect(new Set(failovers.map((i) => i.toNode)), 'each free node taken once').toEqual(new Set(FREE));

    const moved = new Set(failovers.map((i) => i.app));
    const outcomes = (a: string) => incidentsOf(result, a).map((i) => i.outcome);
    const alertsAbout = (a: string) => result.notifications.filter((n) => n.subject.startsWith(`rapid-failover: ${a}:`));
    const stayed = SLOW.filter((a) => !moved.has(a));
    const alerted = FAILED.filter((a) => !moved.has(a));
    expect(stayed.length + alerted.length, 'applications left without a new node').toBe(10);
    // A14, performance: they keep running where they are and nobody is paged.
    expect(stayed.filter((a) => !outcomes(a).includes('stayed')), 'slow applications that did not stay').toEqual([]);
    expect(stayed.filter((a) => outcomes(a).includes('alerted')), 'slow applications that alerted').toEqual([]);
    expect(stayed.flatMap(alertsAbout), 'alerts about slow applications that stayed').toEqual([]);
    // A14, failure: administrators are alerted, once per application.
    expect(alerted.filter((a) => !outcomes(a).includes('alerted')), 'failed applications not alerted').toEqual([]);
    // One alert per alerted incident (see the known gap above: a second trigger of the same failure alerts again).
    expect(
      Object.fromEntries(alerted.map((a) => [a, alertsAbout(a).length])),
      'alerts per failed application left without a node: one per alerted incident',
    ).toEqual(Object.fromEntries(alerted.map((a) => [a, outcomes(a).filter((o) => o === 'alerted').length])));
    const dedupCount = result.incidents.filter((i) => i.outcome === 'deduplicated').length;
    console.log(
      `storm: ${deliveries.length} deliveries (${planned.alarms} alarm, ${planned.contributors} contributor, ${planned.ec2} EC2), ${result.incidents.length} incidents ` +
        `(${dedupCount} deduplicated), ${failovers.length} failovers, ${stayed.length} stayed, ${alerted.length} alerted; ${result.virtualSeconds} virtual s in ${result.wallMs} ms`,
    );
  });
});

describe('storm on virtual-node hosts (B1)', () => {
  it('12 hosts fail at once, 3 shared hosts with room for 3 applications each: 9 failovers, 3 alerts, no host over capacity', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
    const hosts = [0, 1, 2].map((k) => nodeId(40 + k));
    const s = scenario({
      name: 'storm-shared-hosts',
      pools: [POOLS.general, POOLS.hosts],
      applications: names.map((a) => app(a, { pools: ['hosts'] })),
      // m7i.2xlarge: 8 vCPU / 32 GiB, 10 % reserved: three applications of 2 vCPU / 4 GiB each.
      instances: [...names.map((a, i) => node(i + 1, { runs: [a] })), ...hosts.map((_, k) => node(40 + k, { pool: 'hosts', type: 'm7i.2xlarge' }))],
      timeline: names.map((_, i) => ({ at: 30, event: 'instance-failed' as const, node: nodeId(i + 1) })),
    });

    const run = await simulate(s, { dynamoEndpoint });
    const { result } = run;

    expectReliable(run, s);
    const failovers = result.incidents.filter((i) => i.outcome === 'failed-over');
    // Losing a claim race on a shared host does not mean it is full: every slot is used before anyone is told there is none.
    expect(failovers, 'failovers').toHaveLength(9);
    expect(result.incidents.filter((i) => i.outcome === 'alerted'), 'alerted').toHaveLength(3);
    expect(hosts.map((h) => result.fleet.find((n) => n.id === h)?.applications.length), 'applications per host').toEqual([3, 3, 3]);
    console.log(`storm on shared hosts: 12 incidents, ${failovers.length} failovers onto 3 hosts, 3 alerted; ${result.wallMs} ms`);
  });
});

describe('B3: one EC2 stop of a host with no eligible replacement', () => {
  it('B3 (EC2 state-change notifications): one stop is one incident and one alert (only the stopping notification reaches intake)', async () => {
    // ledger's host is stopped and the only other node runs orders, of the same priority: no node is eligible.
    const s = scenario({
      name: 'stop-no-eligible',
      applications: [app('ledger'), app('orders')],
      instances: [node(1, { runs: ['ledger'] }), node(2, { runs: ['orders'] })],
      timeline: [{ at: 30, event: 'instance-stopped', node: nodeId(1) }],
      runForSeconds: 900,
    });
    const deliveries: Delivery[] = [];
    const run = await simulate(s, { dynamoEndpoint, onProgress: (e) => e.delivery && deliveries.push(e.delivery) });
    expectReliable(run, s);
    const ledger = incidentsOf(run.result, 'ledger');
    const alerts = run.result.notifications.filter((n) => n.subject.startsWith('rapid-failover: ledger:'));
    // EC2 sends 'stopping' then 'stopped' (a stopped instance has no status checks to fail). Only
    // 'stopping' is routed to intake (lib/detection.ts, INTAKE_INSTANCE_STATES: the first of each
    // way down), so the stop is one incident: one failure, one alert. (Before, each notification
    // started an incident and each alerted: the gap this test pinned.)
    console.log(`one EC2 stop, no eligible node: ${deliveries.length} deliveries, ledger incidents ${ledger.map((i) => i.outcome).join(', ')}, ${alerts.length} alerts`);
    expect({ deliveries: deliveries.map((d) => d.detailType), outcomes: ledger.map((i) => i.outcome), alerts: alerts.length }).toEqual({
      deliveries: ['EC2 Instance State-change Notification'],
      outcomes: ['alerted'],
      alerts: 1,
    });
  });
});

describe('issue 12: a storm with EC2\'s request limits enforced', () => {
  // EC2 throttles requests per account and action with a token bucket ("Request throttling for
  // the Amazon EC2 API": DescribeInstances 100 tokens, 20 a second); the fleet enforces it
  // (local/fleet/faults.ts), and a refused request is retried by the workflow with backoff. 40
  // hosts failing at once is enough to drain the bucket when each failover makes several
  // DescribeInstances (7, before: 24 of 40 ended about 30 s late). The bench runs 100 (section 4).
  it('40 hosts fail at once (activate, install, boot-volume): every failover ends within 10 s of the same method alone, none failed', async () => {
    // Each method alone: three applications, one of each, failing at once (no bucket runs dry).
    const single = await simulate(concurrencyScenario(3, 3), { dynamoEndpoint });
    const alone = Object.fromEntries(single.result.incidents.map((i) => [concurrencyMethod(Number(i.app.replace(/^app-/, '')) - 1), i.rtoSeconds!]));
    const apps = 40;
    const s = concurrencyScenario(apps, 44);
    let refused = (): Record<string, number> => ({});
    const run = await simulate(s, {
      dynamoEndpoint,
      beforeRun: ({ fleet }) => {
        fleet.faults.enforceEc2RequestLimits();
        refused = () => fleet.faults.refusedRequests();
      },
    });

    expectReliable(run, s);
    const names = Array.from({ length: apps }, (_, i) => concurrencyAppName(i));
    const method = (name: string) => concurrencyMethod(names.indexOf(name));
    const late = run.result.incidents
      .filter((i) => i.outcome !== 'deduplicated')
      .filter((i) => i.outcome !== 'failed-over' || i.rtoSeconds === null || i.rtoSeconds > alone[method(i.app)]! + 10)
      .map((i) => `${i.app} (${method(i.app)}): ${i.outcome}, RTO ${i.rtoSeconds} s against ${alone[method(i.app)]} s alone`);
    console.log(`storm of ${apps}, EC2 request limits enforced: refused ${JSON.stringify(refused())}; ${late.length} later than alone + 10 s (alone ${JSON.stringify(alone)}); ${run.result.wallMs} ms`);
    expect(late, 'failovers failed or later than the same method alone + 10 s').toEqual([]);
    expect(run.result.incidents.filter((i) => i.outcome === 'failed-over'), 'failovers').toHaveLength(apps);
  });
});
