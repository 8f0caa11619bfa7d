import { describe, expect, it } from 'vitest';
import { countRequest, emptyTally, writeItemCount } from '../../bench/instrument.ts';
import { minimumApiCalls } from '../../bench/minimums.ts';
import { alternatives, EC2_NON_MUTATING_BUCKET, healthCheckMs, ourMinimum, peakInWindow, throttledRequests } from '../../bench/model.ts';
import type { FailoverRun } from '../../bench/measure.ts';
import { overheadRow, selectionGrowth, sharedPoolSize } from '../../bench/report.ts';
import { FAILOVER_CASES } from '../../bench/scenarios.ts';
import { resolveLatency } from '../../local/fleet/latency.ts';

const model = resolveLatency();
const caseOf = (label: string) => FAILOVER_CASES.find((c) => c.label === label)!;

describe('healthCheckMs', () => {
  it('A9, ALB rule "after your target is registered, it must pass one health check": one interval when the application is up by the first check', () => {
    expect(healthCheckMs(model, 0).ms).toBe(30_000);
    expect(healthCheckMs(model, 30_000).ms).toBe(30_000);
  });

  it('a check that fails while the application starts only delays the first pass, until UnhealthyThresholdCount checks have failed', () => {
    // Up 45 s after registration: the check at 30 s fails, the one at 60 s passes.
    expect(healthCheckMs(model, 45_000).ms).toBe(60_000);
  });

  it('A9, ALB rule "HealthyThresholdCount ... before considering an unhealthy target healthy": after UnhealthyThresholdCount failures the full threshold is needed', () => {
    const fast = resolveLatency({ elbv2: { healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 } });
    // Up 15 s after registration: checks at 5 and 10 s fail (unhealthy), 15 s and 20 s pass.
    expect(healthCheckMs(fast, 15_000).ms).toBe(20_000);
    // The defaults: up 61 s after registration; 30 s and 60 s fail, then 5 passes from 90 s.
    expect(healthCheckMs(model, 61_000).ms).toBe(210_000);
  });
});

describe('ourMinimum', () => {
  it('boot-volume: swap, then health checks (the app starts at boot within the first interval)', () => {
    const m = ourMinimum(model, caseOf('boot-volume'), []);
    expect(m.ms).toBe(5_000 + 15_000 + 30_000);
    expect(m.formula).toBe('root volume pending 5 s + root volume in-progress 15 s + health check (one pass, 30 s) 30 s = 50 s');
  });

  it('install: one document, then health checks', () => {
    expect(ourMinimum(model, caseOf('install'), ['AWS-RunShellScript']).ms).toBe(1_000 + 5_000 + 30_000);
  });

  it('activate from a stopped node adds the instance start', () => {
    expect(ourMinimum(model, caseOf('activate (stopped node)'), ['AWS-RunShellScript']).ms).toBe(40_000 + 1_000 + 5_000 + 30_000);
  });
});

describe('alternatives', () => {
  it('models launch, warm pool and hot standby from the same numbers', () => {
    const [launch, warm, hot] = alternatives(model, 'AWS-RunShellScript');
    expect(launch!.modelled.ms).toBe(150 + 40_000 + 30_000);
    expect(warm!.modelled.ms).toBe(150 + 40_000 + 30_000);
    expect(hot!.modelled.ms).toBe(100 + 30_000);
  });
});

describe('minimumApiCalls', () => {
  it('install: one SendCommand per document and one RegisterTargets per target group', () => {
    const rows = minimumApiCalls(caseOf('install'), { documents: 2, targetGroups: 3 });
    const count = (command: string) => rows.find((r) => r.command === command)?.count;
    expect(count('ssm:SendCommand')).toBe(2);
    expect(count('elbv2:RegisterTargets')).toBe(3);
    expect(count('ec2:CreateReplaceRootVolumeTask')).toBeUndefined();
  });
});

describe('throttling model', () => {
  it('lets a burst of the bucket size through and refuses the rest of the same instant', () => {
    const burst = Array.from({ length: 150 }, () => 0);
    expect(throttledRequests(burst, EC2_NON_MUTATING_BUCKET)).toBe(50);
  });

  it('refills at the stated rate', () => {
    const spread = Array.from({ length: 200 }, (_, i) => i * 50); // 20 per second for 10 s
    expect(throttledRequests(spread, EC2_NON_MUTATING_BUCKET)).toBe(0);
    expect(peakInWindow(spread, 1000)).toBe(20);
  });
});

describe('DynamoDB tally', () => {
  it('counts transaction items and separates reads from writes', () => {
    const tally = emptyTally();
    countRequest(tally, 'TransactWriteItems', { TransactItems: [{}, {}, {}] }, undefined);
    countRequest(tally, 'Query', {}, undefined);
    expect(tally).toMatchObject({ reads: 1, writes: 1, writeItems: 3, byCommand: { TransactWriteItems: 1, Query: 1 } });
    expect(writeItemCount('BatchWriteItem', { RequestItems: { a: [{}, {}], b: [{}] } })).toBe(3);
  });
});

describe('report helpers', () => {
  it('sizes the shared pool for 10 % concurrent failures plus a spare', () => {
    expect(sharedPoolSize(10)).toBe(2);
    expect(sharedPoolSize(50)).toBe(6);
  });

  it('reports the growth exponent of API calls between pool sizes', () => {
    const round = (total: number) => ({ cache: 'cold' as const, apiCalls: { total, byService: {}, byCommand: { 'ec2:DescribeInstances': total } }, ddb: emptyTally(), wallMs: 0, virtualMs: 0, eligible: 0, rejected: 0 });
    const runs = [100, 1000].map((poolSize, i) => ({ poolSize, setupMs: 0, rounds: [round([4, 40][i]!), { ...round([4, 40][i]!), cache: 'warm' as const }] }));
    const [cold] = selectionGrowth(runs);
    expect(cold!.exponent).toBeCloseTo(1);
  });
});

describe('overhead of a failover', () => {
  it('is split into parts that add up to RTO minus AWS durations, the control plane\'s own costs (EventBridge delivery, intake, state transitions between steps) included', () => {
    const c = caseOf('install');
    // Steps in seconds after the ALARM: intake took 1.2 s; 0.1 s of state transitions between steps.
    const run = {
      label: c.label,
      variant: 'default',
      latency: model,
      outcome: 'failed-over',
      rtoSeconds: 170,
      steps: [
        { name: 'LockApplication', start: 1.2, end: 1.9 },
        { name: 'SelectAndClaimNode', start: 1.95, end: 3 },
        { name: 'ProvisionNode', start: 3.05, end: 12 },
        { name: 'JoinCluster', start: 12.05, end: 168 },
        { name: 'ShiftTrafficAndFence', start: 168.05, end: 171 },
      ],
    } as unknown as FailoverRun;

    const row = overheadRow(run, c);

    // AWS's own: 1 s delivery + 5 s document + 30 s, one passing health check for a new ALB target.
    expect(row.overheadSeconds).toBeCloseTo(170 - (1 + 5 + 30), 6);
    const parts = Object.values(row.breakdown).reduce((a, b) => a + b, 0);
    expect(parts).toBeCloseTo(row.overheadSeconds, 6);
  });
});
