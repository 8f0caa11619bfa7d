// Deps for a deployed stack: table names and ARNs from the stack's outputs, the config from
// the same file that was deployed, clients from the usual AWS credential chain.
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Logger } from '@aws-lambda-powertools/logger';
import { ConfigError } from '../core/config.ts';
import { EnvNames, readEnvironment } from '../core/environment.ts';
import { METRICS_SERVICE } from '../core/metrics.ts';
import { buildDeps, type Deps } from '../functions/deps.ts';
import { loadConfigFile } from '../lib/load-config.ts';

export interface StackOptions {
  stackName: string;
  region?: string;
  profile?: string;
  configFile: string;
}

const OUTPUTS = {
  StateTableName: EnvNames.StateTable,
  ClaimsTableName: EnvNames.ClaimsTable,
  RecordsTableName: EnvNames.RecordsTable,
  AlertTopicArn: EnvNames.AlertTopicArn,
  StateMachineArn: EnvNames.StateMachineArn,
} as const;

export async function deployedDeps(options: StackOptions): Promise<Deps> {
  if (options.profile) process.env.AWS_PROFILE = options.profile;
  const client = options.region ? { region: options.region } : {};
  const config = loadConfigFile(options.configFile);
  const cloudformation = new CloudFormationClient(client);
  const stack = (await cloudformation.send(new DescribeStacksCommand({ StackName: options.stackName }))).Stacks?.[0];
  const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const missing = Object.keys(OUTPUTS).filter((key) => !outputs[key]);
  if (missing.length > 0) {
    throw new ConfigError(`stack ${options.stackName}`, missing.map((key) => `outputs.${key}: missing; is --stack the rapid-failover stack (npx cdk deploy)?`));
  }
  const env = readEnvironment(
    { ...Object.fromEntries(Object.entries(OUTPUTS).map(([output, variable]) => [variable, outputs[output]])), [EnvNames.EventBusName]: 'default' },
    config,
  );
  return buildDeps({ client, env, logger: new Logger({ serviceName: METRICS_SERVICE, logLevel: 'SILENT' }) });
}
