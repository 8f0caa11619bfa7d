// Fencing a failed host (C1: no split brain) takes as long as the instance takes to stop.
// The stop starts when provisioning starts, beside it (C9), so the shift step, which must not
// move traffic or the address before the host is stopped, usually finds it stopped already.
import type { WorkflowState } from '../core/workflow-state.ts';
import { describeInstance } from './adapters/fleet.ts';
import { stopInstance } from './adapters/instances.ts';
import { errorMessage, isThrottling } from './aws-errors.ts';
import { otherTenants } from './occupancy.ts';
import type { StepContext } from './step.ts';

/** Starts stopping the failed host a failure trigger leaves behind; best effort: the shift step still checks and waits. */
export async function beginFencing(ctx: StepContext, state: WorkflowState, newNode: string): Promise<void> {
  const old = state.currentNode;
  if (state.trigger.kind !== 'failure' || old === null || old === newNode) return;
  try {
    // A virtual-node host still serves other applications: it is never stopped.
    if ((await otherTenants(ctx, old)).length > 0) return;
    const instance = await describeInstance(ctx.deps.ec2, old);
    if (instance?.state !== 'running') return;
    await stopInstance(ctx.deps.ec2, old, true);
    ctx.log.info('fencing started beside provisioning', { old });
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn('could not start fencing early; the shift step fences', { old, error: errorMessage(error) });
  }
}
