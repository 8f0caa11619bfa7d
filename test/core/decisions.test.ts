import { describe, expect, it } from 'vitest';
import { PerformanceDetectionSchema } from '../../core/config.ts';
import {
  afterNodeFailure,
  afterVerify,
  checkDamping,
  describeAlert,
  evaluateThreshold,
  lastPossibleNodeReached,
  type AlertDetails,
  type AlertKind,
  type DampingPolicy,
  type FailoverHistoryEntry,
} from '../../core/decisions.ts';
import { AlertSchema } from '../../core/workflow-state.ts';
import { makeApp, nodeId } from './fixtures.ts';

describe('afterNodeFailure (A13)', () => {
  it('A13: retries on another node while attempts remain', () => {
    expect(afterNodeFailure({ attempt: 1, maxAttempts: 3 })).toBe('retry');
    expect(afterNodeFailure({ attempt: 2, maxAttempts: 3 })).toBe('retry');
  });

  it('A13: alerts once maxAttempts nodes were tried', () => {
    expect(afterNodeFailure({ attempt: 3, maxAttempts: 3 })).toBe('alert');
  });

  it('A13: alerts at once when only one attempt is allowed', () => {
    expect(afterNodeFailure({ attempt: 1, maxAttempts: 1 })).toBe('alert');
  });
});

describe('checkDamping (A1: whether a trigger may start a failover)', () => {
  const now = new Date('2025-06-01T12:00:00.000Z');
  const policy: DampingPolicy = { cooldownSeconds: 300, flapWindowSeconds: 3_600, maxFailoversPerWindow: 3 };
  const ago = (seconds: number, outcome: FailoverHistoryEntry['outcome'] = 'failed-over'): FailoverHistoryEntry => ({
    startedAt: new Date(now.getTime() - seconds * 1_000).toISOString(),
    outcome,
  });

  it('A1 damping: allows a failover with no history', () => {
    expect(checkDamping({ now, policy, history: [], trigger: 'failure' })).toEqual({ allowed: true });
  });

  it('A1 damping: blocks a failover within the cooldown after the last node change', () => {
    // Arrange
    const history = [ago(100)];

    // Act
    const verdict = checkDamping({ now, policy, history, trigger: 'performance' });

    // Assert
    expect(verdict).toEqual({
      allowed: false,
      reason: 'cooldown: last failover started 2025-06-01T11:58:20.000Z, 200 s of the 300 s cooldown left',
      retryAt: '2025-06-01T12:03:20.000Z',
    });
  });

  it('A1 damping: allows a failover once the cooldown has passed', () => {
    expect(checkDamping({ now, policy, history: [ago(300)], trigger: 'failure' })).toEqual({ allowed: true });
  });

  it('A1 damping: ignores incidents that did not change nodes when timing the cooldown', () => {
    const history = [ago(10, 'stayed'), ago(20, 'alerted'), ago(30, 'deduplicated'), ago(40, null)];

    expect(checkDamping({ now, policy, history, trigger: 'failure' })).toEqual({ allowed: true });
  });

  it('A1 damping: counts an operator switchover as a node change for later failovers', () => {
    const verdict = checkDamping({ now, policy, history: [ago(60, 'switched-over')], trigger: 'failure' });

    expect(verdict.allowed).toBe(false);
  });

  it('A1 damping: blocks when the flap window already holds maxFailoversPerWindow failovers', () => {
    const history = [ago(3_000), ago(2_000), ago(1_000)];

    const verdict = checkDamping({ now, policy, history, trigger: 'failure' });

    expect(verdict).toEqual({
      allowed: false,
      reason: 'flap damping: 3 failovers in the last 3600 s (at most 3)',
      // the oldest of the three leaves the window 600 s from now
      retryAt: '2025-06-01T12:10:00.000Z',
    });
  });

  it('A1 damping: only counts failovers inside the flap window', () => {
    const history = [ago(4_000), ago(2_000), ago(1_000)];

    expect(checkDamping({ now, policy, history, trigger: 'failure' })).toEqual({ allowed: true });
  });

  it('A1 damping: reports cooldown and flap damping together, allowed again when both have passed', () => {
    const history = [ago(3_000), ago(2_000), ago(60)];

    const verdict = checkDamping({ now, policy, history, trigger: 'failure' });

    expect(verdict.allowed).toBe(false);
    expect(!verdict.allowed && verdict.reason).toMatch(/^cooldown: .*; flap damping: /);
    expect(!verdict.allowed && verdict.retryAt).toBe('2025-06-01T12:10:00.000Z');
  });

  it('C6: an operator switchover bypasses damping', () => {
    const history = [ago(10), ago(20), ago(30)];

    expect(checkDamping({ now, policy, history, trigger: 'switchover' })).toEqual({ allowed: true });
  });

  it('A1 damping: damping still applies to a drill', () => {
    expect(checkDamping({ now, policy, history: [ago(10)], trigger: 'drill' }).allowed).toBe(false);
  });
});

