// Crash at every step: each task of the workflow, in a run that reaches it, misbehaves once —
// its Lambda dies before its side effect (a retried service error, or an unexpected error the
// workflow catches), dies after it, or times out. After retries, compensation and lease expiry
// the invariants hold, and the system takes the next incident of the same application.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.ts';
import type { Scenario } from '../../local/scenario.ts';
import { States } from '../../lib/workflow.ts';
import { alertsFor, app, incidentsOf, node, nodeId, performance, scenario } from '../workflow/fixtures.ts';
import { checkpointAt, expectReliable, expectServedOrAlerted, FAULT_KINDS, injectOnce, LEASES_EXPIRED_AFTER, simulate, type FaultKind } from './harness.ts';

let db: DynamoDbLocal;
const tally = { tried: 0, survived: 0 };
/** What the faulted incident ended as, per outcome (the sweep's switchover aside). */
const faultedOutcomes = new Map<string, number>();

beforeAll(async () => {
  db = await startDynamoDbLocal();
});

afterAll(async () => {
  await db?.stop();
  console.log(`fault points: ${tally.tried} tried, ${tally.survived} survived`);
  console.log(`faulted incidents ended: ${[...faultedOutcomes].map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`);
});

/**
 * When every lease taken in the first half hour has expired, an operator switches the
 * application over: the system must take it (and sweep what a crashed execution left).
 */
const SWEEP_AT = 1_800 + LEASES_EXPIRED_AFTER;

type Base = 'failover' | 'performance' | 'compensation' | 'exhausted';

/**
 * - failover: ledger's host fails; a free pool node takes over (lock → select → provision → join
 *   → shift → release → finish).
 * - performance: ledger is slow; after the failover, the settle window and verify (A15).
 * - compensation: provisioning fails on the first node chosen; compensate, then the next node.
 * - exhausted: one attempt allowed and it fails: compensate → notify → finish (alerted).
 */
function base(kind: Base): Scenario {
  const perf = kind === 'performance';
  return scenario({
    name: `crash-${kind}`,
    applications: [
      app('ledger', {
        ...(perf ? { detection: { performance: performance('ledger', 100), failure: { statusChecks: true } } } : {}),
        ...(kind === 'exhausted' ? { policy: { maxAttempts: 1 } } : {}),
      }),
    ],
    instances: [node(1, { runs: ['ledger'] }), node(2), node(3), node(4), node(5)],
    timeline: [
      perf ? { at: 30, event: 'performance-degraded', app: 'ledger', value: 20 } : { at: 30, event: 'instance-failed', node: nodeId(1) },
      ...(kind === 'compensation' || kind === 'exhausted' ? [{ at: 0, event: 'provisioning-fails' as const, node: nodeId(2) }] : []),
      { at: SWEEP_AT, event: 'switchover', app: 'ledger', requestedBy: 'reliability-harness' },
    ],
    runForSeconds: 3_600,
  });
}

/** Where each task state runs in a base scenario. */
const POINTS: Array<{ state: string; base: Base }> = [
  { state: States.Lock, base: 'failover' },
  { state: States.Select, base: 'failover' },
  { state: States.Provision, base: 'failover' },
  { state: States.Join, base: 'failover' },
  { state: States.Shift, base: 'failover' },
  { state: States.Release, base: 'failover' },
  { state: States.Verify, base: 'performance' },
  { state: States.Compensate, base: 'compensation' },
  { state: States.Notify, base: 'exhausted' },
  { state: States.Finish, base: 'failover' },
  // A slow application's old host still runs: nothing is fenced, and a half-done shift is rolled back.
  { state: States.Provision, base: 'performance' },
  { state: States.Join, base: 'performance' },
  { state: States.Shift, base: 'performance' },
  { state: States.Release, base: 'performance' },
  { state: States.Finish, base: 'performance' },
  { state: States.Lock, base: 'performance' },
  { state: States.Select, base: 'performance' },
  { state: States.Compensate, base: 'exhausted' },
];

const cases = POINTS.flatMap((p) => FAULT_KINDS.map((kind): [string, Base, FaultKind] => [p.state, p.base, kind]));

describe.concurrent('crash at every step', () => {
  it.each(cases)('%s (%s run): %s', async (state, baseName, kind) => {
    tally.tried++;
    const s = base(baseName);
    const { fault, wrapTask } = injectOnce(state, kind);
    const { checkpoint, options } = checkpointAt(/switches ledger over/, { dynamoEndpoint: db.endpoint, wrapTask });

    const run = await simulate(s, options);

    expect(fault.fired, `${state} ran and the fault fired`).toBe(1);
    // Before the sweep: the faulted incident left ledger served, or administrators were told.
    expectServedOrAlerted(checkpoint, ['ledger']);
    expectReliable(run, s);
    // The system runs again once the leases are gone: the operator's switchover takes the lock
    // and moves ledger (with one attempt allowed, a broken node that a crashed compensation did
    // not quarantine may be tried again: then administrators hear of it).
    const last = incidentsOf(run.result, 'ledger').find((i) => i.trigger === 'switchover');
    expect(baseName === 'exhausted' ? ['switched-over', 'alerted'] : ['switched-over'], 'the switchover after lease expiry').toContain(last?.outcome);
    const faulted = incidentsOf(run.result, 'ledger').find((i) => i.trigger !== 'switchover');
    // The record's outcome is true to what happened: a failed host never 'stays', and 'alerted' means an alert went out.
    expect(faulted?.trigger === 'failure' && faulted.outcome === 'stayed', `a failure trigger ended as ${faulted?.outcome}`).toBe(false);
    expect(faulted?.outcome === 'alerted' && alertsFor(run.result, 'ledger').length === 0, 'alerted without an alert').toBe(false);
    faultedOutcomes.set(faulted?.outcome ?? 'none', (faultedOutcomes.get(faulted?.outcome ?? 'none') ?? 0) + 1);
    tally.survived++;
  });
});
