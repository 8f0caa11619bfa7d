// The deployed artefacts on the local runtime. What AWS runs is not functions/handlers/*.ts
// but the esbuild bundles the CDK writes to the cloud assembly (asset.<hash>/index.mjs: ESM,
// minified), and the config document beside them (asset.<hash>.json, read from S3 at cold start). With `bundles` set, the local runtime runs those
// instead of importing the sources: each function in its own worker thread (one execution
// environment), with exactly the environment variables the template gives it plus those the
// Lambda runtime sets, its code copied to a task root of its own. A bundle that lacks a
// dependency, calls require() where ESM has none, or reads a variable the template forgot
// fails there as it would in AWS.
//
// How a bundle reaches the local services:
// - DynamoDB: over HTTP to DynamoDB Local, through the SDK's service-specific endpoint
//   variable AWS_ENDPOINT_URL_DYNAMODB (AWS SDKs and Tools Reference Guide, "Service-specific
//   endpoints", https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
// - Every other client: the worker sets LOCAL_RUNTIME_HOOK (functions/deps.ts) before importing
//   the bundle; its clients' commands come back to this thread and are answered by the
//   simulated fleet or the local Step Functions, exactly as attachFleet answers them in-process.
// - Time: each message to the worker carries the virtual time. A handler's time can only move
//   while it waits on a fleet call (the virtual clock advances only when every flow waits on
//   it), and the answer to that call brings the new time.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../../core/config.ts';
import { loadConfigFile } from '../../lib/load-config.ts';
import { serviceOf, type SdkClient, type SimulatedFleet } from '../fleet/index.ts';
import type { VirtualClock } from '../fleet/clock.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, resolveTemplateValue, type CfnTemplate } from '../state-machine-definition.ts';
import { TABLE_TYPES } from '../tables.ts';
import { LOCAL_STATE_MACHINE_ARN, type LocalStepFunctions } from './local-step-functions.ts';
import { localStackEnvironment } from './synthesize.ts';
import { assetFiles, withNestedStacks } from './nested-stacks.ts';
import type { TaskHandler } from './workflow-runner.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER_ENTRY = new URL('./lambda-worker.ts', import.meta.url);
const STACK_NAME = 'RapidFailoverBundles';
const TSX_CLI = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

/** A synthesized cloud assembly: its template and where each function's bundle is. */
export interface DeployedBundles {
  /** The config the assembly was synthesized for (its config document is an asset beside the bundles). */
  readonly config: Config;
  readonly template: CfnTemplate;
  /** Lambda function logical id → its code directory in the assembly (asset.<hash>). */
  readonly codeDirs: ReadonlyMap<string, string>;
  /** The content of the file asset uploaded under this S3 object key (the config document). */
  assetText(objectKey: string): string;
  /** Deletes the assembly if it was synthesized into a temporary directory. */
  dispose(): void;
  /** What the synthesis printed (stdout and stderr), when synthesizeBundles ran it. */
  readonly synthLog?: string;
}

/**
 * Synthesizes the stack for the config in `configFile` as `cdk synth` does, esbuild bundles
 * included (slow: a few seconds per function): cdk.json's app command (`tsx bin/app.ts`) in a
 * process of its own, given its context (cdk.json's, the config file and the stack name) in
 * CDK_CONTEXT_JSON and a temporary CDK_OUTDIR, deployed to the local account and region (or
 * wherever the config's ARNs are). A process of its own also keeps esbuild out of the caller's
 * threads (it cannot be spawned from a worker thread: "The argument 'stdio' is invalid").
 */
export async function synthesizeBundles(configFile: string): Promise<DeployedBundles> {
  const config = loadConfigFile(configFile);
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { app: string; context?: Record<string, unknown> };
  const [command, ...args] = cdkJson.app.split(' ');
  if (command !== 'tsx') throw new Error(`cdk.json's app command '${cdkJson.app}' does not start with tsx; synthesizeBundles runs it with the repository's tsx`);
  const outdir = mkdtempSync(join(tmpdir(), 'rapid-failover-assembly-'));
  try {
    const target = localStackEnvironment(config);
    const { code, output } = await runToEnd(process.execPath, [TSX_CLI, ...args], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, configFile, stackName: STACK_NAME }),
        CDK_OUTDIR: outdir,
        CDK_DEFAULT_ACCOUNT: target.account,
        CDK_DEFAULT_REGION: target.region,
      },
    });
    if (code !== 0) throw new Error(`${cdkJson.app} exited with ${code} for ${configFile}:\n${output}`);
    return { ...readCloudAssembly(outdir, STACK_NAME, config), dispose: () => rmSync(outdir, { recursive: true, force: true }), synthLog: output };
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
}

