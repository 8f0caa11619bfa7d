import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../local/fleet/clock.ts';
import { VirtualTime } from '../../local/runtime/virtual-time.ts';
import { LambdaEnvironments } from '../../local/runtime/lambda-environments.ts';
import { requireNode22, WorkflowRunner } from '../../local/runtime/workflow-runner.ts';

class PendingError extends Error {
  override name = 'StepPendingError';
}

const definition = {
  StartAt: 'Poll',
  States: {
    Poll: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:123456789012:function:Poll',
      Retry: [{ ErrorEquals: ['StepPendingError'], IntervalSeconds: 2, BackoffRate: 1.5, MaxDelaySeconds: 3, MaxAttempts: 10 }],
      Next: 'Settle',
    },
    Settle: { Type: 'Wait', SecondsPath: '$.settleSeconds', Next: 'Check' },
    Check: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:Check', End: true },
  },
};

function runnerWith(handlers: Record<string, (input: unknown) => Promise<unknown>>) {
  const time = new VirtualTime(new VirtualClock(new Date('2030-01-01T00:00:00Z')));
  const runner = new WorkflowRunner({ definition, handlers, now: time.now, sleep: time.sleep });
  const run = async (input: unknown) => {
    let result: Awaited<ReturnType<WorkflowRunner['execute']>> | undefined;
    const done = time.flow(() => runner.execute('run-1', input)).then((r) => (result = r));
    await time.run(() => result !== undefined, Number.POSITIVE_INFINITY);
    await done;
    return result!;
  };
  return { time, run };
}

describe('WorkflowRunner', () => {
  it('spends the Retry intervals AWS would wait, capped by MaxDelaySeconds, in virtual time', async () => {
    let polls = 0;
    const { run } = runnerWith({
      Poll: async (input) => {
        if (++polls < 4) throw new PendingError('not yet');
        return input;
      },
      Check: async (input) => input,
    });

    const result = await run({ settleSeconds: 0 });

    expect(result.status).toBe('SUCCEEDED');
    expect(polls).toBe(4);
    // 2 s, then 3 s (2 × 1.5), then 3 s (4.5 capped at 3): 8 s before the fourth poll.
    const poll = result.steps.find((s) => s.state === 'Poll')!;
    expect(poll.invocations).toBe(4);
    expect(poll.endedAt.getTime() - poll.startedAt.getTime()).toBe(8_000);
  });

  it('sleeps a Wait state for the seconds its SecondsPath names before the next task', async () => {
    const { run } = runnerWith({ Poll: async (input) => input, Check: async (input) => input });

    const result = await run({ settleSeconds: 120 });

    const check = result.steps.find((s) => s.state === 'Check')!;
    expect(check.startedAt.getTime() - result.startedAt.getTime()).toBe(120_000);
    expect(result.path).toEqual(['Poll', 'Check']);
  });

  it('reports a failed execution with the error that ended it', async () => {
    const { run } = runnerWith({
      Poll: async () => {
        throw new TypeError('boom');
      },
      Check: async (input) => input,
    });

    const result = await run({ settleSeconds: 0 });

    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('TypeError');
    expect(result.steps[0]?.error).toBe('TypeError');
  });
});

