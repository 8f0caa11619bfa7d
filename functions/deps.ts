// Everything a handler talks to, injected. In AWS `defaultDeps()` builds it once per cold
// start from the environment; the local runtime and the tests build their own (simulated
// fleet behind real SDK clients, DynamoDB Local, a virtual clock). Handlers never read
// process.env or the wall clock themselves.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { readEnvironment, type Environment } from '../core/environment.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../core/metrics.ts';

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

/** Deps for a Lambda cold start: clients from the default credential chain, env validated once. */
export function defaultDeps(): Deps {
  return {
    ec2: new EC2Client({}),
    ssm: new SSMClient({}),
    elb: new ElasticLoadBalancingV2Client({}),
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({}), DOCUMENT_CLIENT_OPTIONS),
    sns: new SNSClient({}),
    events: new EventBridgeClient({}),
    cloudwatch: new CloudWatchClient({}),
    sfn: new SFNClient({}),
    clock: () => new Date(),
    // Spelled out: the bundler inlines the config by replacing exactly this expression.
    env: readEnvironment(process.env, process.env.RAPID_FAILOVER_CONFIG),
    logger: new Logger({ serviceName: METRICS_SERVICE }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE }),
  };
}

/** `export const handler = lazyHandler(makeHandler)`: nothing is built at import time. */
export function lazyHandler<E, R>(make: (deps: Deps) => (event: E) => Promise<R>): (event: E) => Promise<R> {
  let cached: ((event: E) => Promise<R>) | undefined;
  return (event: E) => (cached ??= make(defaultDeps()))(event);
}
