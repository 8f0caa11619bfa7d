#!/usr/bin/env tsx
// CDK app entry: `npx cdk synth` / `npx cdk deploy`. The config file comes from the
// `configFile` context value (cdk.json sets failover.config.json).
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../core/config.ts';
import { addRapidFailoverStack } from '../lib/app.ts';

const app = new App();
try {
  addRapidFailoverStack(app, { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION });
} catch (error) {
  if (error instanceof ConfigError) {
    // One line per problem, no stack trace: the user fixes the file, not the code.
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
