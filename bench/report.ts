// Turns the runs into the figures (latest.json) and their tables (latest.md).
import type { LatencyModel } from '../local/fleet/latency.ts';
import type { ConcurrencyRun, FailoverRun, LargeFleetRun, SelectionRun } from './measure.ts';
import { MINIMUM_DDB, minimumApiCalls, minimumInvocations, minimumTransitions, type CountMinimum } from './minimums.ts';
import { alternatives, HOURS_PER_MONTH, ourMinimum, standbyCost, withFence, type Modelled, type StandbyCost } from './model.ts';
import { FAILOVER_CASES, provisioningDocument, type FailoverCase } from './scenarios.ts';
import { scaleSection, type ScaleMeasure } from './synth-scale.ts';

export interface Variant {
  id: string;
  label: string;
}

export interface CostRow {
  label: string;
  rtoSeconds: number | null;
  transitions: { entered: number; retries: number; billable: number; minimum: CountMinimum; path: string[] };
  lambda: { measured: number; steps: number; intake: number; byState: Record<string, number>; minimum: CountMinimum };
  apiCalls: { total: number; minimumTotal: number; byCommand: Array<{ command: string; measured: number; minimum: number; why: string }> };
  dynamodb: { reads: number; writes: number; writeItems: number; byCommand: Record<string, number>; byState: Record<string, { reads: number; writes: number }>; minimum: typeof MINIMUM_DDB };
}

export interface OverheadRow {
  label: string;
  variant: string;
  rtoSeconds: number;
  minimum: Modelled;
  overheadSeconds: number;
  /** Where the overhead went, in seconds (sums to overheadSeconds). */
  breakdown: {
    /** ALARM → the lock step starts: EventBridge delivery, the intake Lambda, StartExecution's first state transition. */
    triggerToWorkflow: number;
    lockAndSelect: number;
    /** Select's end → JoinCluster starts, beyond AWS's provisioning (the Await state, event delivery, the callback, transitions). */
    provisionWait: number;
    /** JoinCluster's own run (registration). */
    join: number;
    /** Registration → traffic moved, beyond what AWS imposes there: max(health checks, the rest of the failed host's stop). */
    shiftWait: number;
  };
}

export interface SelectionGrowth {
  from: number;
  to: number;
  cache: 'cold' | 'warm';
  nodesRatio: number;
  callsRatio: number;
  /** log(calls ratio) / log(nodes ratio): 1 is linear, 0 is constant. */
  exponent: number;
  byCommand: Record<string, { from: number; to: number }>;
}

export interface ComparisonRow {
  approach: string;
  source: 'measured' | 'modelled';
  how: string;
  rtoSeconds: Record<string, number | null>;
  formula: Record<string, string>;
}

export interface StandbyRow extends StandbyCost {
  assumption: string;
  idleInstanceHoursPerMonth: { ours: number; hotStandby: number; warmPool: number; autoScaling: number };
}

export interface BenchResults {
  generatedAt: string;
  environment: { node: string; platform: string; cpus: number };
  benchWallMs: number;
  /** Wall time per part: DynamoDB Local start, definition synthesis, failovers, selection, concurrency. */
  sectionsWallMs: Record<string, number>;
  latencyModel: LatencyModel;
  variants: Variant[];
  failovers: FailoverRun[];
  cost: CostRow[];
  overhead: OverheadRow[];
  selection: { runs: SelectionRun[]; growth: SelectionGrowth[] };
  concurrency: ConcurrencyRun & { singleFailoverRto: Record<string, number | null> };
  /** The same storm with EC2's request limits not enforced: what throttling itself costs. */
  concurrencyUnlimited: ConcurrencyRun;
  comparison: { rows: ComparisonRow[]; standby: StandbyRow[] };
  largeFleet: LargeFleetRun;
  /** Synthesis at 10, 100 and 1,000 applications (bench/synth-scale.ts). */
  scale: { templates: ScaleMeasure[]; bundled: ScaleMeasure | undefined };
}

function documentsOf(c: FailoverCase): string[] {
  return c.method === 'boot-volume' ? [] : [provisioningDocument('app', c.method).name];
}

