// Bad input, fuzzed with fast-check: configs (parseConfig), scenarios (parseScenario) and intake
// events. Documents come from the zod schemas' JSON Schema and from mutations of known-valid
// documents. Every one ends in a value or a clear error (ConfigError with one field-named line
// per problem, or ValidationError), never another exception; a rejected event has no effect and
// an accepted one starts exactly the executions it reports, as Step Functions itself lists them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ConfigSchema, parseConfig, parseConfigText } from '../../core/config.ts';
import { CONTRIBUTOR_STATE_CHANGE, stackAlarmNames, statusCheckQuery } from '../../core/detection.ts';
import { EVENT_SOURCE, OPERATOR_EVENT_SOURCE, OperatorDetailTypes, ServiceDetailTypes } from '../../core/metrics.ts';
import { makeHandler as makeIntake } from '../../functions/handlers/intake.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { openLocalRuntime, type LocalRuntime } from '../../local/runtime/simulation.ts';
import { LOCAL_STACK_NAME } from '../../local/runtime/synthesize.ts';
import { parseScenario, scenarioJsonSchema } from '../../local/scenario.ts';
import { app, node, nodeId, performance, scenario } from '../workflow/fixtures.ts';
import { formatPath, fromJsonSchema, mutated, type JsonSchema, type Mutation, type Path } from './arbitraries.ts';

/** The local runtime's stack names its alarms `rapid-failover.RapidFailoverLocal.…`. */
const LOCAL_ALARMS = stackAlarmNames(LOCAL_STACK_NAME);
const STATUS_CHECK_ALARM = LOCAL_ALARMS.statusChecks;

/** Modest for CI; RELIABILITY_FUZZ_SCALE=20 runs twenty times as many cases. */
const SCALE = Math.max(1, Number(process.env.RELIABILITY_FUZZ_SCALE ?? 1) || 1);
const RUNS = { schema: 120 * SCALE, mutations: 200 * SCALE, text: 100 * SCALE, intake: 200 * SCALE } as const;

// ---- what a clear error is ------------------------------------------------------------------

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Problems with how a parse failed: not a ConfigError, no lines, or lines that do not name a field. */
function unclear(outcome: Outcome<unknown>, topKeys: readonly string[]): string[] {
  if (outcome.ok) return [];
  const { error } = outcome;
  if (!(error instanceof ConfigError)) return [`threw ${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`];
  if (error.problems.length === 0) return ['a ConfigError without problems'];
  return error.problems.filter((line) => !fieldNamed(line, topKeys)).map((line) => `not a field-named line: ${line}`);
}

/** `(root): …` or `<a top-level field>[.…]: <what is expected>`. */
function fieldNamed(line: string, topKeys: readonly string[]): boolean {
  const named = line.startsWith('(root): ') || topKeys.some((k) => [':', '.', '['].some((next) => line.startsWith(`${k}${next}`)));
  return named && /: \S/.test(line);
}

/** The path part of a problem line. */
function linePath(line: string): string {
  return line.startsWith('(root): ') ? '' : line.slice(0, line.indexOf(': '));
}

const isPrefix = (prefix: string, of: string) => prefix === '' || of === prefix || of.startsWith(`${prefix}.`) || of.startsWith(`${prefix}[`);

/** Problems that a cross-check names at another field than the one changed. */
const CROSS_REFERENCE = /used twice|listed twice|unknown pool|unknown application|unknown instance|give exactly one of|must not exceed|Unrecognized key/;

/** A rejection should point at (or next to) something that was changed. */
function pointsAtAMutation(error: unknown, mutations: readonly Mutation[]): boolean {
  if (!(error instanceof ConfigError)) return false;
  const changed = mutations.map((m) => (m.kind === 'unknown-key' ? m.path : m.path.slice(0, -1))).map((p: Path) => formatPath(p));
  return error.problems.some((line) => CROSS_REFERENCE.test(line) || changed.some((parent) => isPrefix(parent, linePath(line)) || isPrefix(linePath(line), parent)));
}

