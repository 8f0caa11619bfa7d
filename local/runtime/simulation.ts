// The embedded default: one scenario run on one machine. The synthesized template gives the
// state machine, the tables and the event rules; the real handlers run with real SDK clients
// whose requests reach DynamoDB Local and the simulated fleet, in virtual time.
import { randomUUID } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Application, Config } from '../../core/config.ts';
import { configDocument } from '../../core/config-document.ts';
import { EnvNames, readEnvironment } from '../../core/environment.ts';
import { SERVING_TAG, stackAlarmNames } from '../../core/detection.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../core/metrics.ts';
import type { Outcome, TriggerKind } from '../../core/workflow-state.ts';
import { getAppStates, updateAppState } from '../../functions/adapters/app-state.ts';
import { scanClaims } from '../../functions/adapters/claims.ts';
import { whereRuns } from '../../functions/pool-view.ts';
import { getRecord } from '../../functions/adapters/records.ts';
import { buildDeps, readDeployedConfig, type Deps } from '../../functions/deps.ts';
import { LOCAL_CLIENT_CONFIG, startDynamoDbLocal } from '../dynamodb-local.ts';
import { attachFleet, SimulatedFleet, type AlarmDefinition, type CallCounts, type FleetSnapshot, type LatencyOverrides, type PublishedMessage, type ServiceName } from '../fleet/index.ts';
import { VirtualClock } from '../fleet/clock.ts';
import { subnetOf, type Scenario, type TimelineEvent } from '../scenario.ts';
import { extractStateMachine, LOCAL_ACCOUNT, LOCAL_REGION, localFunctionArn, localQueueArn, resolveTemplateValue, type CfnTemplate } from '../state-machine-definition.ts';
import { createTablesFromTemplate } from '../tables.ts';
import { BundleHost, type DeployedBundles } from './bundles.ts';
import { deliveries, ruleRoutes, type BusEvent } from './event-rules.ts';
import { LambdaEnvironments } from './lambda-environments.ts';
import { attachLocalStepFunctions, LOCAL_STATE_MACHINE_ARN, LocalStepFunctions } from './local-step-functions.ts';
import { synthesizeTemplate } from './synthesize.ts';
import { TaskTokens } from './task-tokens.ts';
import { VirtualTime } from './virtual-time.ts';
import { WorkflowRunner, type ExecutionResult, type TaskEvent, type TaskHandler } from './workflow-runner.ts';

export const SIMULATION_EPOCH = new Date('2030-01-01T00:00:00.000Z');

export interface IncidentReport {
  incidentId: string;
  app: string;
  trigger: TriggerKind;
  triggerSource: string;
  /** When the trigger was observed (the ALARM's timestamp, the event's time): where the RTO starts. */
  observedAt: string | null;
  outcome: Outcome;
  fromNode: string | null;
  toNode: string | null;
  attempts: number;
  alerts: string[];
  steps: Array<{ name: string; startedAt: string; endedAt: string }>;
  rtoSeconds: number | null;
  explanation: string[];
}

/** What a node is to the control plane, as the report names it. */
export const NODE_ROLES = ['serving', 'free', 'claimed', 'preempted', 'quarantined', 'retained'] as const;

export interface NodeReport {
  id: string;
  type: string;
  state: string;
  role: (typeof NODE_ROLES)[number];
  /** Applications running on the node now. */
  applications: string[];
  /**
   * Applications the control plane places on the node (its state table's current node, as the
   * pool's selection reads it), running there or not: a node an application was alerted on
   * (A14) stays that application's until someone moves it.
   */
  assignedTo: string[];
  lease: Array<{ holder: string; role: string; incidentId: string; expiresAt: string | null; reason?: string }>;
}

export interface SimulationResult {
  scenario: string;
  incidents: IncidentReport[];
  fleet: NodeReport[];
  notifications: Array<{ at: string; subject: string; message: string }>;
  serviceEvents: Array<{ at: string; detailType: string; detail: unknown }>;
  /** Where traffic goes when the run ends: target group registrations and logical addresses (A9, C1). */
  network: Pick<FleetSnapshot, 'targetGroups' | 'elasticIps' | 'secondaryIps'>;
  /** Outcomes the scenario's `expect` did not allow. */
  unexpected: string[];
  /** Locks still held when the run ended (should be none). */
  locksHeld: string[];
  metrics: Record<string, number>;
  virtualSeconds: number;
  wallMs: number;
  apiCalls: CallCounts;
}

export interface ProgressEvent {
  at: Date;
  /** callback: an EventBridge delivery to the callback Lambda (an SSM or EC2 event that may end a wait). */
  kind: 'trigger' | 'intake' | 'callback' | 'task' | 'execution';
  text: string;
  execution?: string;
  task?: TaskEvent;
  /** An event intake was handed: what it was and what intake did with it (incident ids). */
  delivery?: { source: string; detailType: string; started: string[]; deduplicated: string[]; ignored: string[] };
}

/**
 * The `state` wrapTask sees for the callback Lambda invoked by EventBridge with an AWS event (not
 * a state of the workflow: the Await states invoke the same function as Task states).
 */
export const CALLBACK_DELIVERY = 'EventBridge → callback';

export interface TaskWrapContext {
  state: string;
  step: string;
  background: <T>(work: () => Promise<T>) => Promise<T>;
  sleep: (ms: number) => Promise<void>;
  now: () => Date;
}

export interface SimulationOptions {
  onProgress?: (event: ProgressEvent) => void;
  /** Use this DynamoDB Local instead of starting one (tests share one across runs). */
  dynamoEndpoint?: string;
  /**
   * Wraps each task's handler (fault injection in the reliability harness). `state` is the
   * state machine's state name, `step` the workflow step it runs; `background` runs work as a
   * flow of its own in virtual time (a Lambda that goes on running after Step Functions has
   * given up on it), which the run waits for like an execution; `sleep` waits on the virtual clock.
   */
  wrapTask?: (handler: TaskHandler, task: TaskWrapContext) => TaskHandler;
  /**
   * Called each time the run goes quiet while timeline events are still due: every execution
   * started so far has ended, nothing is in flight and no alarm would still change. `report`
   * reads the run as it stands (the reliability harness checks its invariants here, while
   * leases still run). The clock waits until it returns.
   */
  onQuiet?: (checkpoint: { at: Date; deps: Deps; fleet: SimulatedFleet; report: () => Promise<SimulationResult> }) => Promise<void> | void;
  /**
   * Called once the fleet is built and before the timeline runs (extra faults, latency). `sleep`
   * waits in virtual time (a slow Lambda in a wrapped task).
   */
  beforeRun?: (runtime: { fleet: SimulatedFleet; deps: Deps; stepFunctions: LocalStepFunctions; sleep: (ms: number) => Promise<void> }) => void | Promise<void>;
  /** Called once the run has settled, before the report reads the tables (the benchmark stops counting here). */
  onSettled?: () => void;
  /**
   * Run the deployed artefacts instead of the handler sources: each Lambda's esbuild bundle
   * from this synthesized assembly (its template replaces the in-process synthesis), in its own
   * worker with the template's environment (local/runtime/bundles.ts). Must be synthesized for
   * the scenario's config.
   */
  bundles?: DeployedBundles;
}

let runSeq = 0;

/** The step Lambdas' handlers, by step name; imported lazily so the runtime loads only what it runs. */
async function loadHandler(step: string): Promise<(deps: Deps) => TaskHandler> {
  const module = (await import(`../../functions/handlers/${step}.ts`)) as { makeHandler: (deps: Deps) => TaskHandler };
  return module.makeHandler;
}

