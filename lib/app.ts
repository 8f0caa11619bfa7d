// What bin/app.ts (cdk.json's app) puts in the CDK app: the stack for the config file the
// `configFile` context names, checked by cdk-nag at synth. A config that cannot deploy throws a
// ConfigError here, before anything is synthesized; bin/app.ts prints it and exits 1.
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfigFile } from './load-config.ts';
import { RapidFailoverStack } from './rapid-failover-stack.ts';

export interface AppTarget {
  /** From the CDK CLI's credentials and region (CDK_DEFAULT_ACCOUNT, CDK_DEFAULT_REGION); no account: an env-agnostic stack. */
  account?: string;
  region?: string;
}

export function addRapidFailoverStack(app: App, target: AppTarget): RapidFailoverStack {
  const configFile = String(app.node.tryGetContext('configFile') ?? 'failover.config.json');
  const stackName = String(app.node.tryGetContext('stackName') ?? 'RapidFailover');
  // The CDK CLI always sets CDK_DEFAULT_REGION, to us-east-1 when none is configured (aws-cdk's
  // toolkit-lib, SdkProvider.region(): "falls back to us-east-1 if no region can be found, as is
  // done in the AWS CLI"), but CDK_DEFAULT_ACCOUNT only when it finds credentials. Without an
  // account the region may be that guess, so the stack is env-agnostic: its Rules make
  // CloudFormation refuse to deploy it anywhere but where the config's ARNs are.
  const env = target.account ? { account: target.account, region: target.region } : {};
  const stack = new RapidFailoverStack(app, stackName, {
    config: loadConfigFile(configFile),
    env,
    description: 'rapid-failover: serverless failover control plane for applications on EC2',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
