// The benchmark's runs: each opens the local runtime (synthesized template, real handlers and
// SDK clients, the simulated fleet, the shared DynamoDB Local), runs or queries it with the
// counting hooks attached, and returns plain numbers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { simulationDocument } from '../cli/render.ts';
import { plan } from '../cli/operator.ts';
import { resolveLatency, type CallCounts, type LatencyModel, type LatencyOverrides } from '../local/fleet/index.ts';
import { openLocalRuntime, type IncidentReport, type SimulationResult } from '../local/runtime/simulation.ts';
import type { Scenario } from '../local/scenario.ts';
import { emptyTally, RunInstrument, type DdbTally } from './instrument.ts';
import { EC2_NON_MUTATING_BUCKET, peakInWindow, throttledRequests } from './model.ts';
import { addPoolMembers, concurrencyMethod, concurrencyScenario, failoverScenario, largeFleetScenarioFile, selectionScenario, type FailoverCase, type Method } from './scenarios.ts';
import { derivePath, type Definition } from '../local/runtime/state-path.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
type SimulationDocument = ReturnType<typeof simulationDocument>;

export interface Wall {
  /** Synthesis, tables, fleet: openLocalRuntime. */
  setupMs: number;
  /** The timeline, until every execution settled, and the report. */
  runMs: number;
}

export interface StateCounts {
  /** States entered, Choice / Wait / Succeed / Fail included (a retry is not a new entry). */
  entered: number;
  /** Retries of a Task (poll retries: StepPendingError). */
  retries: number;
  /** What Step Functions bills: every state entered, and every retry. */
  billable: number;
  path: string[];
  ambiguous: string[];
}

export interface StepSpan {
  name: string;
  /** Seconds after the trigger was observed (the ALARM: where the RTO starts). */
  start: number;
  end: number;
}

export interface FailoverRun {
  label: string;
  method: Method;
  poolNodeState: 'running' | 'stopped';
  variant: string;
  latency: LatencyModel;
  outcome: string;
  rtoSeconds: number | null;
  steps: StepSpan[];
  apiCalls: CallCounts;
  lambda: { steps: number; intake: number; byState: Record<string, number> };
  states: StateCounts;
  ddb: DdbTally;
  ddbByState: Record<string, DdbTally>;
  virtualSeconds: number;
  wall: Wall;
}

async function openAndRun(scenario: Scenario, endpoint: string, instrument: RunInstrument, extra: Parameters<RunInstrument['options']>[0] = {}): Promise<{ result: SimulationResult; wall: Wall }> {
  const t0 = performance.now();
  const runtime = await openLocalRuntime(scenario, instrument.options({ ...extra, dynamoEndpoint: endpoint }));
  const t1 = performance.now();
  try {
    const result = await runtime.run();
    return { result, wall: { setupMs: Math.round(t1 - t0), runMs: Math.round(performance.now() - t1) } };
  } finally {
    await runtime.close();
  }
}

function executionStatus(incident: IncidentReport | undefined): 'SUCCEEDED' | 'FAILED' {
  // The definition's Outcome? choice sends 'alerted' to its Fail state; everything else succeeds.
  return incident?.outcome === 'alerted' ? 'FAILED' : 'SUCCEEDED';
}

function stateCounts(definition: Definition, instrument: RunInstrument, incidents: IncidentReport[]): StateCounts {
  const counts: StateCounts = { entered: 0, retries: 0, billable: 0, path: [], ambiguous: [] };
  for (const [name, trace] of instrument.executions) {
    const derived = derivePath(definition, trace.entries, executionStatus(incidents.find((i) => i.incidentId === name)));
    counts.entered += derived.states.length;
    counts.retries += trace.retries;
    counts.ambiguous.push(...derived.ambiguous);
    if (instrument.executions.size === 1) counts.path = derived.states;
  }
  counts.billable = counts.entered + counts.retries;
  return counts;
}

