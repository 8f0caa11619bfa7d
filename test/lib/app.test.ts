// bin/app.ts, cdk.json's app: a config that cannot deploy fails before anything is synthesized,
// one line per problem naming the field. One case runs it as `cdk synth` does, in a process of
// its own (exit code, stderr, no stack trace); the others call what it calls, in-process.
// Its successful synthesis, esbuild bundles included, is test/workflow/bundles.test.ts's: that
// test runs the bundles it writes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.ts';
import { addRapidFailoverStack, type AppTarget } from '../../lib/app.ts';

const repo = new URL('../..', import.meta.url).pathname;
const tsx = join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const workDir = mkdtempSync(join(tmpdir(), 'rapid-failover-app-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Runs bin/app.ts as `cdk synth` does: context through CDK_CONTEXT_JSON, output into CDK_OUTDIR. */
function synth(configFile: string) {
  return spawnSync(process.execPath, [tsx, 'bin/app.ts'], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ configFile }), CDK_OUTDIR: join(workDir, 'out') },
  });
}

/** What bin/app.ts would print for `configFile`: the ConfigError's message ('' when the stack builds). */
function configProblems(configFile: string, target: AppTarget = {}): string {
  try {
    addRapidFailoverStack(new App({ context: { configFile, 'aws:cdk:bundling-stacks': [] } }), target);
    return '';
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests corrupt the config on purpose
function writeConfig(name: string, mutate: (config: Record<string, any>) => void): string {
  const config = JSON.parse(readFileSync(join(repo, 'failover.config.json'), 'utf8'));
  mutate(config);
  const file = join(workDir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe('bin/app.ts', () => {
  it('fails with exit code 1 and one line per problem, naming the field, and no stack trace', () => {
    const file = writeConfig('bad.json', (config) => {
      config.applications[0].detection.performance.threshold = 'fast';
      config.applications[1].cluster.targetGroupArns = ['arn:aws:elasticloadbalancing:eu-west-1:123:targetgroup/x'];
      delete config.alerts;
    });
    const { status, stderr } = synth(file);
    expect(status).toBe(1);
    expect(stderr).toContain('applications[0].detection.performance.threshold: Invalid input: expected number, received string');
    expect(stderr).toContain('applications[1].cluster.targetGroupArns[0]: expected a target group ARN');
    expect(stderr).toContain('alerts: ');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('builds the stack for failover.config.json (the config every other case breaks)', () => {
    expect(configProblems(join(repo, 'failover.config.json'))).toBe('');
    expect(configProblems(writeConfig('unchanged.json', () => undefined))).toBe('');
  });

  it('rejects two applications with one name', () => {
    const file = writeConfig('duplicate.json', (config) => {
      config.applications[1].name = config.applications[0].name;
    });
    expect(configProblems(file)).toContain("applications[1].name: application name 'checkout' is used twice");
  });

  it('§3: a config whose ARNs are in another region than the stack, or whose nodes are not instance ids, fails naming each field', () => {
    const file = writeConfig('elsewhere.json', (config) => {
      config.applications[2].placement.preferredNode = 'reports-host-1';
      config.applications[2].placement.possibleNodes = ['i-0ccc0000000000002', 'i-0CCC'];
    });
    // `cdk deploy` with credentials and a region sets these: the stack is then in us-east-1, account 123456789012.
    const usEast1 = { region: 'us-east-1', account: '123456789012' };
    const nodes = configProblems(file, usEast1);
    expect(nodes).toContain("applications[2].placement.preferredNode: expected an EC2 instance id like 'i-0123456789abcdef0'");
    expect(nodes).toContain("applications[2].placement.possibleNodes[1]: expected an EC2 instance id like 'i-0123456789abcdef0'");
    const regions = configProblems(writeConfig('elsewhere-nodes-fixed.json', () => undefined), usEast1);
    expect(regions).toContain("applications[0].cluster.targetGroupArns[0]: region eu-west-1 differs from the stack's us-east-1; a target group is usable only in the stack's own region and account");
    expect(regions).toContain("applications[2].detection.failure.alarmArns[0]: region eu-west-1 differs from the stack's us-east-1");
  });

  it("without credentials the CDK CLI still sets a region (us-east-1 when none is configured): with no account the stack is env-agnostic and builds", () => {
    const config = join(repo, 'failover.config.json');
    expect(configProblems(config, { region: 'us-east-1' })).toBe('');
    // With credentials for an account, the region is the deployment's: eu-west-1's ARNs are refused.
    expect(configProblems(config, { region: 'us-east-1', account: '123456789012' })).toContain("region eu-west-1 differs from the stack's us-east-1");
  });

  it('names a config file that does not exist', () => {
    expect(configProblems(join(workDir, 'missing.json'))).toMatch(/cannot read .*missing\.json: ENOENT/);
  });
});
