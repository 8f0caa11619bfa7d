// Every example scenario through `failover simulate <file> --json`: exit code 0, one JSON
// document, every incident's outcome allowed by the scenario's `expect`, and for each scenario
// what it is there to show. The CLI's own entry (cli/main.ts) runs in-process against one shared
// DynamoDB Local, one scenario after another; one run goes through a real process to show that
// nothing outlives it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePort, REPO_ROOT, runCli, runCliInProcess, stillRunning, type InProcessResult, type SimulationJson } from './cli.ts';

type Incident = SimulationJson['incidents'][number];

const EXAMPLES = join(REPO_ROOT, 'examples');
const EPOCH = Date.parse('2030-01-01T00:00:00.000Z');
const RUN_TIMEOUT_MS = 10 * 60_000;

const files = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json') && f !== 'scenario.schema.json')
  .sort();

/** Seconds of virtual time since the scenario began. */
const at = (iso: string) => (Date.parse(iso) - EPOCH) / 1000;
const of = (doc: SimulationJson, app: string) => doc.incidents.filter((i) => i.app === app);
const moved = (doc: SimulationJson, app: string) => of(doc, app).filter((i) => i.outcome === 'failed-over' || i.outcome === 'switched-over');
const node = (doc: SimulationJson, id: string) => {
  const found = doc.fleet.find((n) => n.id === id);
  if (!found) throw new Error(`node ${id} is not in the fleet report`);
  return found;
};
const text = (incident: Incident | undefined) => (incident?.explanation ?? []).join('\n');
const step = (incident: Incident, name: string) => {
  const found = incident.steps.find((s) => s.name === name);
  if (!found) throw new Error(`incident ${incident.incidentId} has no step ${name}`);
  return found;
};
const one = <T,>(items: T[]): T => {
  expect(items).toHaveLength(1);
  return items[0]!;
};

/** What each scenario is there to show, beyond "it ran and its outcomes were expected". */
function demo(doc: SimulationJson): void {
  expect(one(moved(doc, 'checkout'))).toMatchObject({ fromNode: 'i-0aaa0000000000001', trigger: 'failure' });
  expect(one(moved(doc, 'search'))).toMatchObject({ fromNode: 'i-0bbb0000000000001', trigger: 'failure' });
}

function performanceThreshold(doc: SimulationJson): void {
  const incident = one(of(doc, 'catalog'));
  expect(incident).toMatchObject({ trigger: 'performance', outcome: 'failed-over', fromNode: 'i-0a00000000000a001', toNode: 'i-0a00000000000a003', attempts: 1 });
  // A10: degraded at +60 s, the alarm needs 3 bad one-minute periods: nothing starts before +240 s.
  expect(at(step(incident, 'LockApplication').startedAt)).toBeGreaterThanOrEqual(240);
  // A7: the more capable m7i.2xlarge beats the m7i.xlarge that fits more tightly.
  expect(text(incident)).toMatch(/best i-0a00000000000a003: .*more capable than current node/);
  expect(text(incident)).toContain('installed (A3) on i-0a00000000000a003');
  expect(text(incident)).toContain('is healthy in 1 target group(s) of catalog (A9)');
  expect(text(incident)).toContain('Elastic IP eipalloc-01111111111111111 moved to i-0a00000000000a003 (C1)');
  // A8: slow but healthy: halted and given back to the pool, not stopped.
  expect(node(doc, 'i-0a00000000000a001')).toMatchObject({ state: 'running', role: 'free', applications: [], lease: [] });
  expect(doc.notifications).toEqual([]);
}

function failureTriggers(doc: SimulationJson): void {
  const orders = one(moved(doc, 'orders'));
  expect(text(orders)).toContain('failure trigger: EC2 status checks failed');
  const web = one(moved(doc, 'web'));
  expect(text(web)).toContain('failure trigger: UnHealthyHostCount');
  const batch = one(moved(doc, 'batch'));
  expect(text(batch)).toMatch(/failure trigger: instance i-0b00000000000b003 is (stopping|stopped)/);
  for (const [incident, old] of [
    [orders, 'i-0b00000000000b001'],
    [web, 'i-0b00000000000b002'],
    [batch, 'i-0b00000000000b003'],
  ] as const) {
    expect(incident).toMatchObject({ trigger: 'failure', fromNode: old });
    expect(text(incident)).toContain(`fenced: ${old} is stopped`);
    // A8: a failed host goes back to the pool only after someone looked at it.
    expect(node(doc, old)).toMatchObject({ state: 'stopped', role: 'quarantined' });
    expect(node(doc, incident.toNode!).applications).toContain(incident.app);
  }
}

