// Resumes a workflow task that waits on its task token (.waitForTaskToken): SendTaskSuccess with
// the output the task state receives, or SendTaskFailure with the error its Catch matches.
// Step Functions closes a task once: a second send for the same token answers TaskTimedOut
// ("The task token has either expired or the task associated with the token has already been
// closed", AWS Step Functions API Reference, SendTaskSuccess).
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { hasName } from '../aws-errors.ts';

/** The task is no longer waiting: already resumed, timed out, or its execution ended. */
const CLOSED = ['TaskTimedOut', 'TaskDoesNotExist'] as const;

export async function resumeTask(sfn: SFNClient, token: string, output: Record<string, unknown>): Promise<'resumed' | 'closed'> {
  try {
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
    return 'resumed';
  } catch (error) {
    if (hasName(error, ...CLOSED)) return 'closed';
    throw error;
  }
}

/** `error` is what the state's Catch matches (ErrorEquals); cause: why, for the failover record. */
export async function failTask(sfn: SFNClient, token: string, error: string, cause: string): Promise<'failed' | 'closed'> {
  try {
    await sfn.send(new SendTaskFailureCommand({ taskToken: token, error: error.slice(0, 256), cause: cause.slice(0, 32_768) }));
    return 'failed';
  } catch (e) {
    if (hasName(e, ...CLOSED)) return 'closed';
    throw e;
  }
}
