// The deployed artefacts run: one complete failover on the local runtime where every Lambda is
// its esbuild bundle from a real synthesis (cdk.out's asset.<hash>/index.mjs: ESM, minified),
// not the TypeScript sources, and reads the config document the synthesis wrote
// (asset.<hash>.json) from S3 at its cold start. Each bundle runs in its own worker thread
// with the environment variables the template gives that function (local/runtime/bundles.ts),
// against DynamoDB Local and the simulated fleet, under the synthesized state machine.
//
// The scenario touches all eleven functions: checkout's performance alarm starts a failover
// whose first node fails its installation (compensate, then a second attempt on the backup
// tier), settles and is verified; search's host stops while no node can take it (notify). The
// expected results are what the same scenario gives with the handler sources.
// A bundling mistake fails here, seen red by breaking lib/ on purpose (every test failed each time):
// - intake's STATE_MACHINE_ARN dropped from its environment: no execution starts;
// - zod marked external: "Runtime.ImportModuleError: Cannot find package 'zod' imported from
//   .../task/index.mjs" (only the runtime's @aws-sdk is there to resolve);
// - CommonJS output with the ESM createRequire banner left in: "Runtime.ImportModuleError:
//   ReferenceError: module is not defined in ES module scope".
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../core/config.ts';
import { EnvNames } from '../../core/environment.ts';
import { STEPS } from '../../core/workflow-state.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { synthesizeBundles, type DeployedBundles } from '../../local/runtime/bundles.ts';
import { openLocalRuntime, type LocalRuntime, type SimulationResult } from '../../local/runtime/simulation.ts';
import { parseScenario } from '../../local/scenario.ts';
import { EXAMPLE_CONFIG_PATH } from '../lib/synth.ts';

const CHECKOUT_HOST = 'i-0aaa0000000000001';
const FIRST_CHOICE = 'i-0aaa0000000000002';
const BACKUP_NODE = 'i-0ddd0000000000001';
const CHECKOUT_EIP = 'eipalloc-0a1b2c3d4e5f60718';

const scenario = parseScenario(
  {
    name: 'deployed-bundles',
    description: 'checkout degrades; its first node fails to install and the backup tier takes it; search stops with no node to take it',
    config: JSON.parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')),
    fleet: {
      instances: [
        { id: CHECKOUT_HOST, type: 'm7i.xlarge', tags: { 'rapid-failover:pool': 'general' }, runs: ['checkout'] },
        { id: FIRST_CHOICE, type: 'm7i.2xlarge', tags: { 'rapid-failover:pool': 'general' } },
        { id: 'i-0bbb0000000000001', type: 'm7g.xlarge', tags: { 'rapid-failover:pool': 'general' }, runs: ['search'] },
        { id: 'i-0ccc0000000000001', type: 'm7i.2xlarge', tags: { 'rapid-failover:pool': 'shared-hosts' }, runs: ['reports'] },
        { id: BACKUP_NODE, type: 'm7i.4xlarge', tags: { 'rapid-failover:pool': 'backup' } },
      ],
    },
    timeline: [
      { at: 0, event: 'provisioning-fails', node: FIRST_CHOICE, how: 'command-fails' },
      { at: 60, event: 'performance-degraded', app: 'checkout', value: 50 },
      { at: 60, event: 'instance-stopped', node: 'i-0bbb0000000000001' },
    ],
    expect: { checkout: ['failed-over'], search: ['alerted'] },
  },
  'bundles.test.ts',
);

const dynamoEndpoint = sharedDynamoEndpoint();
let bundles: DeployedBundles;
let runtime: LocalRuntime;
let result: SimulationResult;
const progress: string[] = [];

beforeAll(async () => {
  const synthStart = performance.now();
  // The real synthesis, esbuild included: cdk.json's app (bin/app.ts) run as `cdk synth` runs it,
  // so these are the same bundles `cdk deploy` uploads.
  bundles = await synthesizeBundles(fileURLToPath(EXAMPLE_CONFIG_PATH));
  const runStart = performance.now();
  runtime = await openLocalRuntime(scenario, { dynamoEndpoint, bundles, onProgress: (e) => progress.push(`${e.at.toISOString()} ${e.text}`) });
  result = await runtime.run();
  console.info(`bundles: synthesized in ${Math.round(runStart - synthStart)} ms, scenario ran in ${Math.round(performance.now() - runStart)} ms`);
}, 600_000);

afterAll(async () => {
  await runtime?.close();
  bundles?.dispose();
});

/** On a red run, what the runtime saw and the functions printed says why. */
function functionLogs(): string {
  const host = runtime?.bundleHost;
  const logs = Object.keys(host?.invocations() ?? {}).map(
    (id) => `--- ${id}\n${host!.logs(id).filter((l) => !l.includes('"CloudWatchMetrics"')).slice(-6).join('\n')}`,
  );
  return ['--- progress', ...progress.slice(-12), ...logs].join('\n');
}

