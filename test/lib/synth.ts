// Synthesizes the stack for template tests. Bundling is skipped: these tests are about
// the template, and esbuild runs in `cdk synth` (and its own test) instead.
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseConfig, type Config } from '../../core/config.ts';
import { RapidFailoverStack } from '../../lib/rapid-failover-stack.ts';

export const EXAMPLE_CONFIG_PATH = new URL('../../failover.config.json', import.meta.url);

export function exampleConfig(): Config {
  return parseConfig(JSON.parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')), 'failover.config.json');
}

export function synthStack(config: Config = exampleConfig()) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RapidFailoverStack(app, 'TestStack', {
    config,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return { app, stack, template: Template.fromStack(stack) };
}