const CONFIG_KEYS = Object.keys(ConfigSchema.shape);
const SCENARIO_KEYS = ['$schema', 'name', 'description', 'config', 'configFile', 'fleet', 'latency', 'timeline', 'expect', 'runForSeconds', ...CONFIG_KEYS];

// ---- known-valid documents --------------------------------------------------------------------

const VALID_CONFIG: unknown = JSON.parse(readFileSync(new URL('../../failover.config.json', import.meta.url), 'utf8'));

const VALID_SCENARIO = {
  name: 'fuzz',
  config: {
    pools: [{ name: 'general', tag: { key: 'rapid-failover:pool', value: 'general' } }],
    applications: [
      {
        name: 'ledger',
        priority: 500,
        provisioning: { method: 'install', documents: [{ name: 'AWS-RunShellScript', parameters: { commands: ['/opt/install.sh'] } }] },
        cluster: {
          targetGroupArns: ['arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ledger/0123456789abcdef'],
          logicalAddress: { kind: 'elastic-ip', allocationId: 'eipalloc-0123456789abcdef0' },
        },
        detection: { performance: { namespace: 'App', metricName: 'Rps', threshold: 100, comparison: 'LessThanThreshold' } },
        policy: { cooldownSeconds: 0 },
      },
    ],
    alerts: { emails: ['oncall@example.com'] },
  },
  fleet: {
    instances: [
      { id: 'i-0123456789abcdef0', type: 'm7i.xlarge', tags: { 'rapid-failover:pool': 'general' }, runs: ['ledger'] },
      { id: 'i-0123456789abcdef1', type: 'm7i.xlarge', tags: { 'rapid-failover:pool': 'general' } },
    ],
  },
  latency: { ec2: { instanceStopMs: 20_000 } },
  timeline: [
    { at: 30, event: 'instance-failed', node: 'i-0123456789abcdef0' },
    { at: 60, event: 'performance-degraded', app: 'ledger', value: 10 },
    { at: 90, event: 'switchover', app: 'ledger', to: 'i-0123456789abcdef1' },
  ],
  expect: { ledger: ['failed-over'] },
};

// ---- config --------------------------------------------------------------------------------

describe('config (parseConfig)', () => {
  it('the known-valid config parses', () => {
    expect(() => parseConfig(VALID_CONFIG, 'failover.config.json')).not.toThrow();
  });

  it('documents generated from its JSON Schema: a Config or a ConfigError with field-named lines', () => {
    const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    fc.assert(
      fc.property(fromJsonSchema(schema), (doc) => {
        expect(unclear(attempt(() => parseConfig(doc, 'fuzz.json')), CONFIG_KEYS)).toEqual([]);
      }),
      { numRuns: RUNS.schema },
    );
  });

  it('mutations of the valid config (a field dropped, a type changed, an unknown key, a corrupted ARN or id, out of range): the error names the field', () => {
    let rejected = 0;
    fc.assert(
      fc.property(mutated(VALID_CONFIG), ({ doc, mutations }) => {
        const outcome = attempt(() => parseConfig(doc, 'fuzz.json'));
        rejected += outcome.ok ? 0 : 1;
        expect(unclear(outcome, CONFIG_KEYS)).toEqual([]);
        expect(outcome.ok || pointsAtAMutation(outcome.error, mutations), `the error points at what changed: ${JSON.stringify(mutations)}\n${outcome.ok ? '' : String(outcome.error)}`).toBe(true);
      }),
      { numRuns: RUNS.mutations },
    );
    // Most mutations break the document (some only drop an optional field or stay in range).
    expect(rejected, 'mutated documents rejected').toBeGreaterThan(RUNS.mutations * 0.3);
  });

  it('arbitrary text, and the valid config cut short: ConfigError', () => {
    const text = JSON.stringify(VALID_CONFIG, null, 2);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.integer({ min: 0, max: text.length - 1 }).map((n) => text.slice(0, n))), (input) => {
        expect(unclear(attempt(() => parseConfigText(input, 'fuzz.json')), CONFIG_KEYS)).toEqual([]);
      }),
      { numRuns: RUNS.text },
    );
  });
});

