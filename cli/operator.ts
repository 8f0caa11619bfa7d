// Operator queries, the same against a deployed stack and a scenario's local runtime: both
// hand over Deps (SDK clients, table names, config), and these read through the adapters.
import { findApplication, type Application } from '../core/config.ts';
import { ValidationError } from '../core/errors.ts';
import { OPERATOR_EVENT_SOURCE, OperatorDetailTypes } from '../core/metrics.ts';
import type { Selection } from '../core/pool.ts';
import { selectNodes } from '../core/selection.ts';
import type { TriggerKind } from '../core/workflow-state.ts';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { getAppStates, type AppStateItem } from '../functions/adapters/app-state.ts';
import { listRecords, type FailoverRecord } from '../functions/adapters/records.ts';
import type { Deps } from '../functions/deps.ts';
import { readPool, viewPool, whereRuns } from '../functions/pool-view.ts';

export function requireApplication(deps: Deps, name: string): Application {
  const app = findApplication(deps.env.config, name);
  if (!app) {
    throw new ValidationError(`unknown application '${name}'; expected one of: ${deps.env.config.applications.map((a) => a.name).join(', ')}`);
  }
  return app;
}

export interface Plan {
  app: string;
  trigger: TriggerKind;
  currentNode: string | null;
  selection: Selection;
}

/** A dry run of selection: which node would be chosen now and why every other was rejected. No writes. */
export async function plan(deps: Deps, appName: string, trigger: TriggerKind, requestedNode?: string): Promise<Plan> {
  const app = requireApplication(deps, appName);
  const pool = await readPool(deps, app);
  const current = whereRuns(app, pool.appStates.get(app.name));
  const nowSeconds = Math.floor(deps.clock().getTime() / 1000);
  const { nodes, currentNode } = await viewPool(deps, pool, current, nowSeconds, trigger);
  const selection = selectNodes(deps.env.config, app, { trigger, currentNode, triedNodes: [], requestedNode, candidates: nodes, targetGroups: pool.targetGroups, ...pool.appFacts });
  return { app: app.name, trigger, currentNode: current, selection };
}

export interface AppStatus {
  app: string;
  priority: number;
  currentNode: string | null;
  offline: boolean;
  lock: string | null;
  switchingDisabled: boolean;
  lastFailover: string | null;
}

export async function status(deps: Deps, appName?: string): Promise<AppStatus[]> {
  const apps = appName ? [requireApplication(deps, appName)] : deps.env.config.applications;
  const states = await getAppStates(deps.ddb, deps.env.tables.state, apps.map((a) => a.name));
  const nowSeconds = Math.floor(deps.clock().getTime() / 1000);
  return apps.map((app) => {
    const item: AppStateItem | undefined = states.get(app.name);
    const lockHeld = item?.lockIncident && (item.lockExpiresAt ?? 0) > nowSeconds;
    return {
      app: app.name,
      priority: app.priority,
      currentNode: whereRuns(app, item),
      offline: item?.offline ?? false,
      lock: lockHeld ? item!.lockIncident! : null,
      switchingDisabled: item?.switchingDisabled ?? false,
      lastFailover: item?.history?.at(-1)?.startedAt ?? null,
    };
  });
}

export async function history(deps: Deps, appName: string, limit = 20): Promise<FailoverRecord[]> {
  requireApplication(deps, appName);
  return listRecords(deps.ddb, deps.env.tables.records, appName, limit);
}

export interface PoolEntry {
  nodeId: string;
  pool: string;
  tier: string;
  instanceType: string;
  state: string;
  healthy: boolean;
  role: 'free' | 'serving' | 'quarantined';
  applications: string[];
  quarantine: string | null;
}

/** Every pool node, with what runs on it and what is set aside. */
export async function poolNodes(deps: Deps): Promise<PoolEntry[]> {
  const entries = new Map<string, PoolEntry>();
  const nowSeconds = Math.floor(deps.clock().getTime() / 1000);
  for (const app of deps.env.config.applications) {
    // No current node to compare with: the trigger does not matter.
    const { nodes } = await viewPool(deps, await readPool(deps, app), null, nowSeconds, 'failure');
    for (const node of nodes) {
      entries.set(node.nodeId, {
        nodeId: node.nodeId,
        pool: node.pool,
        tier: node.tier,
        instanceType: node.facts.instanceType,
        state: node.state,
        healthy: node.healthy,
        role: node.quarantine ? 'quarantined' : node.hosted.length > 0 ? 'serving' : 'free',
        applications: node.hosted.map((h) => h.app),
        quarantine: node.quarantine,
      });
    }
  }
  return [...entries.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}

/** C6: a planned, operator-started move, through the same EventBridge path as every trigger. */
export async function requestSwitchover(deps: Deps, appName: string, toNode: string | undefined, requestedBy: string): Promise<string> {
  requireApplication(deps, appName);
  const result = await deps.events.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: OPERATOR_EVENT_SOURCE,
          DetailType: OperatorDetailTypes.Switchover,
          EventBusName: deps.env.eventBusName,
          Detail: JSON.stringify({ app: appName, ...(toNode ? { toNode } : {}), requestedBy }),
        },
      ],
    }),
  );
  const entry = result.Entries?.[0];
  if (!entry?.EventId) throw new Error(`EventBridge refused the switchover request: ${entry?.ErrorCode ?? 'no event id'} ${entry?.ErrorMessage ?? ''}`);
  return entry.EventId;
}
