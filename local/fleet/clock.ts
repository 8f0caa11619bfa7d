// Virtual time for the local runtime. Nothing moves unless someone advances the clock; timers
// scheduled on it fire, in time order, while it is advanced past them. The fleet schedules its
// state transitions here, and anything else that waits (a workflow's Wait state, a poll loop)
// can use sleep().

export interface TimerHandle {
  readonly at: number;
  cancel(): void;
}

interface Timer {
  at: number;
  seq: number;
  label: string;
  fn: () => void;
  cancelled: boolean;
}

export const DEFAULT_EPOCH = new Date('2030-01-01T00:00:00.000Z');

export class VirtualClock {
  private current: number;
  private readonly timers: Timer[] = [];
  private seq = 0;
  private firing = false;

  constructor(start: Date | number = DEFAULT_EPOCH) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  nowMs(): number {
    return this.current;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in time order. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite, non-negative number; got ${ms}`);
    this.advanceTo(this.current + ms);
  }

  /** Moves time forward to `to` (never back), firing every timer due on the way. */
  advanceTo(to: Date | number): void {
    const target = typeof to === 'number' ? to : to.getTime();
    if (!Number.isFinite(target)) throw new RangeError('advanceTo needs a valid time');
    if (target < this.current) {
      throw new RangeError(`virtual time only moves forward: now ${new Date(this.current).toISOString()}, asked for ${new Date(target).toISOString()}`);
    }
    if (this.firing) {
      // A timer callback asked to advance. Timers due by then fire, in order, after the current
      // one returns (late by at most that advance); just move the hands.
      this.current = target;
      return;
    }
    this.firing = true;
    try {
      for (;;) {
        const next = this.timers[0];
        // A callback may have moved the hands past `target` (see above): fire what that made due.
        if (!next || next.at > Math.max(target, this.current)) break;
        this.timers.shift();
        if (next.cancelled) continue;
        this.current = Math.max(this.current, next.at);
        next.fn();
      }
      this.current = Math.max(this.current, target);
    } finally {
      this.firing = false;
    }
  }

  /** Advances to the next pending timer and fires it (and any due at the same time). False when none is pending. */
  advanceToNextTimer(): boolean {
    const next = this.nextTimerAt();
    if (next === undefined) return false;
    this.advanceTo(Math.max(next, this.current));
    return true;
  }

  /** Runs `fn` when virtual time reaches `at` (at once on the next advance if `at` is already past). */
  schedule(at: Date | number, fn: () => void, label = 'timer'): TimerHandle {
    const when = Math.max(typeof at === 'number' ? at : at.getTime(), this.current);
    const timer: Timer = { at: when, seq: this.seq++, label, fn, cancelled: false };
    // Keep the list sorted by (at, seq): timers at the same time fire in the order scheduled.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.timers[mid]!;
      if (t.at < timer.at || (t.at === timer.at && t.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, timer);
    return {
      at: when,
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Runs `fn` after `ms` of virtual time. */
  after(ms: number, fn: () => void, label?: string): TimerHandle {
    return this.schedule(this.current + Math.max(0, ms), fn, label);
  }

  /** Resolves once virtual time has advanced by `ms`. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve, 'sleep'));
  }

  nextTimerAt(): number | undefined {
    return this.timers.find((t) => !t.cancelled)?.at;
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
