import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../local/fleet/clock.ts';
import { DEFAULT_LATENCY, resolveLatency } from '../../../local/fleet/latency.ts';

describe('VirtualClock', () => {
  it('fires timers in time order while advancing, each at its own time', () => {
    const clock = new VirtualClock(new Date('2030-01-01T00:00:00Z'));
    const fired: Array<[string, number]> = [];
    clock.after(3_000, () => fired.push(['c', clock.nowMs()]));
    clock.after(1_000, () => fired.push(['a', clock.nowMs()]));
    clock.after(1_000, () => fired.push(['b', clock.nowMs()]));
    clock.after(10_000, () => fired.push(['late', clock.nowMs()]));

    clock.advance(5_000);

    const start = Date.parse('2030-01-01T00:00:00Z');
    expect(fired).toEqual([
      ['a', start + 1_000],
      ['b', start + 1_000],
      ['c', start + 3_000],
    ]);
    expect(clock.now().toISOString()).toBe('2030-01-01T00:00:05.000Z');
    expect(clock.nextTimerAt()).toBe(start + 10_000);
  });

  it('fires timers scheduled by a timer within the same advance', () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    clock.after(100, () => clock.after(100, () => fired.push(clock.nowMs())));

    clock.advance(250);

    expect(fired).toEqual([200]);
  });

  it('resolves sleep() only when virtual time has passed, and never moves backwards', async () => {
    const clock = new VirtualClock(0);
    let woke = false;
    const sleeping = clock.sleep(60_000).then(() => (woke = true));

    clock.advance(59_999);
    await Promise.resolve();
    expect(woke).toBe(false);
    clock.advanceToNextTimer();
    await sleeping;

    expect(woke).toBe(true);
    expect(clock.nowMs()).toBe(60_000);
    expect(() => clock.advanceTo(0)).toThrow(/only moves forward/);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('skips cancelled timers', () => {
    const clock = new VirtualClock(0);
    let fired = false;
    clock.after(10, () => (fired = true)).cancel();

    clock.advance(20);

    expect(fired).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('latency model', () => {
  it('merges a partial override over the documented defaults', () => {
    const latency = resolveLatency({ ec2: { instanceStartMs: 5_000 }, elbv2: { healthyThresholdCount: 2 } });

    expect(latency.ec2.instanceStartMs).toBe(5_000);
    expect(latency.ec2.rootVolumeInProgressMs).toBe(DEFAULT_LATENCY.ec2.rootVolumeInProgressMs);
    expect(latency.elbv2).toEqual({ healthCheckIntervalSeconds: 30, healthyThresholdCount: 2, unhealthyThresholdCount: 2, deregistrationDelaySeconds: 300, applicationRegistrationMs: 0, networkRegistrationMs: 180_000 });
    expect(DEFAULT_LATENCY.ec2.instanceStartMs).not.toBe(5_000);
  });

  it('rejects negative durations', () => {
    expect(() => resolveLatency({ ssm: { deliveryMs: -1 } })).toThrow(/ssm.deliveryMs/);
  });
});
