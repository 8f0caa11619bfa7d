// Drives the virtual clock for concurrent workflow executions: time moves only when every
// active flow (an execution, an intake call) is waiting on virtual time, and then straight
// to the next timer. Real I/O (DynamoDB Local over HTTP) takes no virtual time.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { VirtualClock } from '../fleet/clock.ts';

/** How long the driver waits for a flow to sleep or end before it looks again anyway. */
const FALLBACK_WAKE_MS = 20;

export class VirtualTime {
  private activeFlows = 0;
  private sleepers = 0;
  /** Wakes the driver: a flow began to sleep or ended (the only ways every flow can become idle). */
  private wake: (() => void) | null = null;

  constructor(readonly clock: VirtualClock) {}

  now = (): Date => this.clock.now();

  /** Waits `ms` of virtual time; counts as idle for the driver. */
  sleep = async (ms: number): Promise<void> => {
    if (ms <= 0) return;
    this.sleepers++;
    this.notify();
    try {
      await this.clock.sleep(ms);
    } finally {
      this.sleepers--;
    }
  };

  /**
   * Waits for something another flow settles (a task token resumed by a callback) or a timer
   * on the clock rejects: idle time for the driver, like a sleep.
   */
  idleUntil = async <T>(settled: Promise<T>): Promise<T> => {
    this.sleepers++;
    try {
      return await settled;
    } finally {
      this.sleepers--;
    }
  };

  /** Runs `work` as one flow: while it runs, virtual time waits for it. */
  async flow<T>(work: () => Promise<T>): Promise<T> {
    this.activeFlows++;
    try {
      return await work();
    } finally {
      this.activeFlows--;
      this.notify();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * Resolves when a flow begins to sleep or ends, or after a short while anyway: waiting for
   * that instead of turning the event loop over and over while flows do real I/O (DynamoDB
   * Local) leaves the CPU to that I/O.
   */
  private async changed(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, FALLBACK_WAKE_MS);
    });
    clearTimeout(timer);
    this.wake = null;
  }

  /** True when nothing but virtual time can make progress. */
  private idle(): boolean {
    return this.sleepers >= this.activeFlows;
  }

  /**
   * Advances the clock whenever every flow waits on it, until `done()` or the clock would pass
   * `until`. Yields to the event loop between checks so real I/O completes.
   */
  async run(done: () => boolean, until: number): Promise<void> {
    let quietTurns = 0;
    while (!done()) {
      if (!this.idle()) {
        quietTurns = 0;
        await this.changed();
        continue;
      }
      // A resolved sleep needs a few turns before its flow is running again: do not race it.
      if (++quietTurns < 3) {
        await nextTurn();
        continue;
      }
      const next = this.clock.nextTimerAt();
      if (next === undefined || next > until) return;
      quietTurns = 0;
      this.clock.advanceToNextTimer();
      await nextTurn();
    }
  }
}
