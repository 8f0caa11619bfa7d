// The CloudFormation template the CDK synthesizes for a config, in-process and offline.
// Bundling is skipped: the local runtime imports the handlers' sources directly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { Config } from '../../core/config.ts';
import { configDeployTarget } from '../../core/deploy-target.ts';
import { RapidFailoverStack } from '../../lib/rapid-failover-stack.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, type CfnTemplate } from '../state-machine-definition.ts';
import { assetFiles, withNestedStacks } from './nested-stacks.ts';

/** Synthesis takes a second or more of CPU: runs of the same config (test suites) share it. */
const CACHE_SIZE = 16;
const cache = new Map<string, CfnTemplate>();

export function synthesizeTemplate(config: Config): CfnTemplate {
  const key = JSON.stringify(config);
  let template = cache.get(key);
  if (!template) {
    template = synthesize(config);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, template);
  }
  // Each caller gets its own copy: nothing a run does to its template reaches another run.
  return structuredClone(template);
}

/** The local runtime's stack: its alarms are named `rapid-failover.RapidFailoverLocal.…`. */
export const LOCAL_STACK_NAME = 'RapidFailoverLocal';

/**
 * Where the local runtime deploys the stack: the region and account the config's ARNs name (a stack
 * anywhere else fails at synth, core/deploy-target.ts), else the local ones. The simulated fleet
 * itself keeps the local region and account.
 */
export function localStackEnvironment(config: Config): { account: string; region: string } {
  const target = configDeployTarget(config);
  return target ? { account: target.account, region: target.region } : { account: LOCAL_ACCOUNT, region: LOCAL_REGION };
}

function synthesize(config: Config): CfnTemplate {
  const outdir = mkdtempSync(join(tmpdir(), 'rapid-failover-synth-'));
  try {
    // The CDK's built-in CloudFormation validation (a WASM rule engine) costs seconds of CPU per
    // synthesis; it runs where templates are deployed from (`cdk synth`) and in the stack tests,
    // not again for every local run.
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new RapidFailoverStack(app, LOCAL_STACK_NAME, { config, env: localStackEnvironment(config) });
    const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
    // The nested stacks (the performance alarms) are deployed with it.
    return withNestedStacks(template, assetFiles(outdir, `${stack.artifactId}.assets.json`));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
