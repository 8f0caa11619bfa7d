import { describe, expect, it } from 'vitest';
import { ConfigError, findApplication, parseConfig, parseConfigText, poolsFor, type ConfigInput } from '../../core/config.ts';
import { appInput, configInput, makeConfig, nodeId } from './fixtures.ts';

/** The problem lines a config is rejected with (empty when it parses). */
function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

/** A valid config with one field of its first application replaced. */
function withApp(overrides: Record<string, unknown>): ConfigInput {
  return configInput({ applications: [{ ...appInput(), ...overrides } as ConfigInput['applications'][number]] });
}

describe('parseConfig: a valid config', () => {
  it('A5: parses a minimal config and fills in the defaults', () => {
    // Arrange
    const raw = configInput();

    // Act
    const config = parseConfig(raw);

    // Assert
    const app = config.applications[0];
    expect(app?.requirements).toEqual({ minVcpu: 1, minMemoryMiB: 512, architecture: 'x86_64', features: [] });
    expect(app?.policy).toEqual({
      maxAttempts: 3,
      cooldownSeconds: 300,
      flapWindowSeconds: 3_600,
      maxFailoversPerWindow: 3,
      deregistrationDelaySeconds: 30,
      settleSeconds: 120,
      returnOldNodeToPool: true,
    });
    expect(app?.placement).toEqual({ possibleNodes: [] });
    expect(app?.provisioning).toEqual({ method: 'activate', documents: [], timeoutSeconds: 600 });
    expect(app?.run).toEqual([]);
    expect(app?.halt).toEqual([]);
  });

  it('B2: a pool defaults to the failover tier', () => {
    const config = parseConfig(configInput({ pools: [{ name: 'only', tag: { key: 'k', value: 'v' } }] }));

    expect(config.pools[0]?.tier).toBe('failover');
  });

  it('A10: fills in the M-of-N defaults of a performance threshold', () => {
    const config = parseConfig(withApp({ detection: { performance: { namespace: 'App', metricName: 'Latency', threshold: 250, comparison: 'GreaterThanThreshold' } } }));

    expect(config.applications[0]?.detection.performance).toMatchObject({ statistic: 'Average', periodSeconds: 60, evaluationPeriods: 5, datapointsToAlarm: 3 });
  });

  it('A10: with fewer than 3 periods evaluated, datapoints to alarm defaults to all of them', () => {
    const config = parseConfig(withApp({ detection: { performance: { namespace: 'App', metricName: 'Latency', threshold: 250, comparison: 'GreaterThanThreshold', evaluationPeriods: 2 } } }));

    expect(config.applications[0]?.detection.performance).toMatchObject({ evaluationPeriods: 2, datapointsToAlarm: 2 });
  });

  it('A9: accepts a readiness command, an SSM document with the usual defaults', () => {
    const cluster = { ...appInput().cluster, readinessCommand: { name: 'AWS-RunShellScript', parameters: { commands: ['curl -fsS localhost:8080/health'] } } };

    const config = parseConfig(withApp({ cluster }));

    expect(config.applications[0]?.cluster.readinessCommand).toEqual({
      name: 'AWS-RunShellScript',
      parameters: { commands: ['curl -fsS localhost:8080/health'] },
      timeoutSeconds: 600,
    });
  });

  it('C2: accepts a preferred node and a sequenced list of possible nodes', () => {
    const config = parseConfig(withApp({ placement: { preferredNode: nodeId(1), possibleNodes: [nodeId(2), nodeId(3)] } }));

    expect(config.applications[0]?.placement).toEqual({ preferredNode: nodeId(1), possibleNodes: [nodeId(2), nodeId(3)] });
  });
});

