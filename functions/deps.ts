// Everything a handler talks to, injected. In AWS `defaultDeps()` builds it once per cold
// start from the environment and the config document it names (read from S3); the local runtime and the tests build their own (simulated
// fleet behind real SDK clients, DynamoDB Local, a virtual clock). Handlers never read
// process.env or the wall clock themselves.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Config } from '../core/config.ts';
import { readConfigLocation, readEnvironment, type Environment } from '../core/environment.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE, STACK_DIMENSION } from '../core/metrics.ts';
import { readConfigDocument } from './adapters/config-document.ts';

export interface Deps {
  ec2: EC2Client;
  ssm: SSMClient;
  elb: ElasticLoadBalancingV2Client;
  ddb: DynamoDBDocumentClient;
  sns: SNSClient;
  events: EventBridgeClient;
  cloudwatch: CloudWatchClient;
  sfn: SFNClient;
  /** The only source of "now" for logic: virtual in the local runtime, fixed in tests. */
  clock: () => Date;
  env: Environment;
  logger: Logger;
  metrics: Metrics;
}

/** Document client options shared by every builder of Deps: optional fields are simply left out. */
export const DOCUMENT_CLIENT_OPTIONS = { marshallOptions: { removeUndefinedValues: true } } as const;

export interface DepsOptions {
  /** SDK client configuration shared by every client (region, credentials). */
  client?: { region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } };
  /** DynamoDB endpoint (DynamoDB Local); default: the region's. */
  dynamoEndpoint?: string;
  /** Where EC2, SSM, ELB, SNS, EventBridge and CloudWatch requests go instead of AWS (the simulated fleet). */
  transport?: <C extends { middlewareStack: unknown }>(client: C) => C;
  clock?: () => Date;
  env: Environment;
  logger?: Logger;
  metrics?: Metrics;
}

/** The one place clients are built: the Lambdas, the operator CLI and the local runtime differ only in these options. */
export function buildDeps(options: DepsOptions): Deps {
  const config = options.client ?? {};
  const via = options.transport ?? (<C,>(client: C) => client);
  return {
    ec2: via(new EC2Client(config)),
    ssm: via(new SSMClient(config)),
    elb: via(new ElasticLoadBalancingV2Client(config)),
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, ...(options.dynamoEndpoint ? { endpoint: options.dynamoEndpoint } : {}) }), DOCUMENT_CLIENT_OPTIONS),
    sns: via(new SNSClient(config)),
    events: via(new EventBridgeClient(config)),
    cloudwatch: via(new CloudWatchClient(config)),
    sfn: new SFNClient(config),
    clock: options.clock ?? (() => new Date()),
    env: options.env,
    logger: options.logger ?? new Logger({ serviceName: METRICS_SERVICE }),
    metrics:
      options.metrics ??
      new Metrics({
        namespace: METRICS_NAMESPACE,
        serviceName: METRICS_SERVICE,
        // Two stacks in one account and region publish to one namespace: the stack tells them apart.
        ...(options.env.stackName ? { defaultDimensions: { [STACK_DIMENSION]: options.env.stackName } } : {}),
      }),
  };
}

/**
 * The local runtime's one way into a deployed bundle (local/runtime/bundles.ts runs each
 * esbuild bundle in a worker that sets this global before importing it). When set,
 * defaultDeps() sends every client except DynamoDB through `transport` (DynamoDB goes to
 * DynamoDB Local through the SDK's own AWS_ENDPOINT_URL_DYNAMODB variable) and reads the time
 * from `clock`. Nothing sets it in AWS: there it is undefined and changes nothing.
 */
export const LOCAL_RUNTIME_HOOK: unique symbol = Symbol.for('rapid-failover.local-runtime');

export interface LocalRuntimeHook {
  /** Sends a client's commands to the local runtime (a middleware on its stack); returns the client. */
  transport: <C extends { middlewareStack: unknown }>(client: C) => C;
  clock: () => Date;
}

/**
 * The config this function was deployed with: the S3 object its environment names
 * (RAPID_FAILOVER_CONFIG_BUCKET / _KEY), read through `s3`. The local runtime calls it too, so
 * the config reaches the handlers the same way there.
 */
export function readDeployedConfig(s3: S3Client, env: Record<string, string | undefined>): Promise<Config> {
  return readConfigDocument(s3, readConfigLocation(env));
}

/** Deps for a Lambda cold start: clients from the default credential chain, env and config validated once. */
export async function defaultDeps(): Promise<Deps> {
  const host = (globalThis as { [LOCAL_RUNTIME_HOOK]?: LocalRuntimeHook })[LOCAL_RUNTIME_HOOK];
  const s3 = new S3Client({});
  if (host) host.transport(s3);
  try {
    const env = readEnvironment(process.env, await readDeployedConfig(s3, process.env));
    if (!host) return buildDeps({ env });
    const deps = buildDeps({ env, transport: host.transport, clock: host.clock });
    host.transport(deps.sfn);
    return deps;
  } finally {
    s3.destroy();
  }
}

/**
 * `export const handler = lazyHandler(makeHandler)`: nothing is built at import time; the first
 * invocation reads the config and builds the clients, later ones reuse them. A failed cold
 * start (config unreadable, a deploy in progress) is tried again by the next invocation.
 */
export function lazyHandler<E, R>(make: (deps: Deps) => (event: E) => Promise<R>): (event: E) => Promise<R> {
  let cached: Promise<(event: E) => Promise<R>> | undefined;
  return async (event: E) => {
    cached ??= defaultDeps()
      .then(make)
      .catch((error: unknown) => {
        cached = undefined;
        throw error;
      });
    return (await cached)(event);
  };
}
