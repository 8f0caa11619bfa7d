// Lambda execution environments, per function, in virtual time. An invocation takes an idle
// environment of its function (a warm start) or, when every one is busy, Lambda starts a new one
// and runs its Init phase first (a cold start); the environment is idle again when the handler
// returns. Environments are kept for the whole run (Lambda keeps them "for a non-deterministic
// period of time"; a scenario spans minutes).
import type { LatencyModel } from '../fleet/latency.ts';

export class LambdaEnvironments {
  private readonly idle = new Map<string, number>();
  private readonly started = new Map<string, number>();

  constructor(private readonly model: LatencyModel['lambda']) {}

  /** Runs one invocation of `fn`: waits for the invoke (and Init, when no environment is idle), then `work`. */
  async invoke<T>(fn: string, sleep: (ms: number) => Promise<void>, work: () => Promise<T>): Promise<T> {
    const idle = this.idle.get(fn) ?? 0;
    if (idle > 0) this.idle.set(fn, idle - 1);
    else this.started.set(fn, (this.started.get(fn) ?? 0) + 1);
    try {
      await sleep(idle > 0 ? this.model.invokeMs : this.model.coldStartMs + this.model.invokeMs);
      return await work();
    } finally {
      this.idle.set(fn, (this.idle.get(fn) ?? 0) + 1);
    }
  }

  /** Execution environments started so far (cold starts), per function. */
  coldStarts(): Record<string, number> {
    return Object.fromEntries(this.started);
  }
}
