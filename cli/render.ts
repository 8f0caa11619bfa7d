// What `failover` prints for people: a live step-by-step view, a timeline per incident and a
// short summary. `--json` prints simulationDocument() instead.
import type { IncidentReport, ProgressEvent, SimulationResult } from '../local/runtime/simulation.ts';
import { SIMULATION_EPOCH } from '../local/runtime/simulation.ts';
import { OUTCOMES } from '../core/workflow-state.ts';
import type { Plan, AppStatus, PoolEntry } from './operator.ts';
import type { FailoverRecord } from '../functions/adapters/records.ts';

const STEP_NAMES: Record<string, string> = {
  LockApplication: 'lock',
  SelectAndClaimNode: 'select + claim',
  ProvisionNode: 'provision',
  JoinCluster: 'join cluster',
  ShiftTrafficAndFence: 'shift + fence',
  ReleaseOldNode: 'release old node',
  VerifyPerformance: 'verify performance',
  CompensateClaim: 'compensate',
  NotifyAdministrators: 'notify',
  FinishIncident: 'finish',
};

/** Virtual time since the scenario began, as +mm:ss. */
export function clockText(at: Date | string): string {
  const seconds = Math.max(0, Math.round((new Date(at).getTime() - SIMULATION_EPOCH.getTime()) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `+${h > 0 ? `${h}:` : ''}${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

function appOf(execution: string): string {
  // Incident ids are <time>-<app>-<kind>-<hash>.
  return execution.split('-').slice(1, -2).join('-');
}

/** The live view: one line per trigger, intake decision and finished step (polls collapsed). */
export function progressPrinter(write: (line: string) => void): (event: ProgressEvent) => void {
  const polls = new Map<string, number>();
  return (event) => {
    const at = clockText(event.at);
    if (event.kind === 'trigger') write(`${at}  ⚡ ${event.text}`);
    else if (event.kind === 'intake') write(`${at}     intake: ${event.text}`);
    else if (event.task && event.execution) {
      const key = `${event.execution}/${event.task.state}`;
      const step = STEP_NAMES[event.task.state] ?? event.task.state;
      if (event.task.phase === 'error' && event.task.error === 'StepPendingError') {
        polls.set(key, (polls.get(key) ?? 0) + 1);
        return;
      }
      if (event.task.phase === 'start' || event.task.phase === 'retry') return;
      const polled = polls.get(key);
      polls.delete(key);
      const mark = event.task.phase === 'end' ? '✓' : `✗ ${event.task.error}`;
      write(`${at}     ${appOf(event.execution).padEnd(12)} ${step.padEnd(20)} ${mark}${polled ? `  (polled ${polled}×)` : ''}`);
    }
  };
}

function seconds(from: string, to: string): string {
  return `${((new Date(to).getTime() - new Date(from).getTime()) / 1000).toFixed(1)} s`;
}

export function incidentTimeline(incident: IncidentReport): string[] {
  const route = incident.toNode && incident.toNode !== incident.fromNode ? `${incident.fromNode ?? '—'} → ${incident.toNode}` : `on ${incident.fromNode ?? 'no node'}`;
  const rto = incident.rtoSeconds !== null ? `, RTO ${incident.rtoSeconds.toFixed(1)} s` : '';
  const lines = [`${incident.app} · ${incident.trigger} → ${incident.outcome} · ${route} · ${incident.attempts} attempt(s)${rto}`, `  incident ${incident.incidentId}`];
  if (incident.steps.length > 0) {
    lines.push(`  ${'step'.padEnd(20)} ${'start'.padEnd(8)} ${'end'.padEnd(8)} duration`);
    for (const step of incident.steps) {
      lines.push(`  ${(STEP_NAMES[step.name] ?? step.name).padEnd(20)} ${clockText(step.startedAt).padEnd(8)} ${clockText(step.endedAt).padEnd(8)} ${seconds(step.startedAt, step.endedAt)}`);
    }
  }
  const why = incident.explanation.find((line) => /eligible|no eligible|staying|switching is disabled|already|damp|cooldown/.test(line));
  if (why) lines.push(`  why: ${why}`);
  for (const alert of incident.alerts) lines.push(`  alert: ${alert}`);
  return lines;
}

export function summary(result: SimulationResult): string[] {
  const count = (outcome: string) => result.incidents.filter((i) => i.outcome === outcome).length;
  const roles = new Map<string, number>();
  for (const node of result.fleet) roles.set(node.role, (roles.get(node.role) ?? 0) + 1);
  const outcomes = OUTCOMES.map((o) => [o, count(o)] as const)
    .filter(([, n]) => n > 0)
    .map(([o, n]) => `${n} ${o}`);
  const lines = [
    `Summary: ${result.incidents.length} incident(s): ${outcomes.join(', ') || 'none'}.`,
    `  ${result.notifications.length} administrator alert(s) sent; ${result.locksHeld.length === 0 ? 'no lock left held' : `locks still held: ${result.locksHeld.join(', ')}`}.`,
    `  Pool: ${[...roles].map(([role, n]) => `${n} ${role}`).join(', ')}.`,
    `  Simulated ${result.virtualSeconds.toFixed(1)} s of AWS time in ${(result.wallMs / 1000).toFixed(1)} s of wall time; ${result.apiCalls.total} AWS API calls.`,
  ];
  if (result.unexpected.length > 0) lines.push(`  Unexpected outcomes: ${result.unexpected.join('; ')}`);
  return lines;
}

/** The documented `simulate --json` result. */
export function simulationDocument(result: SimulationResult) {
  return {
    scenario: result.scenario,
    incidents: result.incidents.map((i) => ({
      incidentId: i.incidentId,
      app: i.app,
      trigger: i.trigger,
      outcome: i.outcome,
      fromNode: i.fromNode,
      toNode: i.toNode,
      attempts: i.attempts,
      alerts: i.alerts,
      steps: i.steps,
      rtoSeconds: i.rtoSeconds,
      explanation: i.explanation,
    })),
    fleet: result.fleet.map((n) => ({ id: n.id, type: n.type, state: n.state, role: n.role, application: n.applications[0] ?? null, applications: n.applications, assignedTo: n.assignedTo, lease: n.lease })),
    notifications: result.notifications,
    serviceEvents: result.serviceEvents,
    unexpected: result.unexpected,
    locksHeld: result.locksHeld,
    metrics: result.metrics,
    virtualSeconds: result.virtualSeconds,
    wallMs: result.wallMs,
    apiCalls: result.apiCalls.total,
  };
}

export function planText(plan: Plan): string[] {
  const { selection } = plan;
  const lines = [`${plan.app} (${plan.trigger} trigger), running on ${plan.currentNode ?? 'no node'}:`];
  const best = selection.ranked[0];
  if (best) lines.push(`  would choose ${best.node.nodeId} (${best.node.facts.instanceType}, pool ${best.node.pool}): ${best.why}`);
  else lines.push(`  no eligible node: would ${selection.decision === 'stay' ? 'stay on the current node (A14)' : 'alert administrators (A14)'}; ${selection.why}`);
  selection.ranked.slice(1).forEach((c, i) => lines.push(`  fallback ${i + 2}: ${c.node.nodeId}: ${c.why}`));
  for (const r of selection.rejected) lines.push(`  rejected ${r.nodeId}: ${r.reasons.join('; ')}`);
  return lines;
}

export function statusText(rows: AppStatus[]): string[] {
  return rows.map(
    (s) =>
      `${s.app.padEnd(14)} priority ${String(s.priority).padEnd(5)} on ${(s.currentNode ?? '—').padEnd(20)}${s.offline ? ' OFFLINE' : ''}${s.lock ? ` failover in progress (${s.lock})` : ''}${s.switchingDisabled ? ' switching disabled (C7)' : ''}${s.lastFailover ? ` last failover ${s.lastFailover}` : ''}`,
  );
}

export function historyText(records: FailoverRecord[]): string[] {
  if (records.length === 0) return ['no failovers recorded'];
  return records.map((r) => {
    const trigger = (r.trigger as { kind?: string } | undefined)?.kind ?? '?';
    const rto = typeof r.rtoSeconds === 'number' ? ` RTO ${r.rtoSeconds.toFixed(1)} s` : '';
    return `${r.incidentId}  ${trigger.padEnd(11)} ${String(r.outcome ?? 'in progress').padEnd(13)} ${String(r.fromNode ?? '—')} → ${String(r.toNode ?? '—')}${rto}`;
  });
}

export function poolText(entries: PoolEntry[]): string[] {
  return entries.map(
    (e) =>
      `${e.nodeId}  ${e.instanceType.padEnd(12)} ${e.pool.padEnd(14)} ${e.tier.padEnd(9)} ${e.state.padEnd(8)} ${e.role.padEnd(11)} ${e.applications.join(',')}${e.quarantine ? `  (${e.quarantine})` : ''}`,
  );
}