/** The control plane's functions: intake, the callback and the ten steps (not the CDK's custom-resource provider, which runs at deploy). */
function controlPlaneFunctions(): string[] {
  return Object.entries(bundles.template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Properties?.Environment ?? {}).includes(EnvNames.Step))
    .map(([id]) => id);
}

describe('cdk synth (bin/app.ts) on failover.config.json', () => {
  it('bundles every handler with esbuild as one ESM file, and puts the config beside the bundles as an S3 asset', () => {
    // Exit code 0 is not enough: a synthesis may print an error (cdk-nag, esbuild) and still write the assembly.
    expect(bundles.synthLog).toBeDefined();
    expect(bundles.synthLog).not.toMatch(/Error/);
    const functions = Object.entries(bundles.template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    // Twelve handlers (ten steps, intake, the callback), and the CDK's own AwsCustomResource provider (it tags the preferred nodes at deploy).
    expect(functions).toHaveLength(STEPS.length + 3);
    const esm = functions.filter(([id]) => existsSync(join(bundles.codeDirs.get(id)!, 'index.mjs'))).map(([id]) => id);
    expect(esm.sort()).toEqual(controlPlaneFunctions().sort());
    // The config document: the object every function's RAPID_FAILOVER_CONFIG_KEY names.
    const keys = new Set(functions.map(([, r]) => (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.[EnvNames.ConfigKey]).filter(Boolean));
    expect(keys.size).toBe(1);
    const [key] = [...keys] as string[];
    expect(key).toMatch(/^[0-9a-f]{64}\.json$/);
    expect((JSON.parse(bundles.assetText(key!)) as { config: Config }).config.applications.map((a) => a.name)).toEqual(['checkout', 'search', 'reports']);
  });
});

describe('the deployed bundles run a complete failover', () => {
  it('every function of the control plane ran from its bundle, in its own execution environment', () => {
    const functions = controlPlaneFunctions();
    // The steps, intake and the callback (it resumes steps waiting on events).
    expect(functions).toHaveLength(STEPS.length + 2);
    expect(Object.keys(runtime.bundleHost!.invocations()).sort(), functionLogs()).toEqual(functions.sort());
  });

  it('the config is not in the code: no bundle holds an instance id, address or shell command of the config; each function read it from S3 once, at its cold start', () => {
    const functions = controlPlaneFunctions();
    const secrets = [CHECKOUT_EIP, CHECKOUT_HOST, 'systemctl'];
    for (const id of functions) {
      const code = readFileSync(join(bundles.codeDirs.get(id)!, 'index.mjs'), 'utf8');
      expect(secrets.filter((s) => code.includes(s)), id).toEqual([]);
    }
    expect(runtime.fleet.callCounts().byCommand['s3:GetObject'], functionLogs()).toBe(functions.length);
  });

  it('A13, A1: checkout fails over to the backup tier on its second attempt, after the first node failed to install', () => {
    const checkout = result.incidents.filter((i) => i.app === 'checkout');
    expect(checkout.map((i) => [i.outcome, i.fromNode, i.toNode, i.attempts]), functionLogs()).toEqual([['failed-over', CHECKOUT_HOST, BACKUP_NODE, 2]]);
    expect(checkout[0]!.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['CompensateClaim', 'VerifyPerformance']));
    expect(result.unexpected).toEqual([]);
    expect(result.locksHeld).toEqual([]);
  });

  it('C1, A9: traffic reaches the new node: the Elastic IP moved and the target group has it healthy', () => {
    expect(result.network.elasticIps.find((e) => e.allocationId === CHECKOUT_EIP)?.instanceId).toBe(BACKUP_NODE);
    const group = result.network.targetGroups.find((g) => g.app === 'checkout');
    expect(group?.targets.filter((t) => t.state === 'healthy').map((t) => t.id)).toEqual([BACKUP_NODE]);
  });

  it('A13: the node that failed to install is quarantined with an alert; search, which no node could take, is alerted', () => {
    expect(result.fleet.find((n) => n.id === FIRST_CHOICE)?.role).toBe('quarantined');
    expect(result.incidents.find((i) => i.app === 'checkout')?.alerts).toEqual([`rapid-failover: checkout: node ${FIRST_CHOICE} quarantined`]);
    // Its host's 'stopping' event starts the incident; 'stopped' is not routed to intake (INTAKE_INSTANCE_STATES, lib/detection.ts).
    const search = result.incidents.filter((i) => i.app === 'search');
    expect(search.map((i) => [i.outcome, i.alerts])).toEqual([['alerted', ['rapid-failover: search: no eligible node to fail over to']]]);
    expect(result.notifications.map((n) => n.subject).sort()).toEqual(result.incidents.flatMap((i) => i.alerts).sort());
  });

  it('the metrics come from the embedded-metric-format lines the bundles printed, as CloudWatch reads them', () => {
    expect(result.metrics).toMatchObject({ FailoversStarted: 2, FailoversSucceeded: 1, FailoversFailed: 1 });
  });
});
