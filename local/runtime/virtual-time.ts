// Drives the virtual clock for concurrent workflow executions: time moves only when every
// active flow (an execution, an intake call) is waiting on virtual time, and then straight
// to the next timer. Real I/O (DynamoDB Local over HTTP) takes no virtual time.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { VirtualClock } from '../fleet/clock.ts';

export class VirtualTime {
  private activeFlows = 0;
  private sleepers = 0;

  constructor(readonly clock: VirtualClock) {}

  now = (): Date => this.clock.now();

  /** Waits `ms` of virtual time; counts as idle for the driver. */
  sleep = async (ms: number): Promise<void> => {
    if (ms <= 0) return;
    this.sleepers++;
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
    }
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
        await nextTurn();
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