function combinedTriggers(doc: SimulationJson): void {
  const [first, second, ...rest] = of(doc, 'api');
  expect(rest).toEqual([]);
  expect(first).toMatchObject({ trigger: 'performance', outcome: 'failed-over', fromNode: 'i-0c00000000000c001', toNode: 'i-0c00000000000c002' });
  expect(second).toMatchObject({ trigger: 'failure', outcome: 'failed-over', fromNode: 'i-0c00000000000c002' });
  expect(second!.toNode).not.toBe('i-0c00000000000c002');
}

function activateStoppedNode(doc: SimulationJson): void {
  const incident = one(of(doc, 'ledger'));
  expect(incident).toMatchObject({ outcome: 'failed-over', fromNode: 'i-0d00000000000d001', toNode: 'i-0d00000000000d002' });
  expect(text(incident)).toContain('ledger activated (A2) on i-0d00000000000d002');
  expect(text(incident)).toContain('secondary private IP 10.0.1.40 moved to i-0d00000000000d002 (C1)');
  expect(text(incident)).toMatch(/rejected i-0d00000000000d003: .*instance family c7i not in allowed families/);
  // It was stopped: provisioning started it.
  expect(node(doc, 'i-0d00000000000d002')).toMatchObject({ state: 'running', role: 'serving', applications: ['ledger'] });
  expect(node(doc, 'i-0d00000000000d001')).toMatchObject({ state: 'stopped', role: 'quarantined' });
}

function bootVolume(doc: SimulationJson): void {
  const search = one(moved(doc, 'search'));
  expect(text(search)).toMatch(/rebooted from ami-0123456789abcdef0 \(task replacevol-[0-9a-f]+, A4\)/);
  expect(['i-0e00000000000e003', 'i-0e00000000000e005']).toContain(search.toNode);
  expect(text(search)).toContain('rejected i-0e00000000000e002: architecture x86_64 does not support required arm64');
  const geo = one(moved(doc, 'geo'));
  expect(geo.toNode).toBe('i-0e00000000000e002');
  expect(text(geo)).toMatch(/rebooted from ami-0fedcba9876543210 \(task replacevol-[0-9a-f]+, A4\)/);
  expect(text(geo)).toContain('rejected i-0e00000000000e006: memory 4096 MiB < required 8192 MiB');
}

function preemption(doc: SimulationJson): void {
  const payments = one(of(doc, 'payments'));
  expect(payments).toMatchObject({ outcome: 'failed-over', toNode: 'i-0f00000000000f002' });
  expect(text(payments)).toMatch(/best i-0f00000000000f002: .*preempts analytics \(priority 100\)/);
  expect(doc.serviceEvents).toContainEqual(
    expect.objectContaining({ detailType: 'Service Down', detail: expect.objectContaining({ app: 'analytics', reason: 'preempted', preemptedBy: 'payments' }) }),
  );
  // The preempted application's own failover: started by its Service Down, from no node (off-line).
  const analytics = one(of(doc, 'analytics'));
  expect(analytics).toMatchObject({ trigger: 'failure', outcome: 'failed-over', fromNode: null, toNode: 'i-0f00000000000f004' });
  expect(text(analytics)).toContain('preempted on i-0f00000000000f002 by payments');
  expect(text(analytics)).toContain('Elastic IP eipalloc-06666666666666662 moved to i-0f00000000000f004');
  expect(of(doc, 'reporting')).toEqual([]);
  expect(node(doc, 'i-0f00000000000f003').applications).toEqual(['reporting']);
}

