// `npm run bench`: the figures of bench/README.md, written to bench/results/latest.json and
// latest.md (and the tables printed). One DynamoDB Local serves every run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDynamoDbLocal } from '../local/dynamodb-local.ts';
import { DEFAULT_LATENCY, type LatencyOverrides } from '../local/fleet/index.ts';
import { synthesizeTemplate } from '../local/runtime/synthesize.ts';
import { extractStateMachine } from '../local/state-machine-definition.ts';
import { runConcurrency, runFailover, runLargeFleet, runSelection, type ConcurrencyRun, type FailoverRun, type LargeFleetRun, type SelectionRun } from './measure.ts';
import { comparison, costRow, markdown, overheadRow, selectionGrowth, type BenchResults, type Variant } from './report.ts';
import { FAILOVER_CASES, failoverScenario } from './scenarios.ts';
import { limitBreaches, scaleConfig, synthAndMeasure, type ScaleMeasure } from './synth-scale.ts';
import type { Definition } from '../local/runtime/state-path.ts';

const VARIANTS: Array<Variant & { overrides: LatencyOverrides }> = [
  { id: 'default', label: 'latency model defaults (health checks every 30 s: one pass for a new target, 5 for an unhealthy one)', overrides: {} },
  { id: 'fast-hc', label: 'health checks 5 s × 2 (override)', overrides: { elbv2: { healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 } } },
];
const POOL_SIZES = [100, 1_000, 10_000];
const CONCURRENT_APPS = 100;
const CONCURRENT_FREE_NODES = 110;
/** Pool instances of the large-fleet run (issue 8: a failover among 2,000 must simulate in under 30 s of wall time). */
const LARGE_FLEET = 2_000;
/** Applications per synthesized config (issue 10: 1,000 must synthesize in under 90 s, every limit with 2x headroom). */
const SCALE_SIZES = [10, 100, 1_000];

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const sectionsWallMs: Record<string, number> = {};
  let mark = started;
  const lap = (name: string) => {
    const now = performance.now();
    sectionsWallMs[name] = Math.round(now - mark);
    mark = now;
  };
  const db = await startDynamoDbLocal();
  lap('DynamoDB Local');
  log(`DynamoDB Local on ${db.endpoint} (${db.startupMs} ms)`);
  const failovers: FailoverRun[] = [];
  const selection: SelectionRun[] = [];
  let concurrency: ConcurrencyRun | undefined;
  let concurrencyUnlimited: ConcurrencyRun | undefined;
  let largeFleet: LargeFleetRun | undefined;
  try {
    const definition = extractStateMachine(synthesizeTemplate(failoverScenario(FAILOVER_CASES[0]!).config)).definition as unknown as Definition;
    lap('definition');
    for (const variant of VARIANTS) {
      for (const c of FAILOVER_CASES) {
        const run = await runFailover(c, variant, definition, db.endpoint);
        log(`failover ${c.label} (${variant.id}): ${run.outcome}, RTO ${run.rtoSeconds} s, ${run.apiCalls.total} API calls, wall ${run.wall.setupMs + run.wall.runMs} ms`);
        failovers.push(run);
      }
    }
    lap('failovers');
    for (const size of POOL_SIZES) {
      const run = await runSelection(size, db.endpoint);
      selection.push(run);
      log(`selection over ${size} nodes: ${run.rounds.map((r) => `${r.cache} ${r.apiCalls.total} calls, ${r.wallMs} ms`).join('; ')}`);
    }
    lap('selection');
    // The storm: EC2's request token buckets enforced by the fleet while it runs (issue 12).
    concurrency = await runConcurrency(CONCURRENT_APPS, CONCURRENT_FREE_NODES, definition, db.endpoint, { enforceRequestLimits: true });
    log(`concurrency (EC2 request limits enforced; refused ${JSON.stringify(concurrency.requestLimits.refused)}): ${JSON.stringify(concurrency.outcomes)}, settled after ${concurrency.settleVirtualSeconds} virtual s, wall ${concurrency.wall.setupMs + concurrency.wall.runMs} ms`);
    lap('concurrency');
    concurrencyUnlimited = await runConcurrency(CONCURRENT_APPS, CONCURRENT_FREE_NODES, definition, db.endpoint);
    log(`concurrency (no request limits): ${JSON.stringify(concurrencyUnlimited.outcomes)}, settled after ${concurrencyUnlimited.settleVirtualSeconds} virtual s`);
    lap('concurrency, no request limits');
    largeFleet = runLargeFleet(LARGE_FLEET);
    log(`large fleet: ${largeFleet.command}: ${largeFleet.outcome} to ${largeFleet.toNode}, ${largeFleet.commandWallMs} ms wall (simulation ${largeFleet.simulationWallMs} ms)`);
    lap('large fleet');
  } finally {
    await db.stop();
  }
  // After DynamoDB Local is stopped: synthesis is CPU only.
  const scaleTemplates: ScaleMeasure[] = [];
  for (const size of SCALE_SIZES) {
    const m = synthAndMeasure(scaleConfig(size), { bundle: false });
    scaleTemplates.push(m);
    log(`synth ${size} applications: ${m.synthMs} ms, ${m.templates[0]!.resources} resources, ${m.templates[0]!.bytes} bytes; ${limitBreaches(m).length} limit(s) without 2x headroom`);
  }
  const scaleBundled = synthAndMeasure(scaleConfig(SCALE_SIZES.at(-1)!), { bundle: true });
  log(`cdk synth (bundled) ${scaleBundled.applications} applications: ${scaleBundled.synthMs} ms`);
  lap('synth scale');
  if (!concurrency || !concurrencyUnlimited) throw new Error('the concurrency run did not finish');
  if (!largeFleet) throw new Error('the large-fleet run did not finish');

  const defaults = failovers.filter((f) => f.variant === VARIANTS[0]!.id);
  const caseOf = (label: string) => FAILOVER_CASES.find((c) => c.label === label)!;
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    environment: { node: process.version, platform: `${process.platform}/${process.arch}`, cpus: availableParallelism() },
    benchWallMs: Math.round(performance.now() - started),
    sectionsWallMs,
    latencyModel: DEFAULT_LATENCY,
    variants: VARIANTS.map(({ id, label }) => ({ id, label })),
    failovers,
    cost: defaults.map((f) => costRow(f, caseOf(f.label))),
    overhead: failovers.map((f) => overheadRow(f, caseOf(f.label))),
    selection: { runs: selection, growth: selectionGrowth(selection) },
    concurrency: {
      ...concurrency,
      singleFailoverRto: Object.fromEntries(['activate', 'install', 'boot-volume'].map((m) => [m, defaults.find((f) => f.label === m)?.rtoSeconds ?? null])),
    },
    concurrencyUnlimited,
    comparison: comparison(failovers, VARIANTS),
    largeFleet,
    scale: { templates: scaleTemplates, bundled: scaleBundled },
  };
  const md = markdown(results);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(resultsDir, 'latest.md'), `${md}\n`);
  process.stdout.write(`${md}\n`);
  log(`wrote ${join(resultsDir, 'latest.json')} and latest.md in ${Math.round(results.benchWallMs / 1000)} s`);
}

await main();