// Lambda and Step Functions take time of their own (latency model: lambda, stepFunctions).
describe('WorkflowRunner: what Lambda and Step Functions themselves take', () => {
  const fn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;
  // Start ─► Lock (polls once) ─► Claimed? ─► Provision ─► Done (Succeed)
  const withChoice = {
    StartAt: 'Lock',
    States: {
      Lock: { Type: 'Task', Resource: fn('Lock'), Retry: [{ ErrorEquals: ['StepPendingError'], IntervalSeconds: 2, BackoffRate: 1, MaxAttempts: 5 }], Next: 'Claimed?' },
      'Claimed?': { Type: 'Choice', Choices: [{ Variable: '$.claimed', BooleanEquals: true, Next: 'Provision' }], Default: 'Done' },
      Provision: { Type: 'Task', Resource: fn('Provision'), Next: 'Done' },
      Done: { Type: 'Succeed' },
    },
  };
  const COLD = 700;
  const INVOKE = 40;
  const TRANSITION = 25;

  function costedRunner(handlers: Record<string, (input: unknown) => Promise<unknown>>) {
    const time = new VirtualTime(new VirtualClock(new Date('2030-01-01T00:00:00Z')));
    const runner = new WorkflowRunner({
      definition: withChoice,
      handlers,
      now: time.now,
      sleep: time.sleep,
      environments: new LambdaEnvironments({ coldStartMs: COLD, invokeMs: INVOKE }),
      stateTransitionMs: TRANSITION,
    });
    const execute = async (names: string[]) => {
      const results = new Map<string, Awaited<ReturnType<WorkflowRunner['execute']>>>();
      const done = Promise.all(names.map((name) => time.flow(() => runner.execute(name, { claimed: true })).then((r) => results.set(name, r))));
      await time.run(() => results.size === names.length, Number.POSITIVE_INFINITY);
      await done;
      return names.map((name) => results.get(name)!);
    };
    return { time, execute };
  }

  it('Lambda execution environment lifecycle: the first invocation of each function pays Init (cold), later ones reuse the environment (warm); every state entered and every retry is a state transition', async () => {
    let lockCalls = 0;
    const seen: Array<{ state: string; at: number }> = [];
    const { time, execute } = costedRunner({
      Lock: async (input) => {
        seen.push({ state: 'Lock', at: time.clock.nowMs() });
        if (++lockCalls === 1) throw new PendingError('not yet');
        return input;
      },
      Provision: async (input) => {
        seen.push({ state: 'Provision', at: time.clock.nowMs() });
        return input;
      },
    });
    const start = time.clock.nowMs();

    const [result] = await execute(['incident-1']);

    expect(result!.status).toBe('SUCCEEDED');
    // Lock entered (1 transition), cold start: the handler runs after 25 + 700 + 40 ms.
    expect(seen[0]).toEqual({ state: 'Lock', at: start + TRANSITION + COLD + INVOKE });
    // The retry: its interval (2 s), one more (billed) transition, a warm invoke.
    expect(seen[1]).toEqual({ state: 'Lock', at: seen[0]!.at + 2_000 + TRANSITION + INVOKE });
    // Claimed? and Provision entered (2 transitions); Provision's own first invocation is cold.
    expect(seen[2]).toEqual({ state: 'Provision', at: seen[1]!.at + 2 * TRANSITION + COLD + INVOKE });
    // Done (Succeed) entered: the execution ends one transition after Provision returned.
    expect(result!.endedAt.getTime()).toBe(seen[2]!.at + TRANSITION);
  });

  it('concurrent executions each need an execution environment of their own; a later one finds them warm', async () => {
    const starts: number[] = [];
    const { time, execute } = costedRunner({
      Lock: async (input) => {
        starts.push(time.clock.nowMs());
        return input;
      },
      Provision: async (input) => input,
    });
    const t0 = time.clock.nowMs();

    await execute(['incident-1', 'incident-2']);
    const t1 = time.clock.nowMs();
    await execute(['incident-3']);

    // Both concurrent Locks started cold; the third, after them, found an idle environment.
    expect(starts.slice(0, 2)).toEqual([t0 + TRANSITION + COLD + INVOKE, t0 + TRANSITION + COLD + INVOKE]);
    expect(starts[2]).toBe(t1 + TRANSITION + INVOKE);
  });
});

describe('the Node.js the local runtime runs on', () => {
  it('refuses Node 20 with a message that says what to run instead (aws-local-stepfunctions 3 needs Node 22)', () => {
    expect(() => requireNode22('20.20.2')).toThrow(/needs Node\.js 22 or later .*this is Node 20\.20\.2\. Run it through npm/);
    expect(() => requireNode22('22.0.0')).not.toThrow();
    expect(() => requireNode22(process.versions.node)).not.toThrow();
  });
});
