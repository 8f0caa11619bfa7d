// `failover simulate` on input a user gets wrong (exit code 2, the field named on stderr), on a
// scenario whose expectation the run does not meet (exit code 1), and its human output.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, runCliInProcess } from './cli.ts';

/** A CLI run: a few seconds to start Node and tsx, plus the simulation on a busy machine. */
const RUN_TIMEOUT_MS = 5 * 60_000;
const dir = mkdtempSync(join(tmpdir(), 'failover-cli-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function example(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'examples', file), 'utf8')) as Record<string, unknown>;
}

/** Writes a scenario file into the test's directory and returns its path. */
function scenarioFile(name: string, content: unknown): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

/** The smallest runnable scenario: one application, its host fails, and one idle pool node. */
function minimal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'minimal',
    config: {
      pools: [{ name: 'general', tag: { key: 'rapid-failover:pool', value: 'general' } }],
      applications: [
        {
          name: 'shop',
          priority: 500,
          requirements: { minVcpu: 2, minMemoryMiB: 4096 },
          provisioning: { method: 'install', documents: [{ name: 'AWS-RunShellScript', parameters: { commands: ['/opt/install-shop.sh'] } }] },
          cluster: { targetGroupArns: ['arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop/0123456789abcdef'] },
          detection: { failure: { statusChecks: true } },
          placement: { preferredNode: 'i-0123456789abcdef0' },
        },
      ],
      alerts: { emails: ['oncall@example.com'] },
    },
    fleet: {
      instances: [
        { id: 'i-0123456789abcdef0', type: 'm7i.xlarge', tags: { 'rapid-failover:pool': 'general' }, runs: ['shop'] },
        { id: 'i-0123456789abcdef1', type: 'm7i.large', tags: { 'rapid-failover:pool': 'general' } },
      ],
    },
    timeline: [{ at: 10, event: 'instance-failed', node: 'i-0123456789abcdef0' }],
    expect: { shop: ['failed-over'] },
    ...overrides,
  };
}

describe('bad input: exit code 2 and the field named on stderr, before anything runs', () => {
  const cases: Array<{ name: string; content: () => unknown; field: RegExp }> = [
    {
      name: 'a timeline event about an instance the fleet does not have',
      content: () => minimal({ timeline: [{ at: 10, event: 'instance-failed', node: 'i-0fffffffffffffff0' }] }),
      field: /timeline\[0\]\.node: unknown instance i-0fffffffffffffff0/,
    },
    {
      name: 'a threshold of the wrong type in the inline config',
      content: () => {
        const scenario = minimal();
        const app = (scenario.config as { applications: Array<Record<string, unknown>> }).applications[0]!;
        app.detection = { performance: { namespace: 'Shop', metricName: 'Rps', threshold: 'two hundred', comparison: 'LessThanThreshold' } };
        return scenario;
      },
      field: /config\.applications\[0\]\.detection\.performance\.threshold: .*expected number/,
    },
    {
      name: 'an application the config does not have',
      content: () => minimal({ timeline: [{ at: 10, event: 'drill', app: 'shoop' }] }),
      field: /timeline\[0\]\.app: unknown application 'shoop'/,
    },
    {
      name: 'an instance type EC2 does not have',
      content: () => {
        const scenario = minimal();
        (scenario.fleet as { instances: Array<{ type: string }> }).instances[1]!.type = 'm7i.huge';
        return scenario;
      },
      field: /fleet\.instances\[1\]\.type: unknown instance type 'm7i\.huge'; the m7i family has: .*m7i\.xlarge/,
    },
    {
      name: 'an unknown event kind',
      content: () => minimal({ timeline: [{ at: 10, event: 'meteor-strike', node: 'i-0123456789abcdef0' }] }),
      field: /timeline\[0\]\.event/,
    },
    {
      name: 'a load balancer in front of a target group the config does not have',
      content: () => {
        const scenario = minimal();
        (scenario.fleet as Record<string, unknown>).loadBalancers = [
          { name: 'shop-nlb', type: 'network', targetGroupArns: ['arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shoop/0123456789abcdef'] },
        ];
        return scenario;
      },
      field: /fleet\.loadBalancers\[0\]\.targetGroupArns\[0\]: '.*targetgroup\/shoop\/.*' is not a target group of any application in the config/,
    },
    {
      name: 'both an inline config and a config file',
      content: () => minimal({ configFile: '../failover.config.json' }),
      field: /config: give exactly one of 'config' \(inline\) or 'configFile'/,
    },
    {
      name: 'a file that is not JSON',
      content: () => '{ "name": "broken", "timeline": [ ',
      field: /\(file\): not valid JSON/,
    },
  ];

  /** As a separate process: the exit code, stderr without a stack trace, and no DynamoDB Local launched. */
  const AS_A_PROCESS = new Set(['a timeline event about an instance the fleet does not have', 'a file that is not JSON']);

  it.concurrent.each(cases.filter((c) => AS_A_PROCESS.has(c.name)))('$name (a separate process)', { timeout: RUN_TIMEOUT_MS }, async ({ name, content, field }) => {
    const file = scenarioFile(name.replace(/\W+/g, '-'), content());

    const result = await runCli(['simulate', file, '--json']);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(field);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).toBe('');
    // Rejected before the runtime started: no DynamoDB Local was launched.
    expect(result.dynamoDb).toEqual([]);
  });

  it.each(cases.filter((c) => !AS_A_PROCESS.has(c.name)))('$name', async ({ name, content, field }) => {
    const file = scenarioFile(name.replace(/\W+/g, '-'), content());

    const result = await runCliInProcess(['simulate', file, '--json']);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(field);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).toBe('');
  });

  it('a scenario file that does not exist', async () => {
    const result = await runCliInProcess(['simulate', join(dir, 'no-such-scenario.json')]);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no-such-scenario\.json[\s\S]*cannot read: ENOENT/);
  });
});