export function costRow(run: FailoverRun, c: FailoverCase): CostRow {
  const minimums = minimumApiCalls(c, { documents: documentsOf(c).length, targetGroups: 1 });
  const commands = [...new Set([...minimums.map((m) => m.command), ...Object.keys(run.apiCalls.byCommand)])];
  const byCommand = commands.map((command) => {
    const min = minimums.find((m) => m.command === command);
    return { command, measured: run.apiCalls.byCommand[command] ?? 0, minimum: min?.count ?? 0, why: min?.why ?? 'not needed (no minimum assumed)' };
  });
  const taskEntries = run.states.path.filter((s) => s in run.lambda.byState).length;
  const byState = Object.fromEntries(Object.entries(run.ddbByState).map(([state, t]) => [state, { reads: t.reads, writes: t.writes }]));
  return {
    label: run.label,
    rtoSeconds: run.rtoSeconds,
    transitions: { entered: run.states.entered, retries: run.states.retries, billable: run.states.billable, minimum: minimumTransitions(run.states.entered), path: run.states.path },
    lambda: { measured: run.lambda.steps + run.lambda.intake, steps: run.lambda.steps, intake: run.lambda.intake, byState: run.lambda.byState, minimum: minimumInvocations(taskEntries) },
    apiCalls: { total: run.apiCalls.total, minimumTotal: minimums.reduce((n, m) => n + m.count, 0), byCommand },
    dynamodb: { reads: run.ddb.reads, writes: run.ddb.writes, writeItems: run.ddb.writeItems, byCommand: run.ddb.byCommand, byState, minimum: MINIMUM_DDB },
  };
}

export function overheadRow(run: FailoverRun, c: FailoverCase): OverheadRow {
  if (run.rtoSeconds === null) throw new Error(`${run.label} (${run.variant}) did not fail over: ${run.outcome}`);
  const path = ourMinimum(run.latency, c, documentsOf(c));
  // Every bench case is failure-triggered with an Elastic IP: the address moves once the failed host is stopped.
  const minimum = withFence(run.latency, path);
  const healthChecks = path.terms.at(-1)!.ms / 1000;
  const provisioning = path.ms / 1000 - healthChecks;
  const afterRegistration = Math.max(healthChecks, minimum.fenceMs / 1000 - provisioning);
  const step = (name: string) => run.steps.find((s) => s.name === name);
  const lock = step('LockApplication');
  const select = step('SelectAndClaimNode');
  const provision = step('ProvisionNode');
  const join = step('JoinCluster');
  if (!lock || !select || !provision || !join) throw new Error(`${run.label}: missing steps in ${run.steps.map((s) => s.name).join(', ')}`);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    label: run.label,
    variant: run.variant,
    rtoSeconds: run.rtoSeconds,
    minimum,
    overheadSeconds: round(run.rtoSeconds - minimum.ms / 1000),
    // Step times are seconds after the ALARM (the RTO's start).
    breakdown: {
      triggerToWorkflow: round(lock.start),
      lockAndSelect: round(select.end - lock.start),
      provisionWait: round(join.start - select.end - provisioning),
      join: round(join.end - join.start),
      shiftWait: round(run.rtoSeconds - join.end - afterRegistration),
    },
  };
}

export function selectionGrowth(runs: SelectionRun[]): SelectionGrowth[] {
  const growth: SelectionGrowth[] = [];
  const sorted = [...runs].sort((a, b) => a.poolSize - b.poolSize);
  for (const cache of ['cold', 'warm'] as const) {
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!;
      const b = sorted[i]!;
      const ra = a.rounds.find((r) => r.cache === cache)!;
      const rb = b.rounds.find((r) => r.cache === cache)!;
      const nodesRatio = b.poolSize / a.poolSize;
      const callsRatio = rb.apiCalls.total / ra.apiCalls.total;
      const byCommand: Record<string, { from: number; to: number }> = {};
      for (const command of new Set([...Object.keys(ra.apiCalls.byCommand), ...Object.keys(rb.apiCalls.byCommand)])) {
        byCommand[command] = { from: ra.apiCalls.byCommand[command] ?? 0, to: rb.apiCalls.byCommand[command] ?? 0 };
      }
      growth.push({ from: a.poolSize, to: b.poolSize, cache, nodesRatio, callsRatio, exponent: Math.log(callsRatio) / Math.log(nodesRatio), byCommand });
    }
  }
  return growth;
}