function invocationsByState(instrument: RunInstrument): Record<string, number> {
  const byState: Record<string, number> = {};
  for (const trace of instrument.executions.values()) {
    for (const [state, n] of Object.entries(trace.invocations)) byState[state] = (byState[state] ?? 0) + n;
  }
  return byState;
}

function spans(incident: IncidentReport): StepSpan[] {
  // From the ALARM, so the EventBridge delivery and the intake Lambda before the first step are counted too.
  const origin = incident.observedAt ? Date.parse(incident.observedAt) : Math.min(...incident.steps.map((s) => Date.parse(s.startedAt)));
  return incident.steps.map((s) => ({ name: s.name, start: (Date.parse(s.startedAt) - origin) / 1000, end: (Date.parse(s.endedAt) - origin) / 1000 }));
}

/** One failover of one provisioning method. */
export async function runFailover(c: FailoverCase, variant: { id: string; overrides: LatencyOverrides }, definition: Definition, endpoint: string): Promise<FailoverRun> {
  const scenario = failoverScenario(c, variant.overrides);
  const instrument = new RunInstrument();
  const { result, wall } = await openAndRun(scenario, endpoint, instrument);
  const incident = result.incidents.find((i) => i.outcome !== 'deduplicated');
  if (!incident || result.incidents.length !== 1) throw new Error(`${c.label}: expected one incident, got ${result.incidents.map((i) => i.outcome).join(', ')}`);
  return {
    label: c.label,
    method: c.method,
    poolNodeState: c.poolNodeState,
    variant: variant.id,
    latency: resolveLatency(scenario.latency as LatencyOverrides),
    outcome: incident.outcome,
    rtoSeconds: incident.rtoSeconds,
    steps: spans(incident),
    apiCalls: result.apiCalls,
    lambda: { steps: instrument.stepInvocations(), intake: instrument.intakeInvocations, byState: invocationsByState(instrument) },
    states: stateCounts(definition, instrument, result.incidents),
    ddb: instrument.ddb,
    ddbByState: Object.fromEntries(instrument.ddbByState),
    virtualSeconds: result.virtualSeconds,
    wall,
  };
}

export interface SelectionRound {
  /** cold: a new EC2 client (instance types not cached yet); warm: the same client again. */
  cache: 'cold' | 'warm';
  apiCalls: CallCounts;
  ddb: DdbTally;
  /** Wall time of the one selection (plan). */
  wallMs: number;
  /** Virtual time it took: the API calls' modelled latency, one after another. */
  virtualMs: number;
  eligible: number;
  rejected: number;
}

export interface SelectionRun {
  poolSize: number;
  setupMs: number;
  rounds: SelectionRound[];
}

/**
 * One selection (cli/operator.ts plan: read the pool, rank, no writes) over `poolSize` nodes.
 * Nothing runs the timeline here, so this drives the virtual clock itself: whenever the
 * selection waits on modelled call latency, the clock moves to the next timer.
 */
export async function runSelection(poolSize: number, endpoint: string): Promise<SelectionRun> {
  const t0 = performance.now();
  const runtime = await openLocalRuntime(selectionScenario(), { dynamoEndpoint: endpoint });
  try {
    addPoolMembers(runtime.fleet, poolSize);
    const instrument = new RunInstrument();
    instrument.attachDdb(runtime.deps.ddb);
    const setupMs = Math.round(performance.now() - t0);
    const rounds: SelectionRound[] = [];
    for (const cache of ['cold', 'warm'] as const) {
      runtime.fleet.resetCallCounts();
      const ddbBefore = structuredClone(instrument.ddb);
      const virtualStart = runtime.fleet.clock.nowMs();
      const wallStart = performance.now();
      let done = false;
      const pending = plan(runtime.deps, 'app', 'failure').finally(() => {
        done = true;
      });
      while (!done) {
        await nextTurn();
        if (!done) runtime.fleet.clock.advanceToNextTimer();
      }
      const result = await pending;
      rounds.push({
        cache,
        apiCalls: runtime.fleet.callCounts(),
        ddb: difference(instrument.ddb, ddbBefore),
        wallMs: Math.round(performance.now() - wallStart),
        virtualMs: runtime.fleet.clock.nowMs() - virtualStart,
        eligible: result.selection.ranked.length,
        rejected: result.selection.rejected.length,
      });
    }
    return { poolSize, setupMs, rounds };
  } finally {
    await runtime.close();
  }
}

