// The longest a failover can take, from the config (core/failover-bound.ts): the bound the
// failover-overrun alarm pages at. It adds up the limits the handlers enforce, so it must use
// their numbers.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.ts';
import { FENCE_TIMEOUT_SECONDS, HALT_GRACE_SECONDS, JOIN_PREPARE_MARGIN_SECONDS, STEP_VISIT_SECONDS, failoverBound, overrunSeconds } from '../../core/failover-bound.ts';
import { FENCE_TIMEOUT_SECONDS as SHIFT_FENCE_TIMEOUT } from '../../functions/handlers/shift.ts';
import { HALT_GRACE_SECONDS as RELEASE_HALT_GRACE, JOIN_PREPARE_MARGIN_SECONDS as JOIN_MARGIN } from '../../functions/policy.ts';
import { exampleConfig } from '../lib/synth.ts';

const app = (name: string) => exampleConfig().applications.find((a) => a.name === name)!;

describe('the longest failover (A13: every attempt the policy allows)', () => {
  it("uses the handlers' own limits", () => {
    expect(FENCE_TIMEOUT_SECONDS).toBe(SHIFT_FENCE_TIMEOUT);
    expect(HALT_GRACE_SECONDS).toBe(RELEASE_HALT_GRACE);
    expect(JOIN_PREPARE_MARGIN_SECONDS).toBe(JOIN_MARGIN);
  });

  it('adds up, per attempt, provisioning, the join budget, the fence wait, the halt documents, the settle window and the step visits', () => {
    const checkout = failoverBound(app('checkout'));
    // provisioning.timeoutSeconds 900; run document 600 + 60; an ALB target group with ELB's default
    // health checks: 30 s registration + 30 s × (2 + 5) + 60 s; fence 300; halt 600 + 120; settle 180; 7 step visits.
    expect(checkout.terms).toEqual({ provision: 900, prepare: 660, healthChecks: 300, fence: 300, halt: 720, settle: 180, steps: 7 * STEP_VISIT_SECONDS });
    expect(checkout.perAttemptSeconds).toBe(3480);
    expect(checkout.seconds).toBe(3 * 3480 + 3 * STEP_VISIT_SECONDS);
    // No load balancer named: the join step allows the longest registration (300 s).
    expect(failoverBound(app('search')).terms.healthChecks).toBe(300 + 30 * 7 + 60);
  });

  it('grows with every attempt, document and timeout the config adds', () => {
    const base = exampleConfig();
    const longer = parseConfig({
      ...base,
      applications: base.applications.map((a) =>
        a.name === 'checkout'
          ? { ...a, policy: { ...a.policy, maxAttempts: 4 }, cluster: { ...a.cluster, readinessCommand: { name: 'Acme-Probe', parameters: {}, timeoutSeconds: 240 } } }
          : a,
      ),
    });
    const before = failoverBound(app('checkout'));
    const after = failoverBound(longer.applications.find((a) => a.name === 'checkout')!);
    expect(after.perAttemptSeconds).toBe(before.perAttemptSeconds + 240);
    expect(after.seconds).toBe(4 * (before.perAttemptSeconds + 240) + 3 * STEP_VISIT_SECONDS);
  });

  it('reports how far a running failover is past its bound, 0 within it', () => {
    const search = app('search');
    const bound = failoverBound(search).seconds;
    const started = '2030-01-01T00:00:00.000Z';
    const at = (seconds: number) => new Date(Date.parse(started) + seconds * 1000);
    expect(overrunSeconds(search, started, at(10))).toBe(0);
    expect(overrunSeconds(search, started, at(bound))).toBe(0);
    expect(overrunSeconds(search, started, at(bound + 90))).toBe(90);
  });
});