function provisionRetry(doc: SimulationJson): void {
  const inventory = one(of(doc, 'inventory'));
  expect(inventory).toMatchObject({ outcome: 'failed-over', toNode: 'i-0100000000000a003', attempts: 2 });
  expect(node(doc, 'i-0100000000000a002').role).toBe('quarantined');
  expect(node(doc, 'i-0100000000000a002').lease[0]?.reason).toContain('ProvisioningFailedError');
  const pricing = one(of(doc, 'pricing'));
  expect(pricing).toMatchObject({
    outcome: 'alerted',
    attempts: 2,
    alerts: [
      'rapid-failover: pricing: node i-0100000000000b002 quarantined',
      'rapid-failover: pricing: node i-0100000000000b003 quarantined',
      'rapid-failover: pricing: failover failed on every node tried',
    ],
  });
  // A node that never reached running is not handed back to the pool as if it were fine.
  expect(node(doc, 'i-0100000000000b002')).toMatchObject({ state: 'stopped', role: 'quarantined' });
  expect(node(doc, 'i-0100000000000b002').lease[0]?.reason).toMatch(/never reached running within 180 s/);
  expect(node(doc, 'i-0100000000000b003').role).toBe('quarantined');
  // maxAttempts 2: the third eligible node is never tried.
  expect(node(doc, 'i-0100000000000b004')).toMatchObject({ role: 'free', applications: [] });
  expect(doc.notifications.map((n) => n.subject)).toContain('rapid-failover: pricing: failover failed on every node tried');
  expect(doc.serviceEvents).toContainEqual(expect.objectContaining({ detailType: 'Service Down', detail: expect.objectContaining({ app: 'pricing' }) }));
}

