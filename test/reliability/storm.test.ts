// Storm: 50 triggers (duplicates among them) for 20 applications at once, against a pool of
// 10 free nodes. Exactly 10 failovers; every other application takes the no-eligible path its
// trigger asks for (performance: stay, A14; failure: alert, A14); no node is given twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.ts';
import { app, incidentsOf, node, nodeId, performance, POOLS, scenario, type TimelineInput } from '../workflow/fixtures.ts';
import { expectReliable, simulate } from './harness.ts';

let db: DynamoDbLocal;

beforeAll(async () => {
  db = await startDynamoDbLocal();
});

afterAll(async () => {
  await db?.stop();
});

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

describe('storm', () => {
  it('50 triggers for 20 applications, 10 free nodes: exactly 10 failovers, the rest stay (performance) or alert (failure)', async () => {
    const s = stormScenario();
    const triggers = 10 * (1 + 2) + 10 * 1 + 5 * 2;
    expect(triggers, 'triggers in the storm').toBe(50);

    const run = await simulate(s, { dynamoEndpoint: db.endpoint });
    const { result } = run;

    expectReliable(run, s);
    const failovers = result.incidents.filter((i) => i.outcome === 'failed-over');
    expect(failovers, 'failovers').toHaveLength(10);
    expect(new Set(failovers.map((i) => i.app)).size, 'no application failed over twice').toBe(10);
    expect(new Set(failovers.map((i) => i.toNode)), 'each free node taken once').toEqual(new Set(FREE));
    // Duplicates collapsed (same execution name) or folded into the incident holding the lock.
    expect(result.incidents.filter((i) => i.outcome === 'deduplicated').length, 'duplicates seen').toBeGreaterThan(0);

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
    // A14, failure: administrators are alerted.
    expect(alerted.filter((a) => !outcomes(a).includes('alerted')), 'failed applications not alerted').toEqual([]);
    expect(alerted.filter((a) => alertsAbout(a).length === 0), 'failed applications without an alert sent').toEqual([]);
    console.log(
      `storm: ${triggers} triggers, ${result.incidents.length} incidents (${result.incidents.filter((i) => i.outcome === 'deduplicated').length} deduplicated), ` +
        `${failovers.length} failovers, ${stayed.length} stayed, ${alerted.length} alerted; ${result.virtualSeconds} virtual s in ${result.wallMs} ms`,
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

    const run = await simulate(s, { dynamoEndpoint: db.endpoint });
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