describe('afterVerify (A15)', () => {
  it('A15: fails over again when performance is still below threshold and attempts remain', () => {
    expect(afterVerify({ trigger: 'performance', stillDegraded: true, attempt: 1, maxAttempts: 3 })).toBe('failover-again');
  });

  it('A15: is done when performance recovered', () => {
    expect(afterVerify({ trigger: 'performance', stillDegraded: false, attempt: 1, maxAttempts: 3 })).toBe('done');
  });

  it('A15: is done when no attempts remain', () => {
    expect(afterVerify({ trigger: 'performance', stillDegraded: true, attempt: 3, maxAttempts: 3 })).toBe('done');
  });

  it.each(['failure', 'switchover', 'drill'] as const)('A15: does not hop again after a %s trigger', (trigger) => {
    expect(afterVerify({ trigger, stillDegraded: true, attempt: 1, maxAttempts: 3 })).toBe('done');
  });
});

describe('lastPossibleNodeReached (C7)', () => {
  const app = makeApp({ placement: { preferredNode: nodeId(1), possibleNodes: [nodeId(2), nodeId(3)] } });

  it('C7: is true on the last possible node', () => {
    expect(lastPossibleNodeReached(app, nodeId(3))).toBe(true);
  });

  it('C7: is false on earlier possible nodes and on the preferred node', () => {
    expect(lastPossibleNodeReached(app, nodeId(2))).toBe(false);
    expect(lastPossibleNodeReached(app, nodeId(1))).toBe(false);
  });

  it('C7: is false when the application has no possible-node list', () => {
    expect(lastPossibleNodeReached(makeApp(), nodeId(3))).toBe(false);
  });
});