// ---- scenario --------------------------------------------------------------------------------

describe('scenario (parseScenario)', () => {
  let dir: string;
  const FILES = ['config.json', 'not-json.json', 'invalid-config.json', 'a-directory', 'missing.json', '../../../etc/hostname'];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rapid-failover-fuzz-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(VALID_SCENARIO.config));
    writeFileSync(join(dir, 'not-json.json'), '{ "pools": [ oops');
    writeFileSync(join(dir, 'invalid-config.json'), JSON.stringify({ pools: [], applications: 'none' }));
    mkdirSync(join(dir, 'a-directory'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('the known-valid scenario parses, inline and with a config file', () => {
    expect(() => parseScenario(VALID_SCENARIO, 'fuzz.json', dir)).not.toThrow();
    const { config: _inline, ...linked } = VALID_SCENARIO;
    expect(() => parseScenario({ ...linked, configFile: 'config.json' }, 'fuzz.json', dir)).not.toThrow();
  });

  it('documents generated from its JSON Schema: a Scenario or a ConfigError with field-named lines', () => {
    const schema = scenarioJsonSchema() as JsonSchema;
    fc.assert(
      fc.property(fromJsonSchema(schema), (doc) => {
        expect(unclear(attempt(() => parseScenario(doc, 'fuzz.json', dir)), SCENARIO_KEYS)).toEqual([]);
      }),
      { numRuns: RUNS.schema },
    );
  });

  it('mutations of the valid scenario: the error names the field', () => {
    let rejected = 0;
    fc.assert(
      fc.property(mutated(VALID_SCENARIO), ({ doc, mutations }) => {
        const outcome = attempt(() => parseScenario(doc, 'fuzz.json', dir));
        rejected += outcome.ok ? 0 : 1;
        expect(unclear(outcome, SCENARIO_KEYS)).toEqual([]);
        expect(outcome.ok || pointsAtAMutation(outcome.error, mutations), `the error points at what changed: ${JSON.stringify(mutations)}\n${outcome.ok ? '' : String(outcome.error)}`).toBe(true);
      }),
      { numRuns: RUNS.mutations },
    );
    // Most mutations break the document (some only drop an optional field or stay in range).
    expect(rejected, 'mutated documents rejected').toBeGreaterThan(RUNS.mutations * 0.3);
  });

  it('a config file that is missing, a directory, not JSON, or not a valid config: ConfigError', () => {
    const { config: _inline, ...linked } = VALID_SCENARIO;
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...FILES), fc.string({ maxLength: 12 })), (configFile) => {
        expect(unclear(attempt(() => parseScenario({ ...linked, configFile }, 'fuzz.json', dir)), SCENARIO_KEYS)).toEqual([]);
      }),
      { numRuns: RUNS.text, examples: FILES.map((f) => [f]) },
    );
  });
});

// ---- intake ----------------------------------------------------------------------------------