/** Pool size for N applications: up to 10 % failing at once (at least one), plus one spare for a retry on another node. */
export function sharedPoolSize(applications: number): number {
  return Math.max(1, Math.ceil(applications * 0.1)) + 1;
}

export function comparison(failovers: FailoverRun[], variants: Variant[]): { rows: ComparisonRow[]; standby: StandbyRow[] } {
  const rows: ComparisonRow[] = [];
  const find = (label: string, variant: string) => failovers.find((f) => f.label === label && f.variant === variant);
  for (const label of ['boot-volume', 'activate', 'activate (stopped node)']) {
    const c = FAILOVER_CASES.find((x) => x.label === label)!;
    const runs = variants.map((v) => [v.id, find(label, v.id)] as const);
    rows.push({
      approach: `ours: ${label}`,
      source: 'measured',
      how: 'simulated run: the synthesized workflow, real handlers, DynamoDB Local, the fleet model',
      rtoSeconds: Object.fromEntries(runs.map(([v, r]) => [v, r?.rtoSeconds ?? null])),
      formula: Object.fromEntries(runs.map(([v]) => [v, 'measured'])),
    });
    const minimums = runs.flatMap(([v, r]) => (r ? [[v, withFence(r.latency, ourMinimum(r.latency, c, documentsOf(c)))] as const] : []));
    rows.push({
      approach: `ours: ${label}, without control-plane overhead`,
      source: 'modelled',
      how: 'the AWS durations our method cannot avoid (section 2)',
      rtoSeconds: Object.fromEntries(minimums.map(([v, m]) => [v, m.ms / 1000])),
      formula: Object.fromEntries(minimums.map(([v, m]) => [v, m.formula])),
    });
  }
  const perVariant = variants.flatMap((v) => {
    const run = failovers.find((f) => f.variant === v.id);
    return run ? [[v.id, alternatives(run.latency, provisioningDocument('app', 'install').name)] as const] : [];
  });
  const first = perVariant[0]?.[1] ?? [];
  first.forEach((alt, index) => {
    rows.push({
      approach: alt.label,
      source: 'modelled',
      how: alt.assumption,
      rtoSeconds: Object.fromEntries(perVariant.map(([v, alts]) => [v, alts[index]!.modelled.ms / 1000])),
      formula: Object.fromEntries(perVariant.map(([v, alts]) => [v, alts[index]!.modelled.formula])),
    });
  });
  const standby = [10, 50].map((n): StandbyRow => {
    const cost = standbyCost(n, sharedPoolSize(n));
    return {
      ...cost,
      assumption: `shared pool k = max(1, ⌈0.1 × ${n}⌉) + 1 = ${cost.ours}: up to 10 % of the applications failing at once, plus one spare`,
      idleInstanceHoursPerMonth: { ours: cost.ours * HOURS_PER_MONTH, hotStandby: cost.hotStandby * HOURS_PER_MONTH, warmPool: 0, autoScaling: 0 },
    };
  });
  return { rows, standby };
}

// ---- markdown -----------------------------------------------------------------------------------

function table(header: string[], rows: Array<Array<string | number>>): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function s(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return n.toFixed(digits);
}

/** Issue 12: a failover in a storm may take at most this much longer than alone. */
export const STORM_SLACK_SECONDS = 10;

function refusedText(refused: Record<string, number>): string {
  const entries = Object.entries(refused);
  return entries.length === 0 ? 'none' : entries.map(([action, n]) => `${action} ${n}`).join(', ');
}

/** Per method: the storm's failovers against the same method's failover alone (+ STORM_SLACK_SECONDS). */
export function stormRows(r: BenchResults, run: ConcurrencyRun = r.concurrency): Array<{ method: string; count: number; failed: number; alone: number | null; max: number; late: number }> {
  return ['activate', 'install', 'boot-volume'].map((method) => {
    const mine = run.incidents.filter((i) => i.method === method);
    const alone = r.concurrency.singleFailoverRto[method] ?? null;
    const rtos = mine.flatMap((i) => (i.rtoSeconds === null ? [] : [i.rtoSeconds]));
    return {
      method,
      count: mine.length,
      failed: mine.filter((i) => i.outcome !== 'failed-over').length,
      alone,
      max: rtos.length > 0 ? Math.max(...rtos) : Number.NaN,
      late: alone === null ? mine.length : rtos.filter((rto) => rto > alone + STORM_SLACK_SECONDS).length,
    };
  });
}