class CapturedMetrics extends Metrics {
  readonly totals: Record<string, number> = {};
  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) this.add(this.serializeMetrics() as unknown as Record<string, unknown>);
    this.clearMetrics();
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }

  /** Adds one embedded-metric-format document (also what a bundle prints) to the totals. */
  add(emf: Record<string, unknown>): void {
    const names = (emf._aws as { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name));
    for (const name of names) {
      const value = emf[name];
      const values = Array.isArray(value) ? (value as number[]) : [value as number];
      this.totals[name] = (this.totals[name] ?? 0) + values.reduce((a, b) => a + b, 0);
    }
  }
}

export async function runSimulation(scenario: Scenario, options: SimulationOptions = {}): Promise<SimulationResult> {
  const runtime = await openLocalRuntime(scenario, options);
  try {
    return await runtime.run();
  } finally {
    await runtime.close();
  }
}

/** A scenario's local runtime, set up but not yet run: the CLI reads it like a deployed stack. */
export interface LocalRuntime {
  /** What the handlers get: the same Deps an operator command uses against AWS. */
  readonly deps: Deps;
  readonly fleet: SimulatedFleet;
  /** With the `bundles` option: the workers running the deployed bundles (invocations, logs). */
  readonly bundleHost: BundleHost | undefined;
  run(): Promise<SimulationResult>;
  /** Runs `work` (an operator query) on the runtime, moving virtual time while its calls wait on it. */
  drive<T>(work: (deps: Deps) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openLocalRuntime(scenario: Scenario, options: SimulationOptions = {}): Promise<LocalRuntime> {
  const wallStart = performance.now();
  if (options.bundles && JSON.stringify(options.bundles.config) !== JSON.stringify(scenario.config)) {
    throw new Error(`the bundles were synthesized for another config than scenario '${scenario.name}' uses`);
  }
  const template = options.bundles ? structuredClone(options.bundles.template) : synthesizeTemplate(scenario.config);
  const db = options.dynamoEndpoint ? null : await startDynamoDbLocal();
  let simulation: Simulation | undefined;
  try {
    simulation = new Simulation(scenario, template, options.dynamoEndpoint ?? db!.endpoint, options);
    await simulation.prepare();
    const opened = simulation;
    return {
      deps: opened.deps,
      fleet: opened.fleet,
      bundleHost: opened.bundleHost,
      run: () => opened.run(wallStart),
      drive: (work) => opened.drive(work),
      close: async () => {
        await opened.bundleHost?.close();
        await db?.stop();
      },
    };
  } catch (error) {
    await simulation?.bundleHost?.close();
    await db?.stop();
    throw error;
  }
}

class Simulation {
  private readonly clock = new VirtualClock(SIMULATION_EPOCH);
  private readonly time = new VirtualTime(this.clock);
  readonly fleet: SimulatedFleet;
  private readonly metrics = new CapturedMetrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
  private readonly routes;
  private pendingTriggers = 0;
  private readonly tokens = new TaskTokens(this.time);
  /** The last answer of fleet.pendingAlarmChange(), by virtual time and API calls made (nothing else changes the metrics). */
  private alarmsQuiet = { key: '', pending: null as string | null };
  private intakeInFlight = 0;
  /** Event deliveries to the callback Lambda under way. */
  private callbacksInFlight = 0;
  /** Flows started with wrapTask's `background`, still running. */
  private backgroundFlows = 0;
  /** How many executions had started when onQuiet last ran. */
  private executionsAtLastQuiet = 0;
  private eventSeq = 0;
  private routedEventCount = 0;
  /**
   * Starts that did not make a new execution: refused (ExecutionAlreadyExists, intake says
   * 'deduplicated'), or collapsed onto the running execution of the same name and input, which
   * AWS answers as a success, so intake counts it as started.
   */
  private readonly dedupedStarts: Array<{ incidentId: string; at: Date; how: 'refused' | 'collapsed' }> = [];
  private readonly startsByIncident = new Map<string, number>();
  deps!: Deps;
  private tables!: { state: string; claims: string; records: string; tokens: string };
  /** Table logical id → its name in DynamoDB Local. */
  private tableNames: Record<string, string> = {};
  bundleHost: BundleHost | undefined;
  private intake!: TaskHandler;
  /** The callback Lambda (logical id, handler), when the template has one. */
  private callback: { logicalId: string; handler: TaskHandler; async: AsyncInvokeConfig } | undefined;
  /** How Lambda invokes intake asynchronously: the template's EventInvokeConfig (or Lambda's defaults). */
  private intakeAsync!: AsyncInvokeConfig;
  private sfn!: LocalStepFunctions;
  /** The control plane's Lambda functions (the steps and intake): cold and warm starts. */
  private readonly environments: LambdaEnvironments;

  constructor(
    private readonly scenario: Scenario,
    private readonly template: CfnTemplate,
    private readonly dynamoEndpoint: string,
    private readonly options: SimulationOptions,
  ) {
    this.fleet = new SimulatedFleet({ clock: this.clock, latency: scenario.latency as LatencyOverrides, spendLatency: this.time.sleep, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
    this.routes = ruleRoutes(template);
    this.environments = new LambdaEnvironments(this.fleet.latency.lambda);
  }

  private get config(): Config {
    return this.scenario.config;
  }

  private progress(kind: ProgressEvent['kind'], text: string, extra: Partial<ProgressEvent> = {}): void {
    this.options.onProgress?.({ at: this.clock.now(), kind, text, ...extra });
  }

  /** Tables, clients, fleet and the state machine, ready; nothing has happened yet. */
  async prepare(): Promise<void> {
    this.tables = await this.createTables();
    this.deployConfigDocument();
    this.deps = await this.buildDeps(this.tables);
    buildFleet(this.fleet, this.scenario);
    defineTemplateQueues(this.fleet, this.template);
    defineTemplateAlarms(this.fleet, this.template);
    deployTemplateCustomResources(this.fleet, this.template);
    await this.seedApplicationState(this.tables.state);

    const { definition, functionArns } = extractStateMachine(this.template);
    const bundles = this.options.bundles;
    if (bundles) {
      this.bundleHost = new BundleHost({
        bundles,
        fleet: this.fleet,
        stepFunctions: () => this.sfn,
        clock: this.clock,
        dynamoEndpoint: this.dynamoEndpoint,
        tableNames: this.tableNames,
        credentials: LOCAL_CLIENT_CONFIG.credentials,
        onMetrics: (emf) => this.metrics.add(emf),
      });
      await this.bundleHost.start();
    }
    const handlers: Record<string, TaskHandler> = {};
    for (const [stateName, state] of Object.entries(definition.States as Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }>)) {
      if (state.Type !== 'Task') continue;
      // A Lambda ARN as the resource, or the lambda:invoke integration naming it in FunctionName.
      const logicalId = functionArns.get(state.Resource ?? '') ?? functionArns.get(state.Parameters?.FunctionName ?? '') ?? '';
      const step = this.stepOf(logicalId);
      const handler = this.bundleHost ? this.bundleHost.handler(logicalId) : (await loadHandler(step))(this.deps);
      handlers[stateName] = this.options.wrapTask
        ? this.options.wrapTask(handler, { state: stateName, step, background: (work) => this.background(work), sleep: this.time.sleep, now: this.time.now })
        : handler;
    }
    const runner = new WorkflowRunner({
      definition,
      handlers,
      now: this.time.now,
      sleep: this.time.sleep,
      environments: this.environments,
      stateTransitionMs: this.fleet.latency.stepFunctions.stateTransitionMs,
      taskTokens: this.tokens,
      onTask: (task) => this.progress('task', `${task.state} ${task.phase}${task.error ? ` (${task.error})` : ''}`, { execution: task.execution, task }),
    });
    this.sfn = new LocalStepFunctions(runner, this.time, this.tokens);
    attachLocalStepFunctions(this.deps.sfn, this.sfn);
    // What Lambda runs for intake (malformed events answered, not thrown), as in AWS.
    const intakeModule = (await import('../../functions/handlers/intake.ts')) as { makeLambdaHandler: (deps: Deps) => TaskHandler };
    this.intake = this.bundleHost ? this.bundleHost.handler(this.functionOf('intake')) : intakeModule.makeLambdaHandler(this.deps);
    this.intakeAsync = asyncInvokeConfig(this.template, this.functionOf('intake'));
    const callbackId = this.findFunction('callback');
    if (callbackId) {
      const handler = this.bundleHost ? this.bundleHost.handler(callbackId) : (await loadHandler('callback'))(this.deps);
      this.callback = {
        logicalId: callbackId,
        // Wrapped like a task (the reliability harness faults it too).
        handler: this.options.wrapTask
          ? this.options.wrapTask(handler, { state: CALLBACK_DELIVERY, step: 'callback', background: (work) => this.background(work), sleep: this.time.sleep, now: this.time.now })
          : handler,
        async: asyncInvokeConfig(this.template, callbackId),
      };
    }
    const intakeId = this.functionOf('intake');
    for (const route of this.routes) {
      for (const fn of route.functions) {
        if (fn !== intakeId && fn !== callbackId) throw new Error(`an EventBridge rule targets function ${fn}, which the local runtime does not deliver to (only intake and the callback)`);
      }
    }
  }

  async drive<T>(work: (deps: Deps) => Promise<T>): Promise<T> {
    let done = false;
    const result = this.time.flow(() => work(this.deps)).finally(() => (done = true));
    await this.time.run(() => done, Number.POSITIVE_INFINITY);
    return result;
  }

  async run(wallStart: number): Promise<SimulationResult> {
    await this.options.beforeRun?.({ fleet: this.fleet, deps: this.deps, stepFunctions: this.sfn, sleep: this.time.sleep });
    // EC2 and SSM put their events on the bus as things happen; the stack's rules route them.
    this.fleet.onServiceEvent((event) => this.publish(event));
    this.scheduleTimeline();
    // CloudWatch evaluates the stack's alarms from here on; its events go through the stack's rules.
    this.fleet.startAlarmEvaluation((event) => this.publish(this.busEvent('aws.cloudwatch', event.detailType, event.resources, event.detail)));
    const lastEventAt = Math.max(0, ...this.scenario.timeline.map((e) => e.at));
    const until = SIMULATION_EPOCH.getTime() + (lastEventAt + this.scenario.runForSeconds) * 1000;
    for (;;) {
      await this.time.run(() => this.settled() || this.quietCheckpointDue(), until);
      if (!this.quietCheckpointDue()) break;
      this.executionsAtLastQuiet = this.sfn.executions.size;
      await this.options.onQuiet!({ at: this.clock.now(), deps: this.deps, fleet: this.fleet, report: () => this.reportSoFar(wallStart) });
    }
    this.options.onSettled?.();
    // An execution still running at the deadline is reported as such, never given an outcome it did not reach.
    const results = [...this.sfn.executions.values()].map((e) => e.result ?? stillRunning(e.name, e.startedAt, this.clock.now()));
    return this.report(results, this.tables, wallStart);
  }

  /** Nothing left to happen: no trigger due, no intake or execution running, and no alarm that would still change state. */
  private settled(): boolean {
    this.routeServiceEvents();
    if (this.pendingTriggers !== 0 || !this.idle()) return false;
    return this.alarmsSettled();
  }

  /** No intake, callback delivery, execution or background flow running. */
  private idle(): boolean {
    return this.intakeInFlight === 0 && this.callbacksInFlight === 0 && this.sfn.running() === 0 && this.backgroundFlows === 0;
  }

  private alarmsSettled(): boolean {
    const key = `${this.clock.nowMs()}|${this.fleet.callCounts().total}`;
    if (this.alarmsQuiet.key !== key) this.alarmsQuiet = { key, pending: this.fleet.pendingAlarmChange() };
    return this.alarmsQuiet.pending === null;
  }

  /** onQuiet is due: executions ran since the last checkpoint, all have ended, and timeline events are still to come. */
  private quietCheckpointDue(): boolean {
    if (!this.options.onQuiet || this.pendingTriggers === 0 || this.sfn.executions.size === this.executionsAtLastQuiet) return false;
    this.routeServiceEvents();
    return this.idle() && this.alarmsSettled();
  }

  /** Work that goes on beside the executions (a Lambda Step Functions gave up on): the run waits for it. */
  private background<T>(work: () => Promise<T>): Promise<T> {
    this.backgroundFlows++;
    return this.time.flow(work).finally(() => this.backgroundFlows--);
  }

  /** The report of the executions that have ended so far. */
  private async reportSoFar(wallStart: number): Promise<SimulationResult> {
    const results = [...this.sfn.executions.values()].flatMap((e) => (e.result ? [e.result] : []));
    return this.report(results, this.tables, wallStart);
  }

  private async createTables() {
    const raw = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: this.dynamoEndpoint });
    // Unique names, so runs can share one DynamoDB Local: per process, per thread (vitest's
    // thread pool runs several files in one process), per run.
    const run = `${process.pid}-${threadId}-${++runSeq}`;
    const names = await createTablesFromTemplate(raw, this.template, { nameFor: (logicalId) => `${logicalId}-${run}` });
    raw.destroy();
    this.tableNames = names;
    // The step Lambdas' environment names the tables by Ref: resolve through the created names.
    const env = this.stepEnvironment();
    const table = (variable: string) => {
      const ref = (env[variable] as { Ref?: string } | undefined)?.Ref;
      const name = ref ? names[ref] : undefined;
      if (!name) throw new Error(`the template's ${variable} does not name a table`);
      return name;
    };
    const callback = this.findFunction('callback');
    const callbackEnv = callback ? (this.template.Resources[callback]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables : undefined;
    const tokensRef = (callbackEnv?.[EnvNames.TokensTable] as { Ref?: string } | undefined)?.Ref;
    return {
      state: table(EnvNames.StateTable),
      claims: table(EnvNames.ClaimsTable),
      records: table(EnvNames.RecordsTable),
      tokens: (tokensRef ? names[tokensRef] : undefined) ?? '',
    };
  }

  private stepEnvironment(): Record<string, unknown> {
    const fn = Object.values(this.template.Resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && (r.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables?.[EnvNames.Step] === 'lock',
    );
    const variables = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
    if (!variables) throw new Error('the template has no lock step function');
    return variables;
  }

  /** The stack's name, as the template gives it to its functions (their alarm names and metrics follow it). */
  private stackName(): string {
    const name = this.stepEnvironment()[EnvNames.StackName];
    if (typeof name !== 'string') throw new Error(`the template's functions have no ${EnvNames.StackName}`);
    return name;
  }

  /** The logical id of the template's function that runs `step`. */
  private functionOf(step: string): string {
    const found = this.findFunction(step);
    if (!found) throw new Error(`the template has no ${step} function`);
    return found;
  }

  private findFunction(step: string): string | undefined {
    return Object.entries(this.template.Resources).find(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.[EnvNames.Step] === step,
    )?.[0];
  }

  private stepOf(logicalId: string): string {
    const variables = (this.template.Resources[logicalId]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
    const step = variables?.[EnvNames.Step];
    if (typeof step !== 'string') throw new Error(`template function ${logicalId} does not say which step it runs`);
    return step;
  }

  /** The config's location in the functions' environment, as deployed here. */
  private configLocation(): Record<string, string> {
    const variables = this.stepEnvironment();
    const location: Record<string, string> = {};
    for (const name of [EnvNames.ConfigBucket, EnvNames.ConfigKey]) {
      const value = resolveTemplateValue(variables[name], this.template);
      if (typeof value !== 'string') throw new Error(`the template's lock step has no ${name}`);
      location[name] = value;
    }
    return location;
  }

  /**
   * What `cdk deploy` uploads before the stack: the config document, where the functions'
   * environment says it is. With bundles, the assembly's own asset file; else the document lib/
   * writes for this config.
   */
  private deployConfigDocument(): void {
    const location = this.configLocation();
    const key = location[EnvNames.ConfigKey]!;
    const document = this.options.bundles ? this.options.bundles.assetText(key) : configDocument(this.config);
    this.fleet.putObject(location[EnvNames.ConfigBucket]!, key, document);
  }

  private async buildDeps(tables: { state: string; claims: string; records: string; tokens: string }): Promise<Deps> {
    const client = { region: LOCAL_REGION, credentials: LOCAL_CLIENT_CONFIG.credentials };
    // As each function does at cold start (functions/deps.ts): GetObject of the config document
    // through the SDK's S3 client. Answered at once and not counted: Init is modelled as a whole
    // by the latency model's lambda.coldStartMs (bundles, whose workers read it themselves, count it).
    const s3 = attachFleet(new S3Client(client), this.fleet, { immediate: true });
    const config = await readDeployedConfig(s3, this.configLocation());
    s3.destroy();
    const env = readEnvironment(
      {
        [EnvNames.StateTable]: tables.state,
        [EnvNames.ClaimsTable]: tables.claims,
        [EnvNames.RecordsTable]: tables.records,
        ...(tables.tokens ? { [EnvNames.TokensTable]: tables.tokens } : {}),
        [EnvNames.AlertTopicArn]: `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rapid-failover-alerts`,
        [EnvNames.EventBusName]: 'default',
        [EnvNames.StateMachineArn]: LOCAL_STATE_MACHINE_ARN,
        [EnvNames.StackName]: this.stackName(),
      },
      config,
    );
    return buildDeps({
      client,
      dynamoEndpoint: this.dynamoEndpoint,
      transport: (c) => attachFleet(c as never, this.fleet),
      clock: this.time.now,
      env,
      logger: new Logger({ serviceName: METRICS_SERVICE, logLevel: 'SILENT' }),
      metrics: this.metrics,
    });
  }

  /** Where each application runs when the scenario starts: what the control plane would have recorded. */
  private async seedApplicationState(table: string): Promise<void> {
    for (const instance of this.scenario.fleet.instances) {
      for (const app of instance.runs) {
        await updateAppState(this.deps.ddb, table, app, { set: { currentNode: instance.id, offline: false, updatedAt: SIMULATION_EPOCH.toISOString() } });
      }
    }
  }

  // ---- triggers -------------------------------------------------------------------------------

  private scheduleTimeline(): void {
    for (const event of this.scenario.timeline) {
      this.later(event.at * 1000, () => this.apply(event));
    }
  }

  /** Runs `fn` after `ms` of virtual time; the run is not settled until it has. */
  private later(ms: number, fn: () => void): void {
    this.pendingTriggers++;
    this.clock.after(ms, () => {
      this.pendingTriggers--;
      fn();
    });
  }

  private apply(event: TimelineEvent): void {
    this.progress('trigger', describeTimelineEvent(event));
    switch (event.event) {
      case 'performance-degraded': {
        // A10: only the metric changes; the alarm decides from its datapoints (M of N).
        const app = this.app(event.app);
        for (const node of [...this.nodesOf(app.name), ...event.alsoOn]) this.fleet.setPerformance(app.name, node, event.value);
        return;
      }
      case 'performance-recovered':
        this.fleet.clearPerformance(event.app);
        return;
      case 'instance-failed':
        // A11: StatusCheckFailed reads 1 from now on; the status-check alarm decides.
        this.fleet.failInstance(event.node);
        return;
      case 'instance-stopped':
        // EC2 emits stopping now and stopped when it is (the fleet's state-change events).
        this.fleet.stopInstance(event.node);
        return;
      case 'health-check-failing':
        // A11: the target turns unhealthy after its failed checks; UnHealthyHostCount and the target-health alarm follow.
        this.fleet.faults.healthChecksFail(event.node);
        return;
      case 'provisioning-fails':
        if (event.how === 'root-volume-fails') this.fleet.faults.rootVolumeFails(event.node);
        else if (event.how === 'start-fails') this.fleet.faults.instanceWontStart(event.node);
        else if (event.how === 'command-hangs') this.fleet.faults.commandFails(event.node, { mode: 'hang', times: 1 });
        else this.fleet.faults.commandFails(event.node, { mode: 'fail' });
        return;
      case 'stuck-stopping':
        this.fleet.faults.instanceStuckStopping(event.node, { forceStopWorks: event.forceStopWorks });
        return;
      case 'stop-refused':
        this.fleet.faults.stopRefused(event.node, event.error);
        return;
      case 'start-refused':
        this.fleet.faults.startRefused(event.node, event.error);
        return;
      case 'switchover':
      case 'drill':
        this.publish(
          this.busEvent('rapid-failover.operator', event.event === 'switchover' ? 'Switchover Requested' : 'Drill Requested', [], {
            app: event.app,
            ...(event.event === 'switchover' && event.to ? { toNode: event.to } : {}),
            requestedBy: event.requestedBy,
          }),
        );
        return;
      case 'alarm-flapping': {
        const app = this.app(event.app);
        for (let i = 0; i < event.times; i++) {
          this.later(i * event.intervalSeconds * 1000, () => this.raiseAlarm(app, 'performance', `flap ${i + 1} of ${event.times}`));
        }
        return;
      }
      case 'duplicate-alarm': {
        const alarm = this.alarmEvent(this.app(event.app), 'performance', 'delivered more than once');
        for (let i = 0; i < event.times; i++) this.publish(alarm);
        return;
      }
    }
  }

  private app(name: string): Application {
    const app = this.config.applications.find((a) => a.name === name);
    if (!app) throw new Error(`unknown application ${name}`);
    return app;
  }

  /** Nodes where the application runs now (the fleet knows; the state table agrees after each failover). */
  private nodesOf(app: string): string[] {
    return this.fleet.snapshot().apps[app] ?? [];
  }

  /** An injected ALARM transition of the application's performance alarm (flapping, duplicates): not evaluated. */
  private raiseAlarm(app: Application, kind: 'performance', reason: string): void {
    this.publish(this.alarmEvent(app, kind, reason));
  }

  private alarmEvent(app: Application, kind: 'performance', reason: string): BusEvent {
    const name = stackAlarmNames(this.stackName()).performance(app.name);
    const arn = `arn:aws:cloudwatch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alarm:${name}`;
    return this.busEvent('aws.cloudwatch', 'CloudWatch Alarm State Change', [arn], {
      alarmName: name,
      state: { value: 'ALARM', reason, timestamp: this.clock.now().toISOString() },
      previousState: { value: 'OK', timestamp: SIMULATION_EPOCH.toISOString() },
    });
  }

  private busEvent(source: string, detailType: string, resources: string[], detail: Record<string, unknown>): BusEvent {
    return {
      version: '0',
      id: `local-${String(++this.eventSeq).padStart(6, '0')}`,
      source,
      'detail-type': detailType,
      time: this.clock.now().toISOString(),
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      resources,
      detail,
    };
  }

  /**
   * EventBridge: an event reaches a function only if a rule of the stack matches it (once per
   * matching rule and target), after the bus's delivery latency: intake, or the callback Lambda.
   */
  private publish(event: BusEvent): void {
    const targets = deliveries(this.routes, event);
    if (targets.length === 0) {
      // CloudWatch sends every state change (OK, INSUFFICIENT_DATA, other alarms), EC2 and SSM every status: not worth a line each.
      if (!['aws.cloudwatch', 'aws.ec2', 'aws.ssm'].includes(event.source)) this.progress('intake', `event ${event.source} / ${event['detail-type']} matches no rule`);
      return;
    }
    for (const target of targets) {
      if (target === this.callback?.logicalId) this.deliverToCallback(event);
      else this.deliverToIntake(event);
    }
  }

  /**
   * EventBridge invokes the callback asynchronously too: a failed invocation is retried by
   * Lambda as for intake (two more attempts, a minute and two minutes later, unless the template's
   * EventInvokeConfig says otherwise); one that fails them all is dropped, and the waiting step
   * looks for itself when its wait times out.
   */
  private deliverToCallback(event: BusEvent): void {
    const callback = this.callback!;
    this.callbacksInFlight++;
    void this.time
      .flow(async () => {
        await this.time.sleep(this.fleet.latency.eventBridge.deliveryMs);
        const queuedAt = this.clock.nowMs();
        for (let attempt = 1; ; attempt++) {
          try {
            const result = (await this.environments.invoke(localFunctionArn(callback.logicalId), this.time.sleep, () => callback.handler(event))) as { key: string; outcome: string };
            this.progress('callback', `${event['detail-type']}: ${result.key} ${result.outcome}`);
            return;
          } catch (thrown) {
            const error = thrown instanceof Error ? thrown : new Error(String(thrown));
            this.fleet.recordMetric('AWS/Lambda', 'Errors', { FunctionName: callback.async.functionName }, 1);
            const delay = ASYNC_RETRY_DELAYS_MS[attempt - 1];
            const expired = delay === undefined || this.clock.nowMs() + delay - queuedAt > callback.async.maximumEventAgeSeconds * 1000;
            if (attempt > callback.async.maximumRetryAttempts || expired) {
              this.progress('callback', `callback failed on the event (attempt ${attempt}, ${error.name}: ${error.message}); Lambda drops it`);
              return;
            }
            this.progress('callback', `callback failed on the event (attempt ${attempt}, ${error.name}: ${error.message}); Lambda retries in ${delay / 1000} s`);
            await this.time.sleep(delay);
          }
        }
      })
      .catch((error: Error) => this.progress('callback', `the event was lost by the simulation itself: ${error.name}: ${error.message}`))
      .finally(() => this.callbacksInFlight--);
  }

  private deliverToIntake(event: BusEvent): void {
    this.intakeInFlight++;
    void this.time
      .flow(async () => {
        await this.time.sleep(this.fleet.latency.eventBridge.deliveryMs);
        await this.invokeIntakeAsynchronously(event);
      })
      .catch((error: Error) => this.progress('intake', `the event was lost by the simulation itself: ${error.name}: ${error.message}`))
      .finally(() => this.intakeInFlight--);
  }

  /**
   * EventBridge invokes intake asynchronously, and Lambda handles its errors: "If the function
   * returns an error, by default Lambda attempts to run it two more times, with a one-minute wait
   * between the first two attempts, and two minutes between the second and third attempts"
   * ("How Lambda handles errors and retries with asynchronous invocation", Lambda Developer Guide),
   * fewer if the template's EventInvokeConfig says so, and not past its maximum event age. Each
   * failed attempt counts in AWS/Lambda Errors. An event that fails every attempt goes to the
   * on-failure destination as an invocation record ("Capturing records of Lambda asynchronous
   * invocations"); without a destination Lambda discards it.
   */
  private async invokeIntakeAsynchronously(event: BusEvent): Promise<void> {
    const config = this.intakeAsync;
    const queuedAt = this.clock.nowMs();
    for (let attempt = 1; ; attempt++) {
      try {
        const result = (await this.environments.invoke('intake', this.time.sleep, () => this.intake(event))) as {
          started: string[];
          deduplicated: string[];
          ignored: string[];
          rejected?: string[];
        };
        for (const id of result.deduplicated) this.dedupedStarts.push({ incidentId: id, at: this.clock.now(), how: 'refused' });
        for (const id of result.started) {
          const starts = (this.startsByIncident.get(id) ?? 0) + 1;
          this.startsByIncident.set(id, starts);
          if (starts > 1) this.dedupedStarts.push({ incidentId: id, at: this.clock.now(), how: 'collapsed' });
        }
        for (const reason of result.rejected ?? []) this.progress('intake', `intake rejected a malformed event (logged, not retried): ${reason}`);
        if (!result.rejected?.length) {
          this.progress('intake', `${event['detail-type']}: started ${result.started.length}, deduplicated ${result.deduplicated.length}, ignored ${result.ignored.length}`, {
            delivery: { source: event.source, detailType: event['detail-type'], ...result },
          });
        }
        return;
      } catch (thrown) {
        const error = thrown instanceof Error ? thrown : new Error(String(thrown));
        this.fleet.recordMetric('AWS/Lambda', 'Errors', { FunctionName: config.functionName }, 1);
        const delay = ASYNC_RETRY_DELAYS_MS[attempt - 1];
        const expired = delay === undefined || this.clock.nowMs() + delay - queuedAt > config.maximumEventAgeSeconds * 1000;
        if (attempt > config.maximumRetryAttempts || expired) {
          this.progress('intake', `intake failed on the event (attempt ${attempt}, ${error.name}: ${error.message}); ${this.onAsyncFailure(event, error, attempt, attempt > config.maximumRetryAttempts ? 'RetriesExhausted' : 'EventAgeExceeded')}`);
          return;
        }
        this.progress('intake', `intake failed on the event (attempt ${attempt}, ${error.name}: ${error.message}); Lambda retries in ${delay / 1000} s`);
        await this.time.sleep(delay);
      }
    }
  }

  /** The invocation record to the on-failure destination; what happened, for the progress line. */
  private onAsyncFailure(event: BusEvent, error: Error, attempts: number, condition: 'RetriesExhausted' | 'EventAgeExceeded'): string {
    const destination = this.intakeAsync.onFailure;
    if (!destination) return 'no on-failure destination: Lambda discards the event';
    const record = {
      version: '1.0',
      timestamp: this.clock.now().toISOString(),
      requestContext: { requestId: randomUUID(), functionArn: `${localFunctionArn(this.intakeAsync.functionName)}:$LATEST`, condition, approximateInvokeCount: attempts },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: error.name, errorMessage: error.message },
    };
    this.fleet.sendToQueue(destination, JSON.stringify(record));
    return `the event and the error are in the on-failure destination ${destination.split(':').at(-1)}`;
  }

  /** Events the workflow itself puts (Service Up/Down) go through the same rules. */
  private routeServiceEvents(): void {
    if (this.fleet.eventCount() === this.routedEventCount) return;
    const events = this.fleet.events();
    for (const event of events.slice(this.routedEventCount)) {
      this.publish({
        version: '0',
        id: event.eventId,
        source: event.source,
        'detail-type': event.detailType,
        time: event.at,
        region: LOCAL_REGION,
        account: LOCAL_ACCOUNT,
        resources: event.resources,
        detail: event.detail as Record<string, unknown>,
      });
    }
    this.routedEventCount = events.length;
  }

  // ---- the report -----------------------------------------------------------------------------

  private async report(results: ExecutionResult[], tables: { state: string; claims: string; records: string }, wallStart: number): Promise<SimulationResult> {
    const incidents: IncidentReport[] = [];
    for (const result of results) incidents.push(await this.incidentReport(result, tables.records));
    for (const dup of this.dedupedStarts) {
      const original = incidents.find((i) => i.incidentId === dup.incidentId);
      incidents.push({
        incidentId: dup.incidentId,
        app: original?.app ?? dup.incidentId,
        trigger: original?.trigger ?? 'failure',
        triggerSource: original?.triggerSource ?? '',
        observedAt: original?.observedAt ?? null,
        outcome: 'deduplicated',
        fromNode: null,
        toNode: null,
        attempts: 0,
        alerts: [],
        steps: [],
        rtoSeconds: null,
        explanation: [
          dup.how === 'refused'
            ? `the same event was delivered again at ${dup.at.toISOString()}; Step Functions refused a second execution named ${dup.incidentId}`
            : `the same event was delivered again at ${dup.at.toISOString()}, while execution ${dup.incidentId} ran; Step Functions answered with that execution instead of starting another`,
        ],
      });
    }
    incidents.sort((a, b) => a.incidentId.localeCompare(b.incidentId));
    const unexpected = [
      ...incidents
        .filter((i) => this.scenario.expect[i.app] && !this.scenario.expect[i.app]!.includes(i.outcome))
        .map((i) => `${i.app}: ${i.outcome} (${i.incidentId}); expected ${this.scenario.expect[i.app]!.join(' or ')}`),
      // An expectation nothing tested is not met either.
      ...Object.entries(this.scenario.expect)
        .filter(([app]) => !incidents.some((i) => i.app === app))
        .map(([app, outcomes]) => `${app}: no incident; expected ${outcomes.join(' or ')}`),
    ];
    const published = this.fleet.published();
    const { targetGroups, elasticIps, secondaryIps } = this.fleet.snapshot();
    return {
      scenario: this.scenario.name,
      incidents,
      fleet: await this.fleetReport(tables.claims, tables.state),
      notifications: published.map((m: PublishedMessage) => ({ at: m.at, subject: m.subject ?? '', message: m.message })),
      serviceEvents: this.fleet.events().map((e) => ({ at: e.at, detailType: e.detailType, detail: e.detail })),
      network: { targetGroups, elasticIps, secondaryIps },
      unexpected,
      locksHeld: await this.locksHeld(tables.state),
      metrics: { ...this.metrics.totals },
      virtualSeconds: (this.clock.nowMs() - SIMULATION_EPOCH.getTime()) / 1000,
      wallMs: Math.round(performance.now() - wallStart),
      apiCalls: this.fleet.callCounts(),
    };
  }

  private async incidentReport(result: ExecutionResult, recordsTable: string): Promise<IncidentReport> {
    const input = JSON.parse(this.sfn.executions.get(result.name)!.input) as { incidentId: string; app: string; trigger: { kind: TriggerKind; source: string; observedAt: string } };
    const record = (await getRecord(this.deps.ddb, recordsTable, { app: input.app, incidentId: input.incidentId })) as Record<string, unknown> | null;
    const output = (result.output ?? {}) as { outcome?: Outcome; attempt?: number; alerts?: Array<{ subject: string }>; explanation?: string[] };
    const running = result.error?.Error === STILL_RUNNING;
    const outcome: Outcome = running ? 'running' : ((record?.outcome as Outcome | undefined) ?? output.outcome ?? (result.status === 'FAILED' ? 'alerted' : 'stayed'));
    return {
      incidentId: input.incidentId,
      app: input.app,
      trigger: input.trigger.kind,
      triggerSource: input.trigger.source,
      observedAt: input.trigger.observedAt,
      outcome,
      fromNode: (record?.fromNode as string | undefined) ?? null,
      toNode: (record?.toNode as string | undefined) ?? null,
      attempts: (record?.attempts as number | undefined) ?? output.attempt ?? 0,
      alerts: ((record?.alerts as Array<{ subject: string }> | undefined) ?? output.alerts ?? []).map((a) => a.subject),
      steps: result.steps.map((s) => ({ name: s.state, startedAt: s.startedAt.toISOString(), endedAt: s.endedAt.toISOString() })),
      rtoSeconds: typeof record?.rtoSeconds === 'number' ? record.rtoSeconds : null,
      explanation: (record?.explanation as string[] | undefined) ?? output.explanation ?? [],
    };
  }

  private async fleetReport(claimsTable: string, stateTable: string): Promise<NodeReport[]> {
    const claims = await scanClaims(this.deps.ddb, claimsTable);
    const states = await getAppStates(this.deps.ddb, stateTable, this.config.applications.map((a) => a.name));
    const snapshot = this.fleet.snapshot();
    return snapshot.instances.map((instance) => {
      const holders = claims.get(instance.instanceId)?.holders ?? [];
      const applications = Object.entries(snapshot.apps)
        .filter(([, nodes]) => nodes.includes(instance.instanceId))
        .map(([app]) => app);
      const assignedTo = this.config.applications.filter((app) => whereRuns(app, states.get(app.name)) === instance.instanceId).map((app) => app.name);
      // A claim whose lease has expired (a crashed execution's) no longer holds the node: select takes it.
      const nowSeconds = Math.floor(this.clock.nowMs() / 1000);
      const roles = holders.filter((h) => h.role !== 'claimed' || h.leaseExpiresAt >= nowSeconds).map((h) => h.role);
      const role: NodeReport['role'] =
        roles.includes('quarantined') ? 'quarantined'
        : roles.includes('retained') ? 'retained'
        : roles.includes('claimed') ? 'claimed'
        : roles.includes('preempted') ? 'preempted'
        : roles.includes('serving') || applications.length > 0 || assignedTo.length > 0 ? 'serving'
        : 'free';
      return {
        id: instance.instanceId,
        type: instance.instanceType,
        state: instance.state,
        role,
        applications,
        assignedTo,
        lease: holders.map((h) => ({
          holder: h.holder,
          role: h.role,
          incidentId: h.incidentId,
          expiresAt: h.leaseExpiresAt >= 253_402_300_000 ? null : new Date(h.leaseExpiresAt * 1000).toISOString(),
          ...(h.reason ? { reason: h.reason } : {}),
        })),
      };
    });
  }

  private async locksHeld(stateTable: string): Promise<string[]> {
    const nowSeconds = Math.floor(this.clock.nowMs() / 1000);
    const states = await getAppStates(this.deps.ddb, stateTable, this.config.applications.map((a) => a.name));
    return [...states.values()].filter((s) => s.lockIncident && (s.lockExpiresAt ?? 0) > nowSeconds).map((s) => `${s.app}: ${s.lockIncident}`);
  }
}

/** The error of an execution still running when the scenario's time ran out. */
const STILL_RUNNING = 'SimulationEnded';

function stillRunning(name: string, startedAt: Date, now: Date): ExecutionResult {
  return { name, status: 'FAILED', output: null, error: { Error: STILL_RUNNING, Cause: 'still running when the scenario ended' }, startedAt, endedAt: now, steps: [], path: [] };
}


export function describeTimelineEvent(event: TimelineEvent): string {
  switch (event.event) {
    case 'performance-degraded':
      return `${event.app} performance degrades to ${event.value}`;
    case 'performance-recovered':
      return `${event.app} performance recovers`;
    case 'instance-failed':
      return `instance ${event.node} fails`;
    case 'instance-stopped':
      return `instance ${event.node} is stopped`;
    case 'health-check-failing':
      return `health checks fail on ${event.node}`;
    case 'provisioning-fails':
      return `provisioning will fail on ${event.node} (${event.how})`;
    case 'stuck-stopping':
      return `a stop of ${event.node} will hang in 'stopping'${event.forceStopWorks ? ' until a force stop' : ', even a force stop'}`;
    case 'stop-refused':
      return `StopInstances of ${event.node} will be refused (${event.error})`;
    case 'start-refused':
      return `StartInstances of ${event.node} will be refused (${event.error})`;
    case 'switchover':
      return `operator switches ${event.app} over${event.to ? ` to ${event.to}` : ''}`;
    case 'drill':
      return `operator drill for ${event.app}`;
    case 'alarm-flapping':
      return `${event.app} alarm flaps ${event.times} times`;
    case 'duplicate-alarm':
      return `${event.app} alarm delivered ${event.times} times`;
  }
}

/** Lambda's waits before the retries of a failed asynchronous invocation (see invokeIntakeAsynchronously). */
const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];

interface AsyncInvokeConfig {
  functionName: string;
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  /** The queue ARN of the on-failure destination. */
  onFailure?: string;
}

/**
 * The function's AWS::Lambda::EventInvokeConfig, or Lambda's defaults without one: two retries,
 * events kept up to six hours ("Configuring error handling settings for Lambda asynchronous
 * invocations", Lambda Developer Guide: retry attempts 0 to 2, maximum age up to 6 hours).
 */
function asyncInvokeConfig(template: CfnTemplate, functionLogicalId: string): AsyncInvokeConfig {
  const found = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && (r.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref === functionLogicalId,
  );
  const p = found?.Properties as { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number; DestinationConfig?: { OnFailure?: { Destination?: unknown } } } | undefined;
  const destination = p?.DestinationConfig?.OnFailure?.Destination;
  const onFailure = destination === undefined ? undefined : resolveTemplateValue(destination, template);
  if (onFailure !== undefined && (typeof onFailure !== 'string' || !onFailure.startsWith('arn:aws:sqs:'))) {
    throw new Error(`${functionLogicalId}: only an SQS queue of the template is simulated as an on-failure destination (got ${JSON.stringify(destination)})`);
  }
  return {
    functionName: functionLogicalId,
    maximumRetryAttempts: p?.MaximumRetryAttempts ?? 2,
    maximumEventAgeSeconds: p?.MaximumEventAgeInSeconds ?? 21_600,
    ...(typeof onFailure === 'string' ? { onFailure } : {}),
  };
}

/** The stack's SQS queues, named by their logical ids (as resolveTemplateValue names them). */
function defineTemplateQueues(fleet: SimulatedFleet, template: CfnTemplate): void {
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::SQS::Queue') fleet.defineQueue(logicalId, localQueueArn(logicalId));
  }
}

/** The alarms the stack deploys, as CloudWatch would hold them (a Metrics Insights alarm by its query), with their SNS actions. */
function defineTemplateAlarms(fleet: SimulatedFleet, template: CfnTemplate): void {
  defineTopicPolicies(fleet, template);
  for (const resource of Object.values(template.Resources)) {
    const p = resource.Properties as Record<string, unknown> | undefined;
    if (resource.Type !== 'AWS::CloudWatch::Alarm' || typeof p?.AlarmName !== 'string') continue;
    // Refs and GetAtts of the stack's own resources (a function, a queue) name them as the local runtime does.
    const dimensions = (resolveTemplateValue(p.Dimensions ?? [], template) as Array<{ Name: string; Value: unknown }>);
    const metrics = (p.Metrics as Array<{ Expression?: unknown; Period?: number; ReturnData?: boolean }> | undefined) ?? [];
    const insights = metrics.find((m) => typeof m.Expression === 'string' && m.ReturnData !== false);
    if (metrics.length > 0 && (!insights || metrics.length > 1)) throw new Error(`alarm ${p.AlarmName}: only Metrics Insights alarms with one query are simulated`);
    fleet.defineAlarm({
      name: p.AlarmName,
      ...(p.AlarmDescription !== undefined ? { description: String(resolveTemplateValue(p.AlarmDescription, template)) } : {}),
      ...(insights ? { query: insights.Expression as string } : {}),
      namespace: p.Namespace as string | undefined,
      metricName: p.MetricName as string | undefined,
      dimensions: Object.fromEntries(dimensions.filter((d) => typeof d.Value === 'string').map((d) => [d.Name, d.Value as string])),
      statistic: p.Statistic as string | undefined,
      period: (p.Period as number | undefined) ?? insights?.Period,
      evaluationPeriods: p.EvaluationPeriods as number | undefined,
      datapointsToAlarm: p.DatapointsToAlarm as number | undefined,
      threshold: p.Threshold as number | undefined,
      comparisonOperator: p.ComparisonOperator as AlarmDefinition['comparisonOperator'],
      treatMissingData: p.TreatMissingData as string | undefined,
      actionsEnabled: (p.ActionsEnabled as boolean | undefined) ?? true,
      alarmActions: templateTopicArns(p.AlarmActions, template),
      okActions: templateTopicArns(p.OKActions, template),
      insufficientDataActions: templateTopicArns(p.InsufficientDataActions, template),
    });
  }
}

/** An alarm action of the template: a Ref to one of its topics, by the topic's local ARN. */
function templateTopicArns(actions: unknown, template: CfnTemplate): string[] {
  return ((actions as unknown[] | undefined) ?? []).flatMap((action) => {
    const ref = (action as { Ref?: unknown } | null)?.Ref;
    if (typeof ref === 'string' && template.Resources[ref]?.Type === 'AWS::SNS::Topic') return [localTopicArn(ref)];
    const resolved = resolveTemplateValue(action, template);
    return typeof resolved === 'string' ? [resolved] : [];
  });
}

function localTopicArn(logicalId: string): string {
  return `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${logicalId}`;
}

type PolicyStatement = { Effect?: string; Principal?: unknown; Action?: string | string[]; Condition?: Record<string, Record<string, unknown>> };

/**
 * What each of the template's topic policies lets CloudWatch publish. A topic policy replaces
 * SNS's default policy, so an alarm can notify the topic only through an Allow statement for the
 * service principal cloudwatch.amazonaws.com and sns:Publish whose aws:SourceArn condition (ArnLike,
 * `*` and `?` wildcards) matches the alarm's ARN ("Example cases for Amazon SNS access control",
 * Amazon SNS Developer Guide). Only the alarm-name part of the pattern is compared: the local
 * fleet's alarms live in the local region and account, the pattern in the stack's.
 */
function defineTopicPolicies(fleet: SimulatedFleet, template: CfnTemplate): void {
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::SNS::TopicPolicy') continue;
    const statements = ((resource.Properties?.PolicyDocument as { Statement?: PolicyStatement[] } | undefined)?.Statement ?? []).filter(
      (st) =>
        st.Effect === 'Allow' &&
        JSON.stringify(st.Principal ?? '').includes('cloudwatch.amazonaws.com') &&
        [st.Action ?? []].flat().some((a) => a === 'sns:Publish' || a === 'sns:*' || a === '*'),
    );
    const namePatterns = statements.map((st) => {
      const pattern = st.Condition?.ArnLike?.['aws:SourceArn'] ?? st.Condition?.ArnEquals?.['aws:SourceArn'];
      if (pattern === undefined) return /^/;
      const text = String(resolveTemplateValue(pattern, template));
      const name = text.split(':alarm:')[1] ?? '';
      return new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    });
    const admits = (alarmArn: string) => namePatterns.some((re) => re.test(alarmArn.split(':alarm:')[1] ?? ''));
    for (const topic of (resource.Properties?.Topics as Array<{ Ref?: string }> | undefined) ?? []) {
      if (typeof topic.Ref === 'string') fleet.setTopicPolicy(localTopicArn(topic.Ref), admits);
    }
  }
}