function difference(after: DdbTally, before: DdbTally): DdbTally {
  const out = emptyTally();
  out.reads = after.reads - before.reads;
  out.writes = after.writes - before.writes;
  out.writeItems = after.writeItems - before.writeItems;
  for (const [k, v] of Object.entries(after.byCommand)) {
    const n = v - (before.byCommand[k] ?? 0);
    if (n > 0) out.byCommand[k] = n;
  }
  return out;
}

export interface ConcurrencyRun {
  applications: number;
  freeNodes: number;
  outcomes: Record<string, number>;
  /** Per incident: RTO. */
  rto: { min: number; p50: number; p95: number; max: number };
  /** From the first trigger (ALARM) to the end of the last execution, virtual. */
  settleVirtualSeconds: number;
  /** Same, by method. */
  rtoByMethod: Record<string, { p50: number; max: number }>;
  apiCalls: CallCounts;
  lambda: { steps: number; intake: number };
  states: StateCounts;
  ddb: DdbTally;
  attempts: number;
  /** EC2 non-mutating requests: busiest second, and what EC2's documented bucket would refuse. */
  ec2Describe: Array<{ command: string; calls: number; peakPerSecond: number; wouldThrottle: number }>;
  /** Whether the fleet enforced EC2's request token buckets during the run (a storm), and what it refused, per action. */
  requestLimits: { enforced: boolean; refused: Record<string, number> };
  /** Per incident: its RTO and method (to compare with the same method's failover alone). */
  incidents: Array<{ app: string; method: string; outcome: string; rtoSeconds: number | null }>;
  wall: Wall;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `applications` incidents at once: every application's host fails at the same instant. */
export async function runConcurrency(
  applications: number,
  freeNodes: number,
  definition: Definition,
  endpoint: string,
  options: { enforceRequestLimits?: boolean } = {},
): Promise<ConcurrencyRun> {
  const instrument = new RunInstrument();
  let refused: () => Record<string, number> = () => ({});
  const { result, wall } = await openAndRun(concurrencyScenario(applications, freeNodes), endpoint, instrument, {
    beforeRun: ({ fleet }) => {
      if (options.enforceRequestLimits) fleet.faults.enforceEc2RequestLimits();
      refused = () => fleet.faults.refusedRequests();
    },
  });
  const incidents = result.incidents.filter((i) => i.outcome !== 'deduplicated');
  const outcomes: Record<string, number> = {};
  for (const i of result.incidents) outcomes[i.outcome] = (outcomes[i.outcome] ?? 0) + 1;
  const rtos = incidents.flatMap((i) => (i.rtoSeconds === null ? [] : [i.rtoSeconds])).sort((a, b) => a - b);
  const starts = incidents.flatMap((i) => i.steps.map((s) => Date.parse(s.startedAt)));
  const ends = incidents.flatMap((i) => i.steps.map((s) => Date.parse(s.endedAt)));
  const rtoByMethod: Record<string, { p50: number; max: number }> = {};
  for (const method of ['activate', 'install', 'boot-volume'] as const) {
    const values = incidents
      .filter((i) => concurrencyMethod(Number(i.app.replace(/^app-/, '')) - 1) === method && i.rtoSeconds !== null)
      .map((i) => i.rtoSeconds!)
      .sort((a, b) => a - b);
    rtoByMethod[method] = { p50: percentile(values, 50), max: values.at(-1) ?? Number.NaN };
  }
  const describe = new Map<string, number[]>();
  for (const call of instrument.ec2Calls) {
    if (!call.command.startsWith('Describe')) continue;
    describe.set(call.command, [...(describe.get(call.command) ?? []), call.atMs]);
  }
  return {
    applications,
    freeNodes,
    outcomes,
    rto: { min: rtos[0] ?? Number.NaN, p50: percentile(rtos, 50), p95: percentile(rtos, 95), max: rtos.at(-1) ?? Number.NaN },
    settleVirtualSeconds: (Math.max(...ends) - Math.min(...starts)) / 1000,
    rtoByMethod,
    apiCalls: result.apiCalls,
    lambda: { steps: instrument.stepInvocations(), intake: instrument.intakeInvocations },
    states: { ...stateCounts(definition, instrument, result.incidents), path: [] },
    ddb: instrument.ddb,
    attempts: incidents.reduce((n, i) => n + i.attempts, 0),
    ec2Describe: [...describe]
      .map(([command, times]) => ({
        command,
        calls: times.length,
        peakPerSecond: peakInWindow(times, 1000),
        wouldThrottle: throttledRequests(times, EC2_NON_MUTATING_BUCKET),
      }))
      .sort((a, b) => b.calls - a.calls),
    requestLimits: { enforced: options.enforceRequestLimits === true, refused: refused() },
    incidents: result.incidents
      .filter((i) => i.outcome !== 'deduplicated')
      .map((i) => ({ app: i.app, method: concurrencyMethod(Number(i.app.replace(/^app-/, '')) - 1), outcome: i.outcome, rtoSeconds: i.rtoSeconds })),
    wall,
  };
}

export interface LargeFleetRun {
  poolSize: number;
  /** The command run, as a user would type it. */
  command: string;
  exitCode: number | null;
  outcome: string;
  toNode: string | null;
  rtoSeconds: number | null;
  /** The selection's own summary (how many nodes were eligible). */
  selection: string;
  apiCalls: number;
  /** The whole command: Node and tsx start, DynamoDB Local start, synthesis, the 2,001-instance fleet, the run, the report. */
  commandWallMs: number;
  /** What the simulation reports as its own wall time (from opening the runtime to the report). */
  simulationWallMs: number;
}

/**
 * One failover among `poolSize` pool instances over six subnets in three AZs, run cold as a user
 * runs it: `failover simulate <file> --json` in a new process, with its own DynamoDB Local.
 */
export function runLargeFleet(poolSize: number): LargeFleetRun {
  const dir = mkdtempSync(join(tmpdir(), 'rapid-failover-bench-'));
  try {
    const file = join(dir, `fleet-${poolSize}.json`);
    writeFileSync(file, JSON.stringify(largeFleetScenarioFile(poolSize)));
    const t0 = performance.now();
    const child = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [join(REPO_ROOT, 'bin', 'failover.ts'), 'simulate', file, '--json'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const commandWallMs = Math.round(performance.now() - t0);
    if (child.status !== 0) throw new Error(`failover simulate (${poolSize} instances) exited ${child.status}: ${child.stderr.slice(0, 2000)}`);
    const doc = JSON.parse(child.stdout) as SimulationDocument;
    const incident = doc.incidents.find((i) => i.outcome !== 'deduplicated');
    if (!incident) throw new Error(`large fleet of ${poolSize}: no incident`);
    return {
      poolSize,
      command: `npx failover simulate fleet-${poolSize}.json --json`,
      exitCode: child.status,
      outcome: incident.outcome,
      toNode: incident.toNode,
      rtoSeconds: incident.rtoSeconds,
      selection: incident.explanation.find((line) => / nodes eligible for /.test(line)) ?? '',
      apiCalls: doc.apiCalls,
      commandWallMs,
      simulationWallMs: doc.wallMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