/** Issue 12's targets, each with what this run measured. */
export function targetRows(r: BenchResults): Array<{ figure: string; measured: string; target: string; met: boolean }> {
  const rows: Array<{ figure: string; measured: string; target: string; met: boolean }> = [];
  for (const variant of r.variants) {
    const overheads = r.overhead.filter((o) => o.variant === variant.id);
    rows.push({
      figure: `control-plane overhead per method (${variant.id})`,
      measured: overheads.map((o) => `${o.label} ${s(o.overheadSeconds)}`).join(', '),
      target: '≤ 2 s for every method',
      met: overheads.every((o) => o.overheadSeconds <= 2),
    });
  }
  rows.push({
    figure: 'Lambda invocations per failover',
    measured: r.cost.map((c) => `${c.label} ${c.lambda.measured}`).join(', '),
    target: '≤ 12',
    met: r.cost.every((c) => c.lambda.measured <= 12),
  });
  rows.push({
    figure: 'Step Functions state transitions per failover (billable)',
    measured: r.cost.map((c) => `${c.label} ${c.transitions.billable}`).join(', '),
    target: '≤ 40',
    met: r.cost.every((c) => c.transitions.billable <= 40),
  });
  rows.push({
    figure: 'AWS API calls per failover',
    measured: r.cost.map((c) => `${c.label} ${c.apiCalls.total}`).join(', '),
    target: '≤ 25',
    met: r.cost.every((c) => c.apiCalls.total <= 25),
  });
  const rto = (approach: string, variant: string) => r.comparison.rows.find((row) => row.approach === approach)?.rtoSeconds[variant] ?? null;
  for (const variant of r.variants) {
    const ours = rto('ours: activate', variant.id);
    const hot = rto('(c) hot standby per application', variant.id);
    const ratio = ours !== null && hot !== null ? ours / hot : Number.NaN;
    rows.push({ figure: `activate ÷ hot standby (${variant.id})`, measured: `${s(ours)} / ${s(hot)} = ${s(ratio, 2)}×`, target: '≤ 1.15×', met: ratio <= 1.15 });
    const swap = rto('ours: boot-volume', variant.id);
    const launch = rto('(a) replace: launch a new instance from an AMI (Auto Scaling)', variant.id);
    const swapRatio = swap !== null && launch !== null ? swap / launch : Number.NaN;
    rows.push({ figure: `boot-volume ÷ AMI launch (${variant.id})`, measured: `${s(swap)} / ${s(launch)} = ${s(swapRatio, 2)}×`, target: '≤ 0.75×', met: swapRatio <= 0.75 });
  }
  const storm = stormRows(r);
  rows.push({
    figure: `storm: ${r.concurrency.applications} incidents, EC2 request limits ${r.concurrency.requestLimits.enforced ? 'enforced' : 'NOT enforced'}`,
    measured: `${storm.reduce((n, row) => n + row.failed, 0)} failed, ${storm.reduce((n, row) => n + row.late, 0)} later than alone + ${STORM_SLACK_SECONDS} s`,
    target: `none failed, none later than its RTO alone + ${STORM_SLACK_SECONDS} s`,
    met: r.concurrency.requestLimits.enforced && storm.every((row) => row.failed === 0 && row.late === 0),
  });
  return rows;
}

