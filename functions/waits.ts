// What a step waits for, built from what it is waiting on: the end event of an SSM command it
// sent, an EC2 instance reaching a state, or (when AWS emits nothing) a time to look again.
import { commandKey, instanceKey } from '../core/awaited-events.ts';
import type { ErrorName, PendingOn } from '../core/errors.ts';
import type { WorkflowState } from '../core/workflow-state.ts';
import type { RunStatus } from './adapters/commands.ts';
import { remainingSeconds } from './policy.ts';

type PendingRun = Extract<RunStatus, { status: 'pending' }>;

/**
 * A pending document run: its command's end event (Success resumes the step; with `failWith`,
 * anything else fails the wait), waited for no longer than the workflow allows the command (and
 * the step's budget); or, when no command could be sent yet, a later look.
 */
export function onDocuments(
  run: PendingRun,
  instanceId: string,
  options: { budget?: { elapsed: number; limit: number } | null; then?: 'again' | 'next'; failWith?: ErrorName } = {},
): PendingOn {
  if (run.commandId === null) return { afterSeconds: run.retryAfterSeconds };
  const budgetLeft = options.budget ? remainingSeconds(options.budget) : Number.POSITIVE_INFINITY;
  return {
    event: {
      key: commandKey(run.commandId, instanceId),
      since: new Date(run.sentAt),
      expect: ['Success'],
      ...(options.failWith ? { failWith: options.failWith } : {}),
      then: options.then ?? 'again',
      timeoutSeconds: Math.min(run.remainingSeconds, budgetLeft),
    },
  };
}

/**
 * An instance reaching one of `states` (its EC2 state-change event; the step then looks at what
 * it is), since `since`, for at most `timeoutSeconds`.
 */
export function onInstanceState(instanceId: string, states: readonly string[], since: Date, timeoutSeconds: number): PendingOn {
  return { event: { key: instanceKey(instanceId), since, expect: [...states], then: 'again', timeoutSeconds } };
}

/** The SSM command end the step was resumed with, if that is what resumed it. */
export function endedCommand(resumed: WorkflowState['resumed']): { commandId: string; instanceId: string; status: string } | undefined {
  const match = resumed?.key && resumed.status ? /^ssm:(.+):(i-[0-9a-f]+)$/.exec(resumed.key) : null;
  return match ? { commandId: match[1]!, instanceId: match[2]!, status: resumed!.status! } : undefined;
}