describe('a run that does not meet its expectation', () => {
  it('exits with code 1 and names the unexpected outcome', async () => {
    // Nothing can take the application (the only other node is arm64): it is alerted, not failed over.
    const file = scenarioFile(
      'unmet-expectation',
      minimal({
        fleet: { instances: [{ id: 'i-0123456789abcdef0', type: 'm7i.xlarge', tags: { 'rapid-failover:pool': 'general' }, runs: ['shop'] }, { id: 'i-0123456789abcdef1', type: 'm7g.large', tags: { 'rapid-failover:pool': 'general' } }] },
      }),
    );

    const result = await runCliInProcess(['simulate', file, '--json']);

    expect(result.code, result.stderr).toBe(1);
    const doc = JSON.parse(result.stdout) as { unexpected: string[]; incidents: Array<{ app: string; outcome: string }> };
    expect(doc.incidents).toEqual([expect.objectContaining({ app: 'shop', outcome: 'alerted' })]);
    expect(doc.unexpected).toEqual([expect.stringMatching(/^shop: alerted \(.+\); expected failed-over$/)]);
  }, RUN_TIMEOUT_MS);

  it('exits with code 1 when an application the scenario expects an outcome of had no incident at all', async () => {
    // Nothing happens to shop's host (the one event only arms a fault on the idle node): the expectation is never tested, so it is not met.
    const file = scenarioFile('expected-but-quiet', minimal({ timeline: [{ at: 10, event: 'provisioning-fails', node: 'i-0123456789abcdef1' }], runForSeconds: 60 }));

    const result = await runCliInProcess(['simulate', file]);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain('Unexpected outcomes: shop: no incident; expected failed-over');
  }, RUN_TIMEOUT_MS);
});

describe('human output', () => {
  it('shows the live view, a step table per incident and a summary', async () => {
    const result = await runCli(['simulate', 'examples/demo.json']);

    expect(result.code, result.stderr).toBe(0);
    const scenario = example('demo.json');
    expect(result.stdout).toContain(`simulating '${String(scenario.name)}'`);
    expect(result.stdout).toMatch(/^\+\d\d:\d\d {2}⚡ instance i-0aaa0000000000001 fails$/m);
    expect(result.stdout).toContain('Timeline per incident');
    expect(result.stdout).toMatch(/^checkout · failure → failed-over · i-0aaa0000000000001 → i-0aaa000000000000\d · 1 attempt\(s\), RTO \d+\.\d s$/m);
    expect(result.stdout).toMatch(/^ {2}step {17}start {4}end {6}duration$/m);
    expect(result.stdout).toMatch(/^Summary: \d+ incident\(s\): \d+ failed-over/m);
    expect(result.stdout).toMatch(/^ {2}Simulated \d+\.\d s of AWS time in \d+\.\d s of wall time; \d+ AWS API calls\.$/m);
    // Nothing unexpected, nothing on stderr but the runtime's own notices.
    expect(result.stdout).not.toContain('Unexpected outcomes');
  }, RUN_TIMEOUT_MS);
});
