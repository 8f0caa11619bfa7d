// What bin/app.ts (cdk.json's app) puts in the CDK app: the stack for the config file the
// `configFile` context names, checked by cdk-nag at synth. A config that cannot deploy throws a
// ConfigError here, before anything is synthesized; bin/app.ts prints it and exits 1.
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfigFile } from './load-config.ts';
import { RapidFailoverStack } from './rapid-failover-stack.ts';

export interface AppTarget {
  /** From `cdk deploy`'s credentials and region (CDK_DEFAULT_ACCOUNT, CDK_DEFAULT_REGION); unset: an env-agnostic stack. */
  account?: string;
  region?: string;
}

export function addRapidFailoverStack(app: App, target: AppTarget): RapidFailoverStack {
  const configFile = String(app.node.tryGetContext('configFile') ?? 'failover.config.json');
  const stackName = String(app.node.tryGetContext('stackName') ?? 'RapidFailover');
  const stack = new RapidFailoverStack(app, stackName, {
    config: loadConfigFile(configFile),
    env: { account: target.account, region: target.region },
    description: 'rapid-failover: serverless failover control plane for applications on EC2',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