function runToEnd(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, output }));
  });
}

/** Reads a cloud assembly `cdk synth` wrote (e.g. cdk.out): the template and each function's asset directory. */
export function readCloudAssembly(outdir: string, stackName: string, config: Config): DeployedBundles {
  const assetByKey = assetFiles(outdir, `${stackName}.assets.json`);
  // With its nested stacks' resources (the performance alarms), as CloudFormation deploys them.
  const template = withNestedStacks(JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) as CfnTemplate, assetByKey);
  const codeDirs = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const key = (resource.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
    const dir = typeof key === 'string' ? assetByKey.get(key) : undefined;
    if (!dir) throw new Error(`${stackName}: function ${logicalId} has no bundled asset in ${outdir} (was the assembly synthesized with bundling skipped?)`);
    codeDirs.set(logicalId, dir);
  }
  const assetText = (objectKey: string) => {
    const path = assetByKey.get(objectKey);
    if (!path) throw new Error(`${stackName}: no file asset with the object key ${objectKey} in ${outdir}`);
    return readFileSync(path, 'utf8');
  };
  return { config, template, codeDirs, assetText, dispose: () => undefined };
}

// ---- messages between this thread and a function's worker ---------------------------------------

export interface LambdaWorkerData {
  taskRoot: string;
  handler: string;
  functionName: string;
  timeoutMs: number;
  nowMs: number;
}

export interface SerializedError {
  name: string;
  message: string;
  /** $fault, $metadata, $retryable... as the SDK's exception carries them. */
  fields: Record<string, unknown>;
}

export type HostMessage =
  | { type: 'invoke'; id: number; requestId: string; event: unknown; nowMs: number }
  | { type: 'aws-result'; id: number; ok: true; output: unknown; nowMs: number }
  | { type: 'aws-result'; id: number; ok: false; error: SerializedError; nowMs: number };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'aws-call'; id: number; serviceId: string; command: string; input: unknown }
  | { type: 'result'; id: number; ok: true; output: string | null }
  | { type: 'result'; id: number; ok: false; errorType: string; errorMessage: string; trace: string };

// ---- the host --------------------------------------------------------------------------------------

export interface BundleHostOptions {
  bundles: DeployedBundles;
  fleet: SimulatedFleet;
  /** The local Step Functions (built after the handlers, so asked for at call time). */
  stepFunctions: () => LocalStepFunctions;
  clock: VirtualClock;
  dynamoEndpoint: string;
  /** Table logical id → the table's name in DynamoDB Local. */
  tableNames: Readonly<Record<string, string>>;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Every embedded-metric-format document a function printed (CloudWatch reads metrics from these log lines). */
  onMetrics?: (emf: Record<string, unknown>) => void;
}

/** The bundles of one assembly, each run on demand in its own execution environment. */
export class BundleHost {
  private readonly environments = new Map<string, ExecutionEnvironment>();
  private readonly root = mkdtempSync(join(tmpdir(), 'rapid-failover-lambda-'));
  private readonly invocationCounts = new Map<string, number>();

  constructor(private readonly options: BundleHostOptions) {
    // What the nodejs22.x runtime provides besides the function's own code: the AWS SDK for
    // JavaScript v3 (Lambda Developer Guide, "Building Lambda functions with Node.js",
    // runtime-included SDK versions). CDK's NodejsFunction leaves @aws-sdk/* out of the bundle
    // for it. ASSUMPTION: the runtime's @aws-sdk packages behave like this repo's pinned ones;
    // the runtime's own version is not the one the tests run.
    mkdirSync(join(this.root, 'node_modules'));
    symlinkSync(join(REPO_ROOT, 'node_modules', '@aws-sdk'), join(this.root, 'node_modules', '@aws-sdk'), 'dir');
  }

  /**
   * Starts every function's execution environment and waits for their init phase (the bundle
   * imported), as provisioned concurrency would: the bundles load side by side, not one by one
   * at their first invocations. An init that failed is reported by the first invocation.
   */
  async start(): Promise<void> {
    await Promise.all([...this.options.bundles.codeDirs.keys()].map((id) => this.environment(id).ready));
  }