describe('parseConfig: each problem is one line naming the field', () => {
  it('A1: a missing required field', () => {
    const { priority: _priority, ...withoutPriority } = appInput();

    const problems = problemsOf(configInput({ applications: [withoutPriority as ConfigInput['applications'][number]] }));

    expect(problems).toEqual(['applications[0].priority: Invalid input: expected number, received undefined']);
  });

  it("A11: an application's own alarm not named failover-trigger-… (the stack's rule matches them by that prefix; EventBridge: event pattern 2,048 characters)", () => {
    const alarm = (name: string) => `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${name}`;
    const detection = (names: string[]) => ({ detection: { failure: { alarmArns: names.map(alarm) } } });

    expect(problemsOf(withApp(detection(['failover-trigger-web-process-down'])))).toEqual([]);
    expect(problemsOf(withApp(detection(['failover-trigger-web', 'web-process-down'])))).toEqual([
      "applications[0].detection.failure.alarmArns[1]: the alarm's name must start with 'failover-trigger-': the stack's EventBridge rule matches the applications' own alarms by this name prefix (one event pattern for any number of applications); create the alarm again under such a name (CloudWatch cannot rename an alarm)",
    ]);
  });

  it('A9: a malformed target group ARN', () => {
    const problems = problemsOf(withApp({ cluster: { targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123'] } }));

    expect(problems).toEqual([
      'applications[0].cluster.targetGroupArns[0]: expected a target group ARN like arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex>',
    ]);
  });

  it('A3: an executionTimeout parameter on AWS-RunShellScript (timeoutSeconds is passed as it)', () => {
    const problems = problemsOf(
      withApp({ provisioning: { method: 'install', documents: [{ name: 'AWS-RunShellScript', parameters: { commands: ['install'], executionTimeout: ['7200'] } }] } }),
    );

    expect(problems).toEqual([
      "applications[0].provisioning.documents[0].parameters.executionTimeout: remove it and set timeoutSeconds instead: the workflow passes timeoutSeconds as AWS-RunShellScript's executionTimeout",
    ]);
  });

  it('A9: a readiness command that is not an SSM document', () => {
    const cluster = { ...appInput().cluster, readinessCommand: { name: 'x', timeoutSeconds: 5, command: 'curl' } };

    const problems = problemsOf(withApp({ cluster }));

    expect(problems).toEqual([
      "applications[0].cluster.readinessCommand.name: expected an SSM document name (e.g. 'AWS-RunShellScript') or document ARN",
      'applications[0].cluster.readinessCommand.timeoutSeconds: Too small: expected number to be >=30',
      'applications[0].cluster.readinessCommand: Unrecognized key: "command"',
    ]);
  });

  it('A10: a threshold of the wrong type (string)', () => {
    const problems = problemsOf(withApp({ detection: { performance: { namespace: 'App', metricName: 'Latency', threshold: '250', comparison: 'GreaterThanThreshold' } } }));

    expect(problems).toEqual(['applications[0].detection.performance.threshold: Invalid input: expected number, received string']);
  });

  it('A10: more datapoints to alarm than periods evaluated', () => {
    const problems = problemsOf(
      withApp({ detection: { performance: { namespace: 'App', metricName: 'Latency', threshold: 1, comparison: 'GreaterThanThreshold', evaluationPeriods: 3, datapointsToAlarm: 4 } } }),
    );

    expect(problems).toEqual(['applications[0].detection.performance.datapointsToAlarm: datapointsToAlarm must not exceed evaluationPeriods']);
  });

  it('A5: duplicate application names', () => {
    const problems = problemsOf(configInput({ applications: [appInput(), appInput({ priority: 10 })] }));

    expect(problems).toEqual(["applications[1].name: application name 'web' is used twice; application names must be unique"]);
  });

  it('A5: an unknown pool', () => {
    const problems = problemsOf(withApp({ pools: ['fast', 'gpu'] }));

    expect(problems).toEqual(["applications[0].pools[1]: unknown pool 'gpu'; expected one of: fast, spare"]);
  });

  it('A5: an empty pool list (the application could never fail over)', () => {
    expect(problemsOf(withApp({ pools: [] }))).toEqual(["applications[0].pools: list at least one pool, or leave 'pools' out to use every pool"]);
  });

  it('B2: duplicate pool names', () => {
    const pool = { name: 'fast', tag: { key: 'k', value: 'v' } };

    expect(problemsOf(configInput({ pools: [pool, pool] }))).toEqual(["pools[1].name: pool name 'fast' is used twice; pool names must be unique"]);
  });

  it.each(['rapid-failover:role', 'rapid-failover:app:web', 'rapid-failover:managed'])(
    'A5: a pool tag key the control plane writes or grants on (%s): IAM could then move nodes in and out of the pool',
    (key) => {
      const problems = problemsOf(configInput({ pools: [{ name: 'fast', tag: { key, value: 'v' } }] }));

      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^pools\[0\]\.tag\.key: a key the control plane writes itself .* use another key, e\.g\. rapid-failover:pool$/);
    },
  );

  it('C2: a possible node listed twice', () => {
    const problems = problemsOf(withApp({ placement: { possibleNodes: [nodeId(1), nodeId(2), nodeId(1)] } }));

    expect(problems).toEqual([`applications[0].placement.possibleNodes[2]: node ${nodeId(1)} is listed twice; list each possible node once`]);
  });

  it('C2: a possible node that is not an instance id', () => {
    const problems = problemsOf(withApp({ placement: { possibleNodes: ['web-1'] } }));

    expect(problems).toEqual(["applications[0].placement.possibleNodes[0]: expected an EC2 instance id like 'i-0123456789abcdef0'"]);
  });

  it('A3: install provisioning without documents', () => {
    const problems = problemsOf(withApp({ provisioning: { method: 'install', documents: [] } }));

    expect(problems).toEqual(['applications[0].provisioning.documents: install needs at least one SSM document']);
  });

  it('A1: an unknown field (a typo is not silently ignored)', () => {
    const problems = problemsOf(withApp({ priorty: 5 }));

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^applications\[0\]: .*priorty/);
  });

  it('A14: no administrator email', () => {
    expect(problemsOf(configInput({ alerts: { emails: [] } }))).toEqual(['alerts.emails: at least one administrator email is needed']);
  });

  it('A1: the error message lists the problems under the config source', () => {
    expect(() => parseConfig(withApp({ priority: -1 }), 'failover.config.json')).toThrow(/^invalid config failover.config.json:\n {2}- applications\[0\]\.priority: /);
  });
});

describe('parseConfig: the boot image of boot-volume provisioning (A4; CreateReplaceRootVolumeTask)', () => {
  it('A4: takes an AMI', () => {
    const config = parseConfig(withApp({ provisioning: { method: 'boot-volume', source: { imageId: 'ami-0123456789abcdef0' } } }));

    expect(config.applications[0]?.provisioning).toMatchObject({ method: 'boot-volume', source: { imageId: 'ami-0123456789abcdef0' } });
  });

  it('A4: refuses a snapshot, which can replace only the root volume it was taken from, and says to register an AMI from it', () => {
    const problems = problemsOf(withApp({ provisioning: { method: 'boot-volume', source: { snapshotId: 'snap-0123456789abcdef0' } } }));

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^applications\[0\]\.provisioning\.source\.snapshotId: /);
    expect(problems[0]).toContain('only onto the root volume it was taken from');
    expect(problems[0]).toContain('register-image');
    expect(problems[0]).toContain('provisioning.source.imageId');
  });

  it('A4: takes the customer managed KMS key of encrypted volumes as a key ARN, not an alias', () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const config = parseConfig(withApp({ provisioning: { method: 'boot-volume', source: { imageId: 'ami-0123456789abcdef0' }, kmsKeyArn: key } }));

    expect(config.applications[0]?.provisioning.kmsKeyArn).toBe(key);
    expect(problemsOf(withApp({ provisioning: { method: 'activate', kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:alias/ebs' } }))).toEqual([
      expect.stringMatching(/^applications\[0\]\.provisioning\.kmsKeyArn: expected a KMS key ARN/),
    ]);
  });

  it('A4: needs an AMI id', () => {
    expect(problemsOf(withApp({ provisioning: { method: 'boot-volume', source: {} } }))).toEqual([
      expect.stringMatching(/^applications\[0\]\.provisioning\.source\.imageId: /),
    ]);
  });
});

describe('parseConfigText', () => {
  it('A1: parses JSON text', () => {
    expect(parseConfigText(JSON.stringify(configInput()), 'inline').applications[0]?.name).toBe('web');
  });

  it('A1: reports text that is not JSON as one root problem', () => {
    expect(() => parseConfigText('{ pools: ', 'broken.json')).toThrow(expect.objectContaining({ problems: [expect.stringMatching(/^\(root\): not valid JSON: /)] }));
  });
});

describe('poolsFor and findApplication', () => {
  it('B2: lists the failover tier before the backup tier, whatever the config order', () => {
    const config = makeConfig({
      pools: [
        { name: 'spare', tag: { key: 'k', value: 'spare' }, tier: 'backup' },
        { name: 'fast', tag: { key: 'k', value: 'fast' }, tier: 'failover' },
      ],
    });

    expect(poolsFor(config, config.applications[0]!).map((p) => p.name)).toEqual(['fast', 'spare']);
  });

  it('A5: restricts an application to the pools it names', () => {
    const config = makeConfig({ applications: [appInput({ pools: ['spare'] })] });

    expect(poolsFor(config, config.applications[0]!).map((p) => p.name)).toEqual(['spare']);
  });

  it('A1: finds an application by name, and nothing for an unknown name', () => {
    const config = makeConfig();

    expect(findApplication(config, 'web')?.priority).toBe(50);
    expect(findApplication(config, 'nope')).toBeUndefined();
  });
});