function fencingFails(doc: SimulationJson): void {
  const ledger = one(moved(doc, 'ledger'));
  const web = one(moved(doc, 'web'));
  expect([ledger.toNode, web.toNode].sort()).toEqual(['i-0c90000000000c003', 'i-0c90000000000c004']);
  // C9: the stop hung: isolated once the fence deadline passed, before the address moved.
  expect(text(ledger)).toMatch(/fenced: i-0c90000000000c001 could not be stopped \(still stopping \d+ s after the stop was requested\); isolated: .*security groups replaced by sg-0c9f15011a7ed0001/);
  expect(text(ledger).indexOf('fenced: i-0c90000000000c001')).toBeLessThan(text(ledger).indexOf(`eipalloc-0c9c9c9c9c9c9c901 moved to ${ledger.toNode}`));
  expect(node(doc, 'i-0c90000000000c001')).toMatchObject({ state: 'stopping', role: 'quarantined', applications: [] });
  // The stop was refused: isolated at once, and web halted on the host that keeps running.
  expect(text(web)).toMatch(/fenced: i-0c90000000000c002 could not be stopped \(StopInstances refused: UnauthorizedOperation\); isolated: .*security groups replaced by sg-0c9f15011a7ed0002/);
  expect(node(doc, 'i-0c90000000000c002')).toMatchObject({ state: 'running', role: 'quarantined', applications: [] });
  // Administrators hear that neither host was stopped, and how each was isolated.
  for (const [app, old, why] of [
    ['ledger', 'i-0c90000000000c001', /not stopped: still stopping/],
    ['web', 'i-0c90000000000c002', /not stopped: StopInstances refused: UnauthorizedOperation/],
  ] as const) {
    const alert = doc.notifications.find((n) => n.subject === `rapid-failover: ${app}: node ${old} quarantined`);
    expect(alert?.message).toMatch(why);
    expect(alert?.message).toMatch(/isolated \(out of the target groups, off the logical address, security groups replaced by sg-/);
  }
}

function noEligibleNode(doc: SimulationJson): void {
  const render = one(of(doc, 'render'));
  expect(render).toMatchObject({ trigger: 'failure', outcome: 'alerted', alerts: ['rapid-failover: render: no eligible node to fail over to'] });
  expect(text(render)).toContain('missing required feature gpu');
  const inference = one(of(doc, 'inference'));
  expect(inference).toMatchObject({ trigger: 'performance', outcome: 'stayed', alerts: [] });
  expect(text(inference)).toContain('missing required feature inferentia');
  expect(doc.notifications.map((n) => n.subject)).toEqual(['rapid-failover: render: no eligible node to fail over to']);
  expect(node(doc, 'i-0200000000000a002').applications).toEqual(['inference']);
}

function performanceHop(doc: SimulationJson): void {
  const incident = one(of(doc, 'recommend'));
  expect(incident).toMatchObject({ outcome: 'failed-over', fromNode: 'i-0300000000000a001', toNode: 'i-0300000000000a003', attempts: 2 });
  // Two hops in one incident: a001 → a002, still slow there, → a003.
  const hops = incident.explanation.filter((line) => /^recommend now served by /.test(line));
  expect(hops).toEqual(['recommend now served by i-0300000000000a002 instead of i-0300000000000a001', 'recommend now served by i-0300000000000a003 instead of i-0300000000000a002']);
  expect(text(incident)).toContain('still degraded; failing over again (A15');
  expect(node(doc, 'i-0300000000000a002')).toMatchObject({ role: 'free', applications: [] });
}

function virtualNodeHost(doc: SimulationJson): void {
  for (const app of ['wiki', 'chat', 'forms']) expect(one(moved(doc, app)).toNode).toBe('i-0400000000000b001');
  const host = node(doc, 'i-0400000000000b001');
  expect([...host.applications].sort()).toEqual(['chat', 'forms', 'wiki']);
  expect(host.lease.map((l) => `${l.holder}:${l.role}`).sort()).toEqual(['chat:serving', 'forms:serving', 'wiki:serving']);
  const crm = one(moved(doc, 'crm'));
  expect(crm.toNode).toBe('i-0400000000000c001');
  expect(text(crm)).toContain('rejected i-0400000000000b001: hosts 3 of at most 3 applications');
}

function backupTier(doc: SimulationJson): void {
  const alpha = one(moved(doc, 'alpha'));
  const beta = one(moved(doc, 'beta'));
  expect(alpha).toMatchObject({ fromNode: 'i-0700000000000a001', toNode: 'i-0700000000000a002' });
  expect(beta.fromNode).toBe('i-0700000000000a001');
  expect(['i-0700000000000b001', 'i-0700000000000b002']).toContain(beta.toNode);
  expect(text(beta)).toMatch(/best i-0700000000000b00[12]: backup-tier node in pool backup/);
  expect(node(doc, 'i-0700000000000a001')).toMatchObject({ role: 'quarantined', applications: [] });
}

function switchoverLastNode(doc: SimulationJson): void {
  // A failed node fails its status checks and then its health checks. The failover (waits on
  // events) has ended by the time the second alarm comes: that one starts an incident of its own,
  // which finds accounts moved and stays (the cooldown; later, switching disabled on the last node).
  const incidents = of(doc, 'accounts');
  expect(incidents.map((i) => `${i.trigger}:${i.outcome}:${i.fromNode}>${i.toNode}`)).toEqual([
    'switchover:switched-over:i-0600000000000a001>i-0600000000000a002',
    'failure:failed-over:i-0600000000000a002>i-0600000000000a001',
    'failure:stayed:i-0600000000000a001>i-0600000000000a001',
    'failure:failed-over:i-0600000000000a001>i-0600000000000a003',
    'failure:stayed:i-0600000000000a003>i-0600000000000a003',
    'failure:stayed:i-0600000000000a003>i-0600000000000a003',
    'switchover:switched-over:i-0600000000000a003>i-0600000000000a004',
  ]);
  expect(text(incidents[2])).toContain('cooldown');
  const [planned, , , toLast, held] = incidents;
  expect(text(incidents[1])).toContain('best i-0600000000000a001: preferred node (C2)');
  expect(toLast!.alerts).toContain('rapid-failover: accounts: running on its last possible node');
  expect(text(held)).toContain('switching is disabled for accounts (C7');
  // C9: the halt documents run after the shift; the restart (RTO) does not wait for them.
  const shifted = at(step(planned!, 'ShiftTrafficAndFence').endedAt);
  const released = at(step(planned!, 'ReleaseOldNode').endedAt);
  expect(released - shifted).toBeGreaterThan(5);
  expect(60 + planned!.rtoSeconds!).toBeLessThanOrEqual(shifted);
  // C3: activate has no documents here, so only the run documents started it; the halt documents stopped it.
  expect(node(doc, 'i-0600000000000a004').applications).toEqual(['accounts']);
  expect(node(doc, 'i-0600000000000a003')).toMatchObject({ state: 'running', role: 'free', applications: [] });
}

function duplicateAndFlapping(doc: SimulationJson): void {
  expect(of(doc, 'tickets').map((i) => i.outcome).sort()).toEqual(['deduplicated', 'deduplicated', 'failed-over']);
  const billing = of(doc, 'billing');
  expect(billing.map((i) => i.outcome)).toEqual(['failed-over', 'failed-over', 'stayed', 'stayed', 'stayed', 'stayed']);
  for (const damped of billing.slice(2)) expect(text(damped)).toContain('flap damping: 2 failovers');
}

const SHOWS: Record<string, (doc: SimulationJson) => void> = {
  'demo.json': demo,
  'performance-threshold.json': performanceThreshold,
  'failure-triggers.json': failureTriggers,
  'combined-triggers.json': combinedTriggers,
  'activate-stopped-node.json': activateStoppedNode,
  'boot-volume.json': bootVolume,
  'preemption.json': preemption,
  'provision-retry.json': provisionRetry,
  'fencing-fails.json': fencingFails,
  'no-eligible-node.json': noEligibleNode,
  'performance-hop.json': performanceHop,
  'virtual-node-host.json': virtualNodeHost,
  'backup-tier.json': backupTier,
  'switchover-last-node.json': switchoverLastNode,
  'duplicate-and-flapping.json': duplicateAndFlapping,
};

const runs = new Map<string, Promise<InProcessResult>>();

beforeAll(async () => {
  // One after another: the CLI's output streams are per call, its runs share one event loop.
  let previous: Promise<unknown> = Promise.resolve();
  for (const file of files) {
    const run = previous.then(() => runCliInProcess(['simulate', join(EXAMPLES, file), '--json']));
    runs.set(file, run);
    previous = run.catch(() => undefined);
  }
});

afterAll(async () => {
  await Promise.allSettled(runs.values());
});

it('a run as a separate process leaves no DynamoDB Local behind', async () => {
  const result = await runCli(['simulate', join('examples', 'demo.json'), '--json'], { timeoutMs: RUN_TIMEOUT_MS });

  expect(result.code, result.stderr).toBe(0);
  expect((JSON.parse(result.stdout) as SimulationJson).unexpected).toEqual([]);
  expect(result.dynamoDb.length).toBeGreaterThan(0);
  expect(result.dynamoDb.map((p) => p.port)).not.toContain(null);
  expect(await stillRunning(result.dynamoDb)).toEqual([]);
  for (const { port } of result.dynamoDb) expect(await probePort(port!)).toBe('refused');
}, RUN_TIMEOUT_MS);

it('has a specific check for every example scenario, and an example for every check', () => {
  expect(Object.keys(SHOWS).sort()).toEqual(files);
});

describe.each(files)('examples/%s', (file) => {
  const scenario = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as { expect?: Record<string, string[]> };

  it(
    'runs to exit code 0 with every outcome expected, and shows what it is meant to show',
    async () => {
      const result = await runs.get(file)!;
      expect(result.stderr).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
      expect(result.code, result.stderr).toBe(0);
      const doc = JSON.parse(result.stdout) as SimulationJson;

      expect(doc.unexpected).toEqual([]);
      expect(doc.locksHeld).toEqual([]);
      const expected = scenario.expect ?? {};
      for (const incident of doc.incidents) {
        expect(expected[incident.app], `${incident.app} (${incident.outcome}) has no entry in expect`).toBeDefined();
        expect(expected[incident.app]).toContain(incident.outcome);
      }
      for (const app of Object.keys(expected)) expect(of(doc, app).length, `no incident for ${app}`).toBeGreaterThan(0);

      SHOWS[file]!(doc);
    },
    RUN_TIMEOUT_MS + 60_000,
  );
});
