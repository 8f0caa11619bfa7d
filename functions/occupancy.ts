// Who else runs on a node: a virtual-node host (B1) is never stopped to fence one of its tenants.
import { getAppStates } from './adapters/app-state.ts';
import { occupies, queryNode } from './adapters/claims.ts';
import { whereRuns } from './pool-view.ts';
import type { StepContext } from './step.ts';

/** Applications other than the one failing over that run on `nodeId` (by claim or by state). */
export async function otherTenants(ctx: StepContext, nodeId: string): Promise<string[]> {
  const { deps, app } = ctx;
  const claims = await queryNode(deps.ddb, deps.env.tables.claims, nodeId);
  const byClaim = claims.holders.filter((h) => h.holder !== app.name && occupies(h, ctx.nowSeconds)).map((h) => h.holder);
  const others = deps.env.config.applications.filter((a) => a.name !== app.name && !byClaim.includes(a.name));
  const states = others.length > 0 ? await getAppStates(deps.ddb, deps.env.tables.state, others.map((a) => a.name)) : new Map();
  const byState = others.filter((a) => whereRuns(a, states.get(a.name)) === nodeId).map((a) => a.name);
  return [...byClaim, ...byState];
}