/**
 * The stack's AwsCustomResource calls (Custom::AWS), made once as CloudFormation makes them at
 * create: e.g. the CreateTags that marks the preferred nodes serving. They are deploy, not run:
 * no virtual time, and the calls are not counted.
 */
function deployTemplateCustomResources(fleet: SimulatedFleet, template: CfnTemplate): void {
  const services: Record<string, ServiceName> = { EC2: 'ec2', SSM: 'ssm', CloudWatch: 'cloudwatch', EventBridge: 'eventbridge', SNS: 'sns', ElasticLoadBalancingV2: 'elbv2' };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'Custom::AWS') continue;
    const create = resource.Properties?.Create;
    if (typeof create !== 'string') throw new Error(`custom resource ${logicalId}: its Create call is not a plain JSON string`);
    const call = JSON.parse(create) as { service: string; action: string; parameters?: unknown };
    const service = services[call.service];
    if (!service) throw new Error(`custom resource ${logicalId}: service ${call.service} is not simulated`);
    fleet.answerNow(service, call.action, call.parameters ?? {});
  }
}

/** The scenario's instances, target groups, addresses, documents, images and metrics in the fleet. */
function buildFleet(fleet: SimulatedFleet, scenario: Scenario): void {
  const config = scenario.config;
  const runsOn = (app: string) => scenario.fleet.instances.filter((i) => i.runs.includes(app)).map((i) => i.id);
  // The applications' secondary IPs are theirs: never handed out as some instance's primary address.
  fleet.reservePrivateIps(config.applications.flatMap((app) => (app.cluster.logicalAddress?.kind === 'secondary-private-ip' ? [app.cluster.logicalAddress.ipAddress] : [])));
  for (const instance of scenario.fleet.instances) {
    const secondaryIps = config.applications
      .filter((app) => instance.runs.includes(app.name) && app.cluster.logicalAddress?.kind === 'secondary-private-ip')
      .map((app) => (app.cluster.logicalAddress as { ipAddress: string }).ipAddress);
    // An application running elsewhere than on its preferred node was moved there by the control
    // plane, which tagged the node serving (the stack tags the preferred nodes itself, at deploy).
    const movedHere = instance.runs.some((name) => config.applications.find((a) => a.name === name)?.placement.preferredNode !== instance.id);
    fleet.addInstance({
      instanceId: instance.id,
      instanceType: instance.type,
      state: instance.state,
      tags: movedHere ? { ...instance.tags, [SERVING_TAG.key]: SERVING_TAG.value } : instance.tags,
      apps: instance.runs,
      installedApps: instance.installed,
      secondaryIps,
      subnetId: subnetOf(instance).subnetId,
    });
    if (instance.impaired) fleet.faults.statusChecksImpaired(instance.id);
  }
  // Target groups the scenario puts behind a load balancer; the others get an ALB of their own.
  const loadBalancerOf = new Map<string, string>();
  for (const lb of scenario.fleet.loadBalancers) {
    const arn = fleet.addLoadBalancer({ name: lb.name, type: lb.type, ...(lb.availabilityZones ? { availabilityZones: lb.availabilityZones } : {}) });
    for (const tg of lb.targetGroupArns) loadBalancerOf.set(tg, arn);
  }
  // The load balancer whose target health an application's alarm watches is the one in front of its groups.
  for (const app of config.applications) {
    const watched = app.detection.failure.targetHealth?.loadBalancerArn;
    if (!watched) continue;
    const tail = watched.split(':loadbalancer/')[1] ?? '';
    if (!fleet.hasLoadBalancer(watched)) fleet.addLoadBalancer({ arn: watched, name: tail.split('/')[1] ?? app.name, type: tail.startsWith('net/') ? 'network' : 'application' });
    for (const tg of app.cluster.targetGroupArns) if (!loadBalancerOf.has(tg)) loadBalancerOf.set(tg, watched);
  }
  for (const app of config.applications) {
    for (const arn of app.cluster.targetGroupArns) {
      const loadBalancerArn = loadBalancerOf.get(arn);
      fleet.addTargetGroup({ name: arn.split('/').at(-2) ?? app.name, arn, app: app.name, port: app.cluster.port ?? 80, ...(loadBalancerArn ? { loadBalancerArn } : {}) });
      fleet.registerHealthy(arn, runsOn(app.name));
    }
    // A group with no rules: an instance that has only it is cut off (health checks fail).
    if (app.cluster.isolationSecurityGroupId) fleet.isolatingSecurityGroups(app.cluster.isolationSecurityGroupId);
    if (app.cluster.logicalAddress?.kind === 'elastic-ip') {
      fleet.addElasticIp({ allocationId: app.cluster.logicalAddress.allocationId, instanceId: runsOn(app.name)[0] });
    }
    if (app.provisioning.method === 'boot-volume') {
      // The application's AMI, built for its architecture.
      const { source, kmsKeyArn } = app.provisioning;
      fleet.defineImage(source.imageId, { apps: [app.name], architecture: app.requirements.architecture, ...(kmsKeyArn ? { kmsKeyId: kmsKeyArn } : {}) });
    }
    const perf = app.detection.performance;
    if (perf) {
      fleet.bindMetric({ namespace: perf.namespace, metricName: perf.metricName, dimensions: perf.dimensions, app: app.name, healthyValue: healthyValue(perf.comparison, perf.threshold) });
    }
  }
  defineDocuments(fleet, config);
}

