#!/usr/bin/env tsx
// CDK app entry: `npx cdk synth` / `npx cdk deploy`. The config file comes from the
// `configFile` context value (cdk.json sets failover.config.json).
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '../core/config.ts';
import { loadConfigFile } from '../lib/load-config.ts';
import { RapidFailoverStack } from '../lib/rapid-failover-stack.ts';

const app = new App();
const configFile = String(app.node.tryGetContext('configFile') ?? 'failover.config.json');
const stackName = String(app.node.tryGetContext('stackName') ?? 'RapidFailover');

try {
  const config = loadConfigFile(configFile);
  new RapidFailoverStack(app, stackName, {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'rapid-failover: serverless failover control plane for applications on EC2',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  if (error instanceof ConfigError) {
    // One line per problem, no stack trace: the user fixes the file, not the code.
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
