// Control tags on pool nodes (`rapid-failover:*`): informational for operators and other
// tools; the claims table is the authority. Tagging is best effort: only throttling fails a step.
import type { Config, Pool } from '../core/config.ts';
import { Tags, tagInstance, untagInstance } from './adapters/instances.ts';
import type { InstanceInfo } from './adapters/fleet.ts';
import { errorMessage, isThrottling } from './aws-errors.ts';
import type { StepContext } from './step.ts';

export type NodeRole = 'claimed' | 'serving' | 'free' | 'quarantined' | 'retained';

/** The pool an instance belongs to by its tags, or null (IAM lets the control plane tag pool nodes only). */
export function poolOf(config: Config, instance: InstanceInfo): Pool | null {
  return config.pools.find((p) => instance.tags[p.tag.key] === p.tag.value) ?? null;
}

export function isVirtualHost(config: Config, poolName: string | undefined): boolean {
  return config.pools.find((p) => p.name === poolName)?.virtualNodes !== undefined;
}

async function bestEffort(ctx: StepContext, what: string, call: () => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (isThrottling(error)) throw error;
    ctx.log.warn(`could not ${what}`, { error: errorMessage(error) });
  }
}

/**
 * Marks the application's use of a node. A dedicated node carries the application and the
 * role; a virtual-node host (B1) carries one tag per application it hosts, and the role
 * `serving` while it hosts any: the stack-wide status-check alarm watches every instance whose
 * role is `serving` (core/detection.ts), so moving this tag is what re-points detection.
 */
export async function tagNodeRole(ctx: StepContext, input: { nodeId: string; host: boolean; role: NodeRole; incidentId: string }): Promise<void> {
  const tags: Record<string, string> = input.host
    ? { [Tags.hostedApp(ctx.app.name)]: input.role, [Tags.Incident]: input.incidentId }
    : { [Tags.Application]: ctx.app.name, [Tags.Role]: input.role, [Tags.Incident]: input.incidentId };
  if (input.host && input.role === 'serving') tags[Tags.Role] = input.role;
  await bestEffort(ctx, `tag ${input.nodeId} ${input.role}`, () => tagInstance(ctx.deps.ec2, input.nodeId, tags));
}

/**
 * The application leaves the node: its tags go; a dedicated node gets `role` (free, quarantined,
 * retained). A host keeps role `serving` while it still hosts other applications (`othersStay`),
 * so their status checks stay watched; otherwise it gets `role` too.
 */
export async function tagNodeReleased(ctx: StepContext, input: { nodeId: string; host: boolean; role: NodeRole; othersStay?: boolean }): Promise<void> {
  await bestEffort(ctx, `untag ${input.nodeId}`, async () => {
    if (input.host) {
      await untagInstance(ctx.deps.ec2, input.nodeId, [Tags.hostedApp(ctx.app.name)]);
      if (!input.othersStay) await tagInstance(ctx.deps.ec2, input.nodeId, { [Tags.Role]: input.role });
      return;
    }
    await untagInstance(ctx.deps.ec2, input.nodeId, [Tags.Application, Tags.Incident]);
    await tagInstance(ctx.deps.ec2, input.nodeId, { [Tags.Role]: input.role });
  });
}
