// Fencing a failed host (C1: no split brain) takes as long as the instance takes to stop.
// The stop starts when provisioning starts, beside it (C9), so the shift step, which must not
// move traffic or the address before the host is stopped, usually finds it stopped already.
import type { WorkflowState } from '../core/workflow-state.ts';
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
    // No DescribeInstances first: StopInstances answers with the instance's previous and current
    // state (EC2 API Reference, "StopInstances"); a host in no state to stop (pending,
    // terminated) or not ours to stop is refused, logged below, and fenced by the shift step,
    // which reads the host itself before the address moves. ASSUMPTION: a stop of a host that is
    // stopped already succeeds without effect (the API reference does not say; the fleet models
    // it so). One call fewer per failover against EC2's request bucket (bench/README, section 4).
    await stopInstance(ctx.deps.ec2, old, true);
    ctx.log.info('fencing started beside provisioning', { old });
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn('could not start fencing early; the shift step fences', { old, error: errorMessage(error) });
  }
}