  /** The Step Functions task handler that invokes function `logicalId`. */
  handler(logicalId: string): TaskHandler {
    if (!this.options.bundles.codeDirs.has(logicalId)) throw new Error(`no bundle for function ${logicalId}`);
    return (event) => {
      this.invocationCounts.set(logicalId, (this.invocationCounts.get(logicalId) ?? 0) + 1);
      return this.environment(logicalId).invoke(event);
    };
  }

  /** Invocations per function logical id. */
  invocations(): Record<string, number> {
    return Object.fromEntries(this.invocationCounts);
  }

  /** What a function printed (its CloudWatch log stream), oldest first. */
  logs(logicalId: string): string[] {
    return [...(this.environments.get(logicalId)?.logLines ?? [])];
  }

  async close(): Promise<void> {
    await Promise.all([...this.environments.values()].map((e) => e.terminate()));
    rmSync(this.root, { recursive: true, force: true });
  }

  private environment(logicalId: string): ExecutionEnvironment {
    let environment = this.environments.get(logicalId);
    if (!environment?.alive) {
      environment = new ExecutionEnvironment(logicalId, this.options, this.root, environment?.logLines ?? []);
      this.environments.set(logicalId, environment);
    }
    return environment;
  }
}

const MAX_LOG_LINES = 2_000;

class ExecutionEnvironment {
  alive = true;
  /** Settles when the init phase has ended (well or not). */
  readonly ready: Promise<void>;
  private markReady: () => void = () => undefined;
  private readonly worker: Worker;
  private invocationSeq = 0;
  private readonly invocations = new Map<number, { resolve: (output: unknown) => void; reject: (error: Error) => void }>();

  constructor(
    private readonly logicalId: string,
    private readonly options: BundleHostOptions,
    root: string,
    readonly logLines: string[],
  ) {
    const { template, codeDirs } = options.bundles;
    const props = (template.Resources[logicalId]?.Properties ?? {}) as Record<string, unknown>;
    // Lambda unpacks the code into a task root of its own: nothing around it to resolve modules from but the runtime's.
    const taskRoot = join(root, logicalId, 'task');
    cpSync(codeDirs.get(logicalId)!, taskRoot, { recursive: true });
    const handler = typeof props.Handler === 'string' ? props.Handler : 'index.handler';
    const timeoutMs = (typeof props.Timeout === 'number' ? props.Timeout : 3) * 1000;
    const data: LambdaWorkerData = { taskRoot, handler, functionName: logicalId, timeoutMs, nowMs: options.clock.nowMs() };
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.worker = new Worker(WORKER_ENTRY, {
      // Not the host's flags (a test runner's or tsx's loaders): Node's own ESM loader, as in Lambda.
      execArgv: [],
      workerData: data,
      env: lambdaEnvironment(logicalId, props, { taskRoot, handler, ...options }),
      stdout: true,
      stderr: true,
    });
    this.capture(this.worker.stdout);
    this.capture(this.worker.stderr);
    this.worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.worker.on('error', (error) => this.die(`uncaught ${error.name}: ${error.message}`));
    this.worker.on('exit', (code) => this.die(`the process exited with code ${code}`));
  }

  invoke(event: unknown): Promise<unknown> {
    if (!this.alive) return Promise.reject(lambdaError('Runtime.ExitError', `${this.logicalId}: the execution environment has exited`));
    const id = ++this.invocationSeq;
    return new Promise((resolve, reject) => {
      this.invocations.set(id, { resolve, reject });
      // Lambda hands the function the event as JSON, and reads its result as JSON.
      const message: HostMessage = { type: 'invoke', id, requestId: `${this.logicalId}-${id}`, event: JSON.parse(JSON.stringify(event ?? null)), nowMs: this.options.clock.nowMs() };
      this.worker.postMessage(message);
    });
  }

  async terminate(): Promise<void> {
    this.alive = false;
    await this.worker.terminate();
  }

  private onMessage(message: WorkerMessage): void {
    if (message.type === 'ready') {
      this.markReady();
      return;
    }
    if (message.type === 'aws-call') {
      void this.answer(message.serviceId, message.command, message.input).then(
        (output) => this.post({ type: 'aws-result', id: message.id, ok: true, output, nowMs: this.options.clock.nowMs() }),
        (error: unknown) => this.post({ type: 'aws-result', id: message.id, ok: false, error: serializeError(error), nowMs: this.options.clock.nowMs() }),
      );
      return;
    }
    const invocation = this.invocations.get(message.id);
    this.invocations.delete(message.id);
    if (message.ok) invocation?.resolve(message.output === null ? null : JSON.parse(message.output));
    else invocation?.reject(lambdaError(message.errorType, message.errorMessage));
  }