export function markdown(r: BenchResults): string {
  const out: string[] = [];
  const def = r.variants[0]!;
  out.push(
    '# rapid-failover benchmark',
    '',
    `Generated ${r.generatedAt} by \`npm run bench\` in ${s(r.benchWallMs / 1000, 0)} s wall (Node ${r.environment.node}, ${r.environment.platform}, ${r.environment.cpus} CPUs; ${Object.entries(
      r.sectionsWallMs,
    )
      .map(([k, v]) => `${k} ${s(v / 1000)} s`)
      .join(', ')}).`,
    'Measured rows come from simulated runs (the synthesized state machine, the real handlers and SDK clients, DynamoDB Local, the simulated fleet, virtual time).',
    'Modelled rows are computed from the same latency model (local/fleet/latency.ts) with the formula shown. See bench/README.md.',
    '',
  );

  // 1. cost
  out.push(`## 1. Cost per failover (one failure-triggered failover; ${def.label})`, '');
  out.push(
    ...table(
      ['method', 'RTO s', 'states entered (min)', 'billable transitions (entered + retries)', 'Lambda invocations (min)', 'AWS API calls (min)', 'DynamoDB reads (min)', 'DynamoDB writes (min) [items]'],
      r.cost.map((c) => [
        c.label,
        s(c.rtoSeconds),
        `${c.transitions.entered} (${c.transitions.minimum.count})`,
        `${c.transitions.billable} (${c.transitions.entered} + ${c.transitions.retries})`,
        `${c.lambda.measured} (${c.lambda.minimum.count})`,
        `${c.apiCalls.total} (${c.apiCalls.minimumTotal})`,
        `${c.dynamodb.reads} (${c.dynamodb.minimum.reads.count})`,
        `${c.dynamodb.writes} (${c.dynamodb.minimum.writes.count}) [${c.dynamodb.writeItems}]`,
      ]),
    ),
    '',
    `Minimums: states — ${r.cost[0]?.transitions.minimum.why}; Lambda — ${r.cost[0]?.lambda.minimum.why}; DynamoDB reads — ${MINIMUM_DDB.reads.why}; writes — ${MINIMUM_DDB.writes.why}.`,
    `Path (${r.cost[0]?.label}): ${r.cost[0]?.transitions.path.join(' → ')}.`,
    '',
    '### AWS API calls by name (measured / minimum)',
    '',
  );
  const commands = [...new Set(r.cost.flatMap((c) => c.apiCalls.byCommand.filter((b) => b.measured > 0 || b.minimum > 0).map((b) => b.command)))];
  out.push(
    ...table(
      ['call', ...r.cost.map((c) => c.label), 'minimum assumed because'],
      commands.map((command) => {
        const cells = r.cost.map((c) => {
          const b = c.apiCalls.byCommand.find((x) => x.command === command);
          return b && (b.measured > 0 || b.minimum > 0) ? `${b.measured} / ${b.minimum}` : '–';
        });
        const why = r.cost.flatMap((c) => c.apiCalls.byCommand.filter((x) => x.command === command).map((x) => x.why)).sort((a, b) => b.length - a.length)[0] ?? '';
        return [command, ...cells, why];
      }),
    ),
    '',
    '### Where Lambda invocations and DynamoDB requests go (per state: invocations · reads/writes)',
    '',
  );
  const states = [...new Set(r.cost.flatMap((c) => [...Object.keys(c.lambda.byState), ...Object.keys(c.dynamodb.byState)]))];
  out.push(
    ...table(
      ['state', ...r.cost.map((c) => c.label)],
      states.map((state) => [
        state,
        ...r.cost.map((c) => {
          const d = c.dynamodb.byState[state];
          return `${c.lambda.byState[state] ?? 0} · ${d ? `${d.reads}/${d.writes}` : '0/0'}`;
        }),
      ]),
    ),
    '',
  );

  // 2. overhead
  out.push('## 2. Overhead the control plane adds (simulated RTO − irreducible AWS durations)', '');
  out.push(
    ...table(
      ['method', 'latency', 'RTO s', 'irreducible (model)', 'overhead s', 'ALARM → workflow', 'lock + select', 'provisioning beyond AWS', 'join (registration)', 'registration → shift beyond AWS'],
      r.overhead.map((o) => [
        o.label,
        o.variant,
        s(o.rtoSeconds),
        o.minimum.formula,
        s(o.overheadSeconds),
        s(o.breakdown.triggerToWorkflow),
        s(o.breakdown.lockAndSelect),
        s(o.breakdown.provisionWait),
        s(o.breakdown.join),
        s(o.breakdown.shiftWait),
      ]),
    ),
    '',
    'ALARM → workflow = EventBridge delivery, the intake Lambda (a cold start when it has no warm environment) and the first state transition; each step’s Lambda invocations (cold or warm) fall in its own column.',
    'provisioning beyond AWS = end of SelectAndClaimNode → JoinCluster starts, minus the modelled provisioning: the ProvisionNode invocations, its Await state (callback Lambda, token store), EventBridge delivery of the SSM or EC2 event, the fallback looks where AWS emits no event (root-volume task, SSM Agent), state transitions.',
    'registration → shift beyond AWS = end of JoinCluster → the address move, minus max(health checks, what is left of the failed host’s stop): the health look at the group’s interval, the shift invocation and its calls, the fenced host’s stopped event. The irreducible part is max(provisioning + health checks, the failed host’s stop): the address moves only once the failed host is stopped (C1), and the stop cannot start before the alarm.',
    '',
  );

  // 3. selection
  out.push('## 3. Selection at scale (one `plan`: read the pool, rank; no writes)', '');
  out.push(
    ...table(
      ['pool nodes', 'instance-type cache', 'API calls', 'DescribeInstances', 'DescribeInstanceTypes', 'DescribeInstanceStatus', 'DynamoDB reads', 'eligible / rejected', 'modelled call latency s', 'wall ms'],
      r.selection.runs.flatMap((run) =>
        run.rounds.map((round) => [
          run.poolSize,
          round.cache,
          round.apiCalls.total,
          round.apiCalls.byCommand['ec2:DescribeInstances'] ?? 0,
          round.apiCalls.byCommand['ec2:DescribeInstanceTypes'] ?? 0,
          round.apiCalls.byCommand['ec2:DescribeInstanceStatus'] ?? 0,
          round.ddb.reads,
          `${round.eligible} / ${round.rejected}`,
          s(round.virtualMs / 1000, 2),
          round.wallMs,
        ]),
      ),
    ),
    '',
    ...table(
      ['growth', 'cache', 'nodes ×', 'API calls ×', 'exponent (1 = linear)', 'by call'],
      r.selection.growth.map((g) => [
        `${g.from} → ${g.to}`,
        g.cache,
        s(g.nodesRatio, 0),
        s(g.callsRatio, 2),
        s(g.exponent, 2),
        Object.entries(g.byCommand)
          .map(([c, v]) => `${c.replace(/^ec2:/, '')} ${v.from}→${v.to}`)
          .join(', '),
      ]),
    ),
    '',
  );

  // 4. concurrency
  const k = r.concurrency;
  out.push(`## 4. Concurrency: ${k.applications} simultaneous incidents, ${k.freeNodes} free pool nodes`, '');
  out.push(
    ...table(
      ['figure', 'value'],
      [
        ['outcomes', Object.entries(k.outcomes).map(([o, n]) => `${o} ${n}`).join(', ')],
        ['node attempts (claims)', k.attempts],
        ['until all settled, virtual (first ALARM → last execution ended)', `${s(k.settleVirtualSeconds)} s`],
        ['RTO min / p50 / p95 / max', `${s(k.rto.min)} / ${s(k.rto.p50)} / ${s(k.rto.p95)} / ${s(k.rto.max)} s`],
        ...Object.entries(k.rtoByMethod).map(([m, v]) => [`RTO ${m}: p50 / max (alone: ${s(k.singleFailoverRto[m])})`, `${s(v.p50)} / ${s(v.max)} s`]),
        ['wall: setup (synth, tables, fleet) / run', `${s(k.wall.setupMs / 1000)} s / ${s(k.wall.runMs / 1000)} s`],
        ['AWS API calls (per failover)', `${k.apiCalls.total} (${s(k.apiCalls.total / k.applications)})`],
        ['Lambda invocations (per failover)', `${k.lambda.steps + k.lambda.intake} (${s((k.lambda.steps + k.lambda.intake) / k.applications)})`],
        ['billable state transitions (per failover)', `${k.states.billable} (${s(k.states.billable / k.applications)})`],
        ['DynamoDB reads / writes (per failover)', `${k.ddb.reads} / ${k.ddb.writes} (${s(k.ddb.reads / k.applications)} / ${s(k.ddb.writes / k.applications)})`],
      ],
    ),
    '',
    k.requestLimits.enforced
      ? `EC2 request token buckets enforced by the fleet during the run (per action; non-mutating 100 tokens at 20/s, mutating 200 at 5/s): refused ${refusedText(k.requestLimits.refused)}. Each refused request is RequestLimitExceeded to the handler, retried by the workflow's Retry on AwsThrottledError.`
      : 'EC2 request limits not enforced in this run.',
    '',
    ...table(
      ['method', 'failovers', 'failed', `RTO alone s`, 'storm RTO max s (limits enforced)', `delayed past alone + ${STORM_SLACK_SECONDS} s (limits enforced)`, 'storm RTO max s (no limits)', `delayed past alone + ${STORM_SLACK_SECONDS} s (no limits)`],
      stormRows(r).map((row, i) => {
        const unlimited = stormRows(r, r.concurrencyUnlimited)[i]!;
        return [row.method, row.count, row.failed, s(row.alone), s(row.max), row.late, s(unlimited.max), unlimited.late];
      }),
    ),
    '',
    `The same storm without request limits: outcomes ${Object.entries(r.concurrencyUnlimited.outcomes).map(([o, n]) => `${o} ${n}`).join(', ')}, RTO p50 / max ${s(r.concurrencyUnlimited.rto.p50)} / ${s(r.concurrencyUnlimited.rto.max)} s, ${r.concurrencyUnlimited.apiCalls.total} API calls.`,
    '',
    'EC2 non-mutating calls of the run (retries included) replayed against the documented bucket (100 tokens, 20/s):',
    '',
    ...table(
      ['call', 'calls', 'busiest second', 'refused by the replay (first attempts)'],
      k.ec2Describe.map((d) => [d.command, d.calls, d.peakPerSecond, d.wouldThrottle]),
    ),
    '',
  );

  // 5. comparison
  out.push('## 5. Side by side: RTO from detection, same latency model', '');
  out.push(
    ...table(
      ['approach', 'source', ...r.variants.map((v) => `RTO s — ${v.label}`), `formula (${def.id})`],
      r.comparison.rows.map((row) => [
        row.approach,
        row.source,
        ...r.variants.map((v) => s(row.rtoSeconds[v.id] ?? null)),
        row.source === 'modelled' ? (row.formula[def.id] ?? '') : 'measured',
      ]),
    ),
    '',
    ...r.comparison.rows.filter((row) => row.source === 'modelled' && !row.approach.startsWith('ours')).map((row) => `- ${row.approach}: ${row.how}.`),
    '',
    'Instances kept for failover (modelled):',
    '',
    ...table(
      ['applications N', 'ours: shared running pool k', 'hot standby (running)', 'warm pool (stopped)', 'launch on demand', 'idle running instance-hours / month: ours vs hot standby'],
      r.comparison.standby.map((c) => [
        c.applications,
        c.ours,
        c.hotStandby,
        `${c.warmPoolStopped} (EBS only)`,
        c.autoScaling,
        `${c.idleInstanceHoursPerMonth.ours} vs ${c.idleInstanceHoursPerMonth.hotStandby}`,
      ]),
    ),
    '',
    ...r.comparison.standby.map((c) => `- N = ${c.applications}: ${c.assumption}.`),
    '',
  );

  // 6. large fleet
  const f = r.largeFleet;
  out.push(`## 6. Large fleet: one failover among ${f.poolSize} pool instances (six subnets, three AZs)`, '');
  out.push(
    ...table(
      ['figure', 'value'],
      [
        ['command (cold: its own Node, DynamoDB Local and synthesis)', `\`${f.command}\`, exit ${f.exitCode}`],
        ['outcome', `${f.outcome} to ${f.toNode ?? '—'}, RTO ${s(f.rtoSeconds)} s (virtual)`],
        ['selection', f.selection],
        ['wall: the whole command / the simulation as it reports itself', `${s(f.commandWallMs / 1000)} s / ${s(f.simulationWallMs / 1000)} s`],
        ['AWS API calls', f.apiCalls],
      ],
    ),
    '',
  );

  // 7. scale
  out.push(...scaleSection(r.scale.templates, r.scale.bundled));

  // 8. issue 12's targets
  out.push('## 8. Issue 12 targets (event-driven waits): measured in this run', '');
  out.push(...table(['figure', 'measured', 'target', 'met'], targetRows(r).map((row) => [row.figure, row.measured, row.target, row.met ? 'yes' : 'NO'])), '');
  return out.join('\n');
}

