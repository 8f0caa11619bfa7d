import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = new URL('../..', import.meta.url).pathname;
const tsx = join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const workDir = mkdtempSync(join(tmpdir(), 'rapid-failover-app-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Runs bin/app.ts as `cdk synth` does: context through CDK_CONTEXT_JSON, output into CDK_OUTDIR. */
function synth(configFile: string, outdir = join(workDir, `out-${Math.random().toString(36).slice(2)}`), env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [tsx, 'bin/app.ts'], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ configFile }), CDK_OUTDIR: outdir, ...env },
  });
  return { ...result, outdir };
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
  it('synthesizes the example config with every handler bundled by esbuild, the config beside the bundles as an S3 asset, not inside them', () => {
    const { status, stderr, outdir } = synth('failover.config.json');
    expect(stderr).not.toMatch(/Error/);
    expect(status).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir, 'RapidFailover.template.json'), 'utf8'));
    const functions = Object.values(template.Resources as Record<string, { Type: string }>).filter((r) => r.Type === 'AWS::Lambda::Function');
    // Twelve handlers (ten steps, intake, the callback), and the CDK's own AwsCustomResource provider (it tags the preferred nodes at deploy).
    expect(functions).toHaveLength(13);
    const bundles = readdirSync(outdir).filter((d) => d.startsWith('asset.')).map((d) => join(outdir, d, 'index.mjs'));
    expect(bundles.filter(existsSync)).toHaveLength(12);
    for (const bundle of bundles.filter(existsSync)) expect(readFileSync(bundle, 'utf8')).not.toContain('eipalloc-0a1b2c3d4e5f60718');
    // The config document: the object every function's RAPID_FAILOVER_CONFIG_KEY names.
    const key = JSON.stringify(template).match(/"RAPID_FAILOVER_CONFIG_KEY":"([0-9a-f]{64}\.json)"/)?.[1];
    expect(key).toBeDefined();
    const document = readFileSync(join(outdir, `asset.${key}`), 'utf8');
    expect(JSON.parse(document).config.applications.map((a: { name: string }) => a.name)).toEqual(['checkout', 'search', 'reports']);
    // Eleven esbuild bundles: slow on a loaded 2-core machine, so a generous limit of its own.
  }, 240_000);

  it('fails with one line per problem, naming the field, and no stack trace', () => {
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

  it('rejects two applications with one name', () => {
    const file = writeConfig('duplicate.json', (config) => {
      config.applications[1].name = config.applications[0].name;
    });
    const { status, stderr } = synth(file);
    expect(status).toBe(1);
    expect(stderr).toContain("applications[1].name: application name 'checkout' is used twice");
  });

  it('§3: a config whose ARNs are in another region than the stack, or whose nodes are not instance ids, fails at synth naming each field', () => {
    const file = writeConfig('elsewhere.json', (config) => {
      config.applications[2].placement.preferredNode = 'reports-host-1';
      config.applications[2].placement.possibleNodes = ['i-0ccc0000000000002', 'i-0CCC'];
    });
    // `cdk deploy` with credentials and a region sets these: the stack is then in us-east-1, account 123456789012.
    const { status, stderr } = synth(file, undefined, { CDK_DEFAULT_REGION: 'us-east-1', CDK_DEFAULT_ACCOUNT: '123456789012' });
    expect(status).toBe(1);
    expect(stderr).toContain("applications[2].placement.preferredNode: expected an EC2 instance id like 'i-0123456789abcdef0'");
    expect(stderr).toContain("applications[2].placement.possibleNodes[1]: expected an EC2 instance id like 'i-0123456789abcdef0'");
    expect(stderr).not.toMatch(/\n\s+at /);
    const fixed = writeConfig('elsewhere-nodes-fixed.json', () => undefined);
    const other = synth(fixed, undefined, { CDK_DEFAULT_REGION: 'us-east-1', CDK_DEFAULT_ACCOUNT: '123456789012' });
    expect(other.status).toBe(1);
    expect(other.stderr).toContain("applications[0].cluster.targetGroupArns[0]: region eu-west-1 differs from the stack's us-east-1; a target group is usable only in the stack's own region and account");
    expect(other.stderr).toContain("applications[2].detection.failure.alarmArns[0]: region eu-west-1 differs from the stack's us-east-1");
    expect(other.stderr).not.toMatch(/\n\s+at /);
  });

  it('names a config file that does not exist', () => {
    const { status, stderr } = synth(join(workDir, 'missing.json'));
    expect(status).toBe(1);
    expect(stderr).toMatch(/cannot read .*missing\.json: ENOENT/);
  });
});