  /** The same answers attachFleet / attachLocalStepFunctions give an in-process client. */
  private async answer(serviceId: string, command: string, input: unknown): Promise<unknown> {
    if (serviceId === 'SFN') {
      return { $metadata: { httpStatusCode: 200 }, ...(await this.options.stepFunctions().handle(command, (input ?? {}) as Record<string, unknown>)) };
    }
    return this.options.fleet.handle(serviceOf({ config: { serviceId } } as SdkClient), command, input);
  }

  private post(message: HostMessage): void {
    if (this.alive) this.worker.postMessage(message);
  }

  private capture(stream: NodeJS.ReadableStream): void {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      const emf = metricsDocument(line);
      if (emf) this.options.onMetrics?.(emf);
      this.logLines.push(line);
      if (this.logLines.length > MAX_LOG_LINES) this.logLines.splice(0, this.logLines.length - MAX_LOG_LINES);
    });
  }

  private die(reason: string): void {
    this.markReady();
    if (!this.alive) return;
    this.alive = false;
    for (const invocation of this.invocations.values()) invocation.reject(lambdaError('Runtime.ExitError', `${this.logicalId}: ${reason}`));
    this.invocations.clear();
  }
}

/** A function error as Step Functions sees it: Error = the errorType Lambda reports. */
function lambdaError(errorType: string, errorMessage: string): Error {
  return Object.assign(new Error(errorMessage), { name: errorType });
}

function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === 'name' || key === 'message' || key === 'stack') continue;
    try {
      fields[key] = structuredClone(value);
    } catch {
      // Not data (a function, a socket): an SDK error's fields that matter ($fault, $metadata, $retryable) are.
    }
  }
  return { name: error.name, message: error.message, fields };
}

function metricsDocument(line: string): Record<string, unknown> | undefined {
  if (!line.includes('"CloudWatchMetrics"')) return undefined;
  try {
    const document = JSON.parse(line) as { _aws?: { CloudWatchMetrics?: unknown } };
    return document._aws?.CloudWatchMetrics ? (document as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The variables a function's process sees: those the Lambda runtime defines (Lambda Developer
 * Guide, "Working with Lambda environment variables", defined runtime environment variables),
 * the template's own (Refs resolved to the local resources), and the DynamoDB endpoint.
 */
function lambdaEnvironment(
  logicalId: string,
  props: Record<string, unknown>,
  host: BundleHostOptions & { taskRoot: string; handler: string },
): Record<string, string> {
  const variables = (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const own: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) own[name] = resolveVariable(logicalId, name, value, host);
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: logicalId,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(props.MemorySize ?? 128),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_ACCESS_KEY_ID: host.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: host.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    LAMBDA_TASK_ROOT: host.taskRoot,
    _HANDLER: host.handler,
    TZ: ':UTC',
    ...own,
    // The local runtime's transport for DynamoDB (not a variable the template sets).
    AWS_ENDPOINT_URL_DYNAMODB: host.dynamoEndpoint,
  };
}

/** A template value of a function's environment, as it would be deployed here. */
function resolveVariable(logicalId: string, name: string, value: unknown, host: BundleHostOptions): string {
  const { template } = host.bundles;
  const ref = (value as { Ref?: unknown } | null)?.Ref;
  if (typeof ref === 'string' && template.Resources[ref]) {
    const type = template.Resources[ref]!.Type;
    if ((TABLE_TYPES as readonly string[]).includes(type) && host.tableNames[ref]) return host.tableNames[ref]!;
    if (type === 'AWS::SNS::Topic') return `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${ref}`;
    if (type === 'AWS::StepFunctions::StateMachine') return LOCAL_STATE_MACHINE_ARN;
    throw new Error(`function ${logicalId}: ${name} refers to ${ref} (${type}), which the local runtime does not provide`);
  }
  const resolved = resolveTemplateValue(value, template);
  if (typeof resolved !== 'string') throw new Error(`function ${logicalId}: ${name} does not resolve to a string`);
  return resolved;
}