/** A value on the good side of the threshold. */
function healthyValue(comparison: string, threshold: number): number {
  const magnitude = Math.max(Math.abs(threshold), 1);
  return comparison.startsWith('LessThan') ? threshold + magnitude : threshold - magnitude;
}

/**
 * What each configured document does on a node. One SSM document (AWS-RunShellScript) serves
 * many applications with different parameters, so effects are keyed by name and parameters.
 */
function defineDocuments(fleet: SimulatedFleet, config: Config): void {
  /** probe: a readiness command, which succeeds only where the application runs. */
  type Effect = { install: Set<string>; start: Set<string>; stop: Set<string>; probe: Set<string> };
  const effects = new Map<string, Map<string, Effect>>();
  // The workflow adds executionTimeout (a document's timeoutSeconds): what a document does is keyed without it.
  const keyOf = ({ executionTimeout: _, ...parameters }: Record<string, string[]>) => JSON.stringify(parameters);
  const add = (name: string, parameters: Record<string, string[]>, kind: keyof Effect, app: string) => {
    const byParams = effects.get(name) ?? new Map<string, Effect>();
    const key = keyOf(parameters);
    const effect = byParams.get(key) ?? { install: new Set(), start: new Set(), stop: new Set(), probe: new Set() };
    effect[kind].add(app);
    byParams.set(key, effect);
    effects.set(name, byParams);
  };
  for (const app of config.applications) {
    const kind = app.provisioning.method === 'install' ? 'install' : 'start';
    for (const doc of app.provisioning.documents) add(doc.name, doc.parameters, kind, app.name);
    for (const doc of app.run) add(doc.name, doc.parameters, 'start', app.name);
    for (const doc of app.halt) add(doc.name, doc.parameters, 'stop', app.name);
    const readiness = app.cluster.readinessCommand;
    if (readiness) add(readiness.name, readiness.parameters, 'probe', app.name);
  }
  for (const [name, byParams] of effects) {
    fleet.defineDocument(name, {
      run: (ctx) => {
        const effect = byParams.get(keyOf(ctx.parameters));
        if (!effect) return;
        for (const app of effect.install) ctx.install(app, true);
        for (const app of effect.start) {
          if (!ctx.apps.get(app)?.installed) return `application ${app} is not installed on ${ctx.instanceId}`;
          ctx.start(app);
        }
        for (const app of effect.stop) if (ctx.apps.get(app)?.running) ctx.stop(app);
        for (const app of effect.probe) if (!ctx.apps.get(app)?.running) return `application ${app} is not answering on ${ctx.instanceId}`;
        return undefined;
      },
    });
  }
}