describe('describeAlert (A14, A13, C7)', () => {
  const details: AlertDetails = {
    app: 'web',
    incidentId: 'web-2025-06-01T12-00-00',
    trigger: 'failure',
    node: nodeId(7),
    currentNode: nodeId(1),
    reason: 'no eligible node among 2 nodes',
    triedNodes: [nodeId(7), nodeId(8)],
  };
  // The requirement each alert kind serves.
  const requirementOf: Record<AlertKind, string> = {
    'no-eligible-node': 'A14',
    'attempts-exhausted': 'A13',
    'last-possible-node': 'C7',
    quarantine: 'A13',
    'shift-failed': 'A9',
    'workflow-error': 'A14',
  };
  const cases = AlertSchema.shape.kind.options.map((kind) => [requirementOf[kind], kind] as const);

  it.each(cases)('%s: a %s alert matches AlertSchema and says what happened and what to do', (_requirement, kind) => {
    const alert = describeAlert(kind, details);

    expect(AlertSchema.parse(alert)).toEqual(alert);
    expect(alert.kind).toBe(kind);
    expect(alert.subject).toContain('web');
    expect(alert.message).toContain('Details: no eligible node among 2 nodes');
    expect(alert.message).toContain(`Incident ${details.incidentId}, failure trigger.`);
    expect(alert.message).toMatch(/\nWhat to do: .{20,}/);
  });

  it('A14: a no-eligible-node alert says the application was not moved and where it runs', () => {
    const alert = describeAlert('no-eligible-node', details);

    expect(alert.subject).toBe('rapid-failover: web: no eligible node to fail over to');
    expect(alert.message).toContain('so it was not moved');
    expect(alert.message).toContain(`Where it runs now: ${nodeId(1)}.`);
  });

  it('A13: an attempts-exhausted alert names the nodes tried', () => {
    const alert = describeAlert('attempts-exhausted', details);

    expect(alert.message).toContain(`failed on 2 node(s) tried (${nodeId(7)}, ${nodeId(8)})`);
  });

  it('C7: a last-possible-node alert says switching is disabled', () => {
    const alert = describeAlert('last-possible-node', details);

    expect(alert.message).toContain('automatic switching is disabled');
  });

  it('A14: says when the application has no host', () => {
    const alert = describeAlert('workflow-error', { ...details, currentNode: null });

    expect(alert.message).toContain('Where it runs now: no node');
  });

  // SNS Publish, Subject: "less than 100 characters long"; a 100-character subject is refused and the alert lost.
  it('A13: a long application name and node id keep the subject under 100 characters (SNS Publish), cut with "…"', () => {
    const alert = describeAlert('quarantine', { ...details, app: 'a'.repeat(40), node: `i-${'f'.repeat(17)}${'x'.repeat(60)}` });

    expect(alert.subject.length).toBe(99);
    expect(alert.subject.endsWith('…')).toBe(true);
    expect(alert.subject.startsWith(`rapid-failover: ${'a'.repeat(40)}: `)).toBe(true);
  });

  it('A13: a subject cut at the limit never splits a character in two (SNS: subjects are UTF-8 text)', () => {
    // 'rapid-failover: ' is 16 units; emoji are 2 UTF-16 units each, so the cut falls inside one.
    const alert = describeAlert('quarantine', { ...details, app: '🚀'.repeat(60) });

    expect(alert.subject.length).toBeLessThan(100);
    expect(alert.subject.endsWith('🚀…')).toBe(true);
    // A lone surrogate does not survive UTF-8: it comes back as U+FFFD.
    expect(Buffer.from(alert.subject, 'utf8').toString('utf8')).toBe(alert.subject);
  });
});

describe('evaluateThreshold (A10)', () => {
  const detection = (overrides: Record<string, unknown> = {}) =>
    PerformanceDetectionSchema.parse({
      namespace: 'App',
      metricName: 'RequestsPerSecond',
      threshold: 100,
      comparison: 'LessThanThreshold',
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      ...overrides,
    });

  it('A10: breaches when M of the last N datapoints are bad', () => {
    const result = evaluateThreshold(detection(), [150, 90, 150, 80, 70]);

    expect(result).toEqual({ breaching: true, badDatapoints: 3 });
  });

  it('A10: does not breach on fewer than M bad datapoints', () => {
    expect(evaluateThreshold(detection(), [150, 90, 150, 80, 150])).toEqual({ breaching: false, badDatapoints: 2 });
  });

  it('A10: looks only at the last N datapoints', () => {
    // three bad ones, but two of them are older than the last five
    expect(evaluateThreshold(detection(), [10, 10, 150, 150, 150, 150, 10])).toEqual({ breaching: false, badDatapoints: 1 });
  });

  it('A10: does not breach before M datapoints exist', () => {
    expect(evaluateThreshold(detection(), [10, 10])).toEqual({ breaching: false, badDatapoints: 2 });
  });

  it('A10: never counts a missing (NaN) datapoint as bad', () => {
    expect(evaluateThreshold(detection({ datapointsToAlarm: 1 }), [Number.NaN])).toEqual({ breaching: false, badDatapoints: 0 });
  });

  it.each([
    ['LessThanThreshold', 100, false],
    ['LessThanOrEqualToThreshold', 100, true],
    ['GreaterThanThreshold', 100, false],
    ['GreaterThanOrEqualToThreshold', 100, true],
    ['LessThanThreshold', 99, true],
    ['GreaterThanThreshold', 101, true],
  ] as const)('A10: %s with value %d at threshold 100 is bad: %s', (comparison, value, bad) => {
    const result = evaluateThreshold(detection({ comparison, evaluationPeriods: 1, datapointsToAlarm: 1 }), [value]);

    expect(result.breaching).toBe(bad);
  });
});
