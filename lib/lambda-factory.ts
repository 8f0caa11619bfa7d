import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { LogLevel, NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Entry file of a handler under functions/handlers/. */
export function handlerEntry(name: string): string {
  return path.join(repoRoot, 'functions', 'handlers', `${name}.ts`);
}

export interface ControlPlaneFunctionProps extends Partial<NodejsFunctionProps> {
  /** Handler file name under functions/handlers/ (without .ts). */
  readonly handlerName: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Every Lambda of the control plane: Node 22 on ARM64, X-Ray tracing, ESM bundle built by
 * the local esbuild (no Docker), its own log group with retention. Caller props win.
 */
export function controlPlaneFunction(scope: Construct, id: string, props: ControlPlaneFunctionProps): NodejsFunction {
  const { handlerName, logRetention, logRemovalPolicy, bundling, environment, ...overrides } = props;
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: logRemovalPolicy ?? RemovalPolicy.RETAIN,
  });
  // No AWS managed policy: the role may write to this function's log group and nothing else by default.
  const role =
    overrides.role ??
    new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `rapid-failover ${handlerName}`,
    });
  logGroup.grantWrite(role);
  return new NodejsFunction(scope, id, {
    entry: handlerEntry(handlerName),
    handler: 'handler',
    // Node 22 is what the local runtime and the tests run on: one runtime everywhere.
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.seconds(60),
    tracing: lambda.Tracing.ACTIVE,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    projectRoot: repoRoot,
    depsLockFilePath: path.join(repoRoot, 'package-lock.json'),
    ...overrides,
    role,
    environment: {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'rapid-failover',
      ...environment,
    },
    bundling: {
      format: OutputFormat.ESM,
      target: 'node22',
      minify: true,
      sourceMap: true,
      forceDockerBundling: false,
      // ESM bundles of CommonJS dependencies still call require().
      banner: "import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);",
      mainFields: ['module', 'main'],
      logLevel: LogLevel.ERROR,
      ...bundling,
    },
  });
}
