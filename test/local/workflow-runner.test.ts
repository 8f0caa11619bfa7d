import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../local/fleet/clock.ts';
import { VirtualTime } from '../../local/runtime/virtual-time.ts';
import { WorkflowRunner } from '../../local/runtime/workflow-runner.ts';

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