describe('intake events', () => {
  const dynamoEndpoint = sharedDynamoEndpoint();
  let runtime: LocalRuntime;

  const s = scenario({
    name: 'intake-fuzz',
    applications: [app('ledger', { detection: { performance: performance('ledger'), failure: { statusChecks: true } } }), app('orders')],
    instances: [node(1, { runs: ['ledger'] }), node(2, { runs: ['orders'] }), node(3)],
    timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
    // Every execution pays a state transition and a Lambda cold start in virtual time before its
    // first handler runs; the test never moves virtual time, so an execution intake starts is
    // listed by Step Functions (RUNNING) but never writes a table.
    latency: { stepFunctions: { stateTransitionMs: 50 }, lambda: { coldStartMs: 500, invokeMs: 25 } },
  });

  beforeAll(async () => {
    runtime = await openLocalRuntime(s, { dynamoEndpoint });
  });

  afterAll(async () => {
    await runtime?.close();
  });

  /** The executions Step Functions has, by name, as the real client lists them. */
  async function executions(): Promise<string[]> {
    const listed = await runtime.deps.sfn.send(new ListExecutionsCommand({ stateMachineArn: runtime.deps.env.stateMachineArn }));
    return (listed.executions ?? []).map((e) => e.name ?? '').sort();
  }

  async function tables(): Promise<string> {
    const { tables } = runtime.deps.env;
    const scans = await Promise.all(
      [tables.state, tables.claims, tables.records].map((TableName) => runtime.deps.ddb.send(new ScanCommand({ TableName, ConsistentRead: true }))),
    );
    return JSON.stringify(scans.map((out) => (out.Items ?? []).map((item) => JSON.stringify(item)).sort()));
  }

  const at = '2030-01-01T00:02:30Z';
  const VALID_EVENTS: Record<string, unknown> = {
    contributor: {
      version: '0',
      id: 'fuzz-contributor',
      source: 'aws.cloudwatch',
      'detail-type': CONTRIBUTOR_STATE_CHANGE,
      time: at,
      region: 'eu-west-1',
      account: '123456789012',
      resources: [`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${STATUS_CHECK_ALARM}`],
      detail: {
        alarmName: STATUS_CHECK_ALARM,
        alarmContributor: { id: '6d442278dba546f6', attributes: { InstanceId: nodeId(1) } },
        state: { value: 'ALARM', reason: 'status checks failed', timestamp: '2030-01-01T00:02:30.000+0000' },
        configuration: { metrics: [{ id: 'm1', expression: statusCheckQuery(), returnData: true, period: 60 }] },
      },
    },
    performance: {
      version: '0',
      id: 'fuzz-perf',
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      time: at,
      resources: [],
      detail: { alarmName: LOCAL_ALARMS.performance('ledger'), state: { value: 'ALARM', timestamp: at } },
    },
    ec2: {
      version: '0',
      id: 'fuzz-ec2',
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      time: at,
      resources: [`arn:aws:ec2:eu-west-1:123456789012:instance/${nodeId(2)}`],
      detail: { 'instance-id': nodeId(2), state: 'stopped' },
    },
    switchover: {
      id: 'fuzz-switchover',
      source: OPERATOR_EVENT_SOURCE,
      'detail-type': OperatorDetailTypes.Switchover,
      time: at,
      detail: { app: 'orders', toNode: nodeId(3), requestedBy: 'alice' },
    },
    drill: { id: 'fuzz-drill', source: OPERATOR_EVENT_SOURCE, 'detail-type': OperatorDetailTypes.Drill, time: at, detail: { app: 'ledger', requestedBy: 'bob' } },
    preempted: {
      id: 'fuzz-down',
      source: EVENT_SOURCE,
      'detail-type': ServiceDetailTypes.Down,
      time: at,
      detail: { app: 'orders', node: nodeId(2), reason: 'preempted', preemptedBy: 'ledger' },
    },
  };

  /**
   * How one event went: what intake answered or threw, the executions Step Functions lists that it
   * did not before, and those it listed already.
   */
  async function deliver(event: unknown): Promise<{ outcome: Outcome<unknown>; startedNow: string[]; listedBefore: Set<string> }> {
    const before = new Set(await executions());
    const intake = makeIntake(runtime.deps);
    let outcome: Outcome<unknown>;
    try {
      outcome = { ok: true, value: await intake(event) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    return { outcome, startedNow: (await executions()).filter((name) => !before.has(name)), listedBefore: before };
  }

  /** A rejection is a ValidationError that says what is wrong, and started nothing; an acceptance started exactly what it says. */
  function problems({ outcome, startedNow, listedBefore }: { outcome: Outcome<unknown>; startedNow: string[]; listedBefore: Set<string> }): string[] {
    if (outcome.ok) {
      const result = outcome.value as { started: string[]; deduplicated: string[]; ignored: string[] };
      const shaped = [result.started, result.deduplicated, result.ignored].every((list) => Array.isArray(list));
      if (!shaped) return ['intake answered something that is not an IntakeResult'];
      // StartExecution with the name and input of an open execution succeeds without starting
      // another ("Executions with the same name and input are considered idempotent", Step
      // Functions API reference, ExecutionAlreadyExists): intake cannot tell it from a start, and
      // reports it as started. What it reports started is exactly what is new, plus such repeats.
      const said = [...new Set(result.started)].sort();
      const expected = [...new Set([...startedNow, ...said.filter((name) => listedBefore.has(name))])].sort();
      return said.join(',') === expected.join(',') ? [] : [`reported started ${JSON.stringify(said)}, Step Functions lists new ${JSON.stringify(startedNow)}`];
    }
    const error = outcome.error as Error;
    return [
      ...(error?.name === 'ValidationError' ? [] : [`threw ${error?.name}: ${error?.message}`]),
      ...(/^intake: \S/.test(error?.message ?? '') ? [] : [`unclear message: ${error?.message}`]),
      ...(startedNow.length === 0 ? [] : [`a rejected event started ${startedNow.join(', ')}`]),
    ];
  }

  it('the known-valid events are accepted and each starts its incident', async () => {
    const results = [];
    for (const event of Object.values(VALID_EVENTS)) results.push(await deliver(event));
    expect(results.flatMap(problems)).toEqual([]);
    expect(results.map((r) => r.startedNow.length)).toEqual([1, 1, 1, 1, 1, 1]);
    // Started for real: Step Functions runs each, named by its incident.
    const listed = await runtime.deps.sfn.send(new ListExecutionsCommand({ stateMachineArn: runtime.deps.env.stateMachineArn }));
    expect((listed.executions ?? []).map((e) => e.status)).toEqual(Array(6).fill('RUNNING'));
  });

  it('mutated and arbitrary events: accepted, or a ValidationError and no execution and no table write', async () => {
    const before = await tables();
    const executionsBefore = await executions();
    const reportedStarted: string[] = [];
    // Timestamps Date.parse accepts that are still no use: years past 9999 or before 0, impossible days, bare numbers.
    const oddTime = fc.constantFrom('+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '2030-02-30T00:00:00Z', '1', 'Tue, 01 Jan 2030 00:00:00 GMT', '2030-01-01T00:00:00+2500');
    const event = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...Object.values(VALID_EVENTS)).chain((valid) => mutated(valid).map((m) => m.doc)) },
      {
        weight: 2,
        arbitrary: fc.tuple(fc.constantFrom(...Object.values(VALID_EVENTS)), oddTime, fc.boolean()).map(([valid, time, inState]) => {
          const copy = structuredClone(valid) as { time: string; detail: { state?: { timestamp: string } } };
          if (inState && typeof copy.detail.state === 'object') copy.detail.state.timestamp = time;
          else copy.time = time;
          return copy;
        }),
      },
      { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
      {
        weight: 1,
        arbitrary: fc.record({
          id: fc.string(),
          source: fc.constantFrom('aws.cloudwatch', 'aws.ec2', OPERATOR_EVENT_SOURCE, EVENT_SOURCE, 'aws.s3'),
          'detail-type': fc.constantFrom('CloudWatch Alarm State Change', CONTRIBUTOR_STATE_CHANGE, 'EC2 Instance State-change Notification', ...Object.values(OperatorDetailTypes), ...Object.values(ServiceDetailTypes), 'Object Created'),
          time: fc.oneof(fc.string(), fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'not a date' : d.toISOString())), fc.constantFrom('+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '2030-02-30T00:00:00Z', '1')),
          detail: fc.jsonValue({ maxDepth: 3 }),
        }),
      },
    );

    await fc.assert(
      fc.asyncProperty(event, async (e) => {
        const delivered = await deliver(e);
        expect(problems(delivered)).toEqual([]);
        if (delivered.outcome.ok) reportedStarted.push(...(delivered.outcome.value as { started: string[] }).started);
      }),
      { numRuns: RUNS.intake },
    );

    // Intake reads the state table and writes nothing (the executions it started have not reached a task).
    expect(await tables(), 'DynamoDB tables unchanged').toBe(before);
    // Step Functions lists exactly the executions it had, and those accepted events said they started.
    expect(await executions(), 'executions listed').toEqual([...new Set([...executionsBefore, ...reportedStarted])].sort());
  });
});
