// Safe to deploy and to grow (issue 10): nothing a trigger or an alarm goes through loses it
// silently (§1), a second stack deploys beside the first and neither reaches into the other (§2),
// and a config that cannot deploy fails at synth (§3). Template tests on the synthesized stack;
// the local runtime proves the same end to end in test/workflow/intake-failures.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type Config } from '../../core/config.ts';
import { stackAlarmNames } from '../../core/detection.ts';
import { EnvNames } from '../../core/environment.ts';
import { RapidFailoverStack } from '../../lib/rapid-failover-stack.ts';
import { matches } from '../../local/runtime/event-rules.ts';
import type { CfnTemplate } from '../../local/state-machine-definition.ts';
import { cfnLint } from './cfn-lint.ts';
import { exampleConfig, synthStack } from './synth.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Sid?: string; Effect: string; Principal?: unknown; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

const resources = (template: CfnTemplate, type: string) => Object.entries(template.Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
const only = (template: CfnTemplate, type: string) => {
  const found = resources(template, type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
const actionsOf = (s: Statement) => [s.Action].flat();
/** `{ Fn::Join: ['', ['arn:', { Ref: 'AWS::Partition' }, …]] }` as text, the partition as `aws`. */
const text = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : (part as { Ref?: string }).Ref === 'AWS::Partition' ? 'aws' : JSON.stringify(part))).join('');
/** IAM's ArnLike: `*` any run of characters, `?` one. */
const arnLike = (pattern: string, arn: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(arn);

describe('§1 nothing is lost silently', () => {
  let template: CfnTemplate;
  beforeAll(() => {
    template = synthStack().template.toJSON() as CfnTemplate;
  });
  const alarmsWithActions = () =>
    resources(template, 'AWS::CloudWatch::Alarm')
      .map(([, r]) => r.Properties)
      .filter((p) => Array.isArray(p.AlarmActions) && p.AlarmActions.length > 0);
  const topicId = () => only(template, 'AWS::SNS::Topic')[0];

  it('topic policy: CloudWatch may publish, only for this account and this stack\'s alarms (a topic policy replaces SNS\'s default)', () => {
    const [, policy] = only(template, 'AWS::SNS::TopicPolicy');
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    const cloudwatch = statements.filter((s) => JSON.stringify(s.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }));
    expect(cloudwatch).toHaveLength(1);
    const [allow] = cloudwatch;
    expect(allow).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topicId() } });
    expect(allow!.Condition!.StringEquals).toEqual({ 'aws:SourceAccount': ACCOUNT });
    const sourceArn = text(allow!.Condition!.ArnLike!['aws:SourceArn']);
    expect(sourceArn).toBe(`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:rapid-failover.TestStack.*`);
    // The TLS-only Deny stays.
    expect(statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }))).toBe(true);

    // Every alarm that notifies the topic is one the policy admits; another stack's is not.
    const notifying = alarmsWithActions();
    expect(notifying.length).toBeGreaterThanOrEqual(7);
    for (const alarm of notifying) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topicId() }]);
      expect(arnLike(sourceArn, `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${String(alarm.AlarmName)}`), String(alarm.AlarmName)).toBe(true);
    }
    expect(arnLike(sourceArn, `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${stackAlarmNames('Other').controlPlane('intake-errors')}`)).toBe(false);
  });

  it('KMS key: CloudWatch may only Decrypt and GenerateDataKey*, for this stack\'s alarms ("Encrypting Amazon SNS topics": compatibility with AWS services)', () => {
    const [, key] = only(template, 'AWS::KMS::Key');
    const statements = (key.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
    const cloudwatch = statements.filter((s) => JSON.stringify(s.Principal ?? '').includes('cloudwatch'));
    expect(cloudwatch).toHaveLength(1);
    expect(actionsOf(cloudwatch[0]!).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    expect(cloudwatch[0]!.Condition!.StringEquals).toEqual({ 'aws:SourceAccount': ACCOUNT });
    expect(text(cloudwatch[0]!.Condition!.ArnLike!['aws:SourceArn'])).toBe(`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:rapid-failover.TestStack.*`);
  });

  it('dead-letter queue: SSE-SQS, not the AWS managed key alias/aws/sqs (its policy cannot admit EventBridge); every intake rule uses it', () => {
    const queues = Object.fromEntries(resources(template, 'AWS::SQS::Queue'));
    const rules = resources(template, 'AWS::Events::Rule').map(([, r]) => r.Properties.Targets as Array<{ DeadLetterConfig?: { Arn: { 'Fn::GetAtt': [string, string] } } }>);
    const deadLetterIds = new Set(rules.flat().map((t) => t.DeadLetterConfig?.Arn['Fn::GetAtt'][0]));
    expect([...deadLetterIds]).toHaveLength(1);
    const dlq = queues[[...deadLetterIds][0]!]!;
    expect(dlq.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    expect(dlq.Properties.KmsMasterKeyId).toBeUndefined();
  });

  it("intake's asynchronous invocations: two retries, then the event and the error go to an encrypted queue (EventInvokeConfig on-failure destination)", () => {
    const [, invokeConfig] = only(template, 'AWS::Lambda::EventInvokeConfig');
    const intakeId = resources(template, 'AWS::Lambda::Function').find(([, r]) => JSON.stringify(r.Properties.Environment).includes(`"${EnvNames.Step}":"intake"`))![0];
    expect(invokeConfig.Properties).toMatchObject({ FunctionName: { Ref: intakeId }, Qualifier: '$LATEST', MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 });
    const queueId = (invokeConfig.Properties.DestinationConfig as { OnFailure: { Destination: { 'Fn::GetAtt': [string, string] } } }).OnFailure.Destination['Fn::GetAtt'][0];
    const queue = (template.Resources as Record<string, Resource>)[queueId]!;
    expect(queue.Type).toBe('AWS::SQS::Queue');
    expect(queue.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    // Lambda sends the record with the function's role: SendMessage on that queue, nothing more.
    const intakeRole = (template.Resources as Record<string, Resource>)[intakeId]!.Properties.Role as { 'Fn::GetAtt': [string, string] };
    const sends = resources(template, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: intakeRole['Fn::GetAtt'][0] }]))
      .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
    expect(sends).toEqual([expect.objectContaining({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } })]);
  });

  it('pages administrators on: both queues\' depth, intake errors, malformed events, a failover past its longest, failed and timed-out executions', () => {
    const names = stackAlarmNames('TestStack');
    const byName = new Map(alarmsWithActions().map((p) => [p.AlarmName as string, p]));
    const queueOf = (name: string) => ((byName.get(name)!.Dimensions as Array<{ Value: { 'Fn::GetAtt': [string, string] } }>)[0]!.Value['Fn::GetAtt'][0]);
    const depth = { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Statistic: 'Maximum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' };
    expect(byName.get(names.controlPlane('undelivered-events'))).toMatchObject(depth);
    expect(byName.get(names.controlPlane('failed-triggers'))).toMatchObject(depth);
    const queues = resources(template, 'AWS::SQS::Queue').map(([id]) => id).sort();
    expect([queueOf(names.controlPlane('undelivered-events')), queueOf(names.controlPlane('failed-triggers'))].sort()).toEqual(queues);
    expect(byName.get(names.controlPlane('intake-errors'))).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Threshold: 1, Period: 60 });
    const own = [{ Name: 'service', Value: 'rapid-failover' }, { Name: 'stack', Value: 'TestStack' }];
    expect(byName.get(names.controlPlane('malformed-events'))).toMatchObject({ Namespace: 'RapidFailover', MetricName: 'MalformedEvents', Dimensions: own, Threshold: 1 });
    expect(byName.get(names.controlPlane('failover-overrun'))).toMatchObject({
      Namespace: 'RapidFailover',
      MetricName: 'FailoverOverrunSeconds',
      Dimensions: own,
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmDescription: expect.stringContaining('3 application(s), from 4560 s (search) to 10620 s (checkout)'),
    });
    expect(byName.get(names.controlPlane('executions-failed'))).toMatchObject({ Namespace: 'AWS/States', MetricName: 'ExecutionsFailed' });
    expect(byName.get(names.controlPlane('executions-timed-out'))).toMatchObject({ Namespace: 'AWS/States', MetricName: 'ExecutionsTimedOut' });
  });

  it("warns at synth when an application's longest failover does not fit in the workflow's timeout", () => {
    const { stack } = synthStack();
    const warnings = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data)));
    expect(warnings.filter((w) => w.includes('longest failover'))).toEqual([
      expect.stringMatching(/^checkout: its longest failover \(3 attempts × 3480 s \+ 180 s = 10620 s; per attempt provision 900 s, .*\) is longer than the workflow's timeout of 7200 s/),
    ]);
  });
});

describe('§2 a second stack deploys beside the first and neither reaches into the other', () => {
  let first: CfnTemplate;
  let second: CfnTemplate;
  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const env = { account: ACCOUNT, region: REGION };
    const a = new RapidFailoverStack(app, 'RapidFailover', { config: exampleConfig(), env });
    const b = new RapidFailoverStack(app, 'RapidFailoverStaging', { config: exampleConfig(), env });
    first = Template.fromStack(a).toJSON() as CfnTemplate;
    second = Template.fromStack(b).toJSON() as CfnTemplate;
  });
  const named = (template: CfnTemplate, type: string, property: string) => resources(template, type).map(([, r]) => r.Properties[property]).filter((n): n is string => typeof n === 'string');
  const alarmNames = (template: CfnTemplate) => named(template, 'AWS::CloudWatch::Alarm', 'AlarmName');
  /** The event CloudWatch sends for an alarm's (or a contributor's) change into ALARM. */
  const alarmEvents = (name: string) => [
    { source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`], detail: { alarmName: name, state: { value: 'ALARM' } } },
    { source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm Contributor State Change', resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`], detail: { alarmName: name, state: { value: 'ALARM' } } },
  ];
  /** The rules that match CloudWatch alarms by name (the applications' own alarms are matched by ARN, and are shared on purpose). */
  const byNameRules = (template: CfnTemplate) =>
    resources(template, 'AWS::Events::Rule')
      .map(([, r]) => r.Properties.EventPattern as { source?: string[]; detail?: { alarmName?: unknown } })
      .filter((p) => p.source?.includes('aws.cloudwatch') && p.detail?.alarmName);

  it('no alarm or dashboard name is used by both stacks, and every alarm carries its stack\'s name', () => {
    expect(alarmNames(first).filter((n) => alarmNames(second).includes(n))).toEqual([]);
    expect(alarmNames(first).every((n) => n.startsWith('rapid-failover.RapidFailover.'))).toBe(true);
    expect(alarmNames(second).every((n) => n.startsWith('rapid-failover.RapidFailoverStaging.'))).toBe(true);
    // Every alarm is named: a CloudFormation-generated name would not carry the prefix the topic admits.
    expect(alarmNames(first)).toHaveLength(resources(first, 'AWS::CloudWatch::Alarm').length);
    const dashboards = [...named(first, 'AWS::CloudWatch::Dashboard', 'DashboardName'), ...named(second, 'AWS::CloudWatch::Dashboard', 'DashboardName')];
    expect(dashboards).toEqual(['rapid-failover-RapidFailover', 'rapid-failover-RapidFailoverStaging']);
  });

  it("each stack's alarm rules match its own alarms and none of the other stack's", () => {
    for (const [own, other] of [
      [first, second],
      [second, first],
    ] as const) {
      const rules = byNameRules(own);
      // Performance, fleet contributors, and the applications' own alarms by their 'failover-trigger-' prefix
      // (USER_ALARM_PREFIX: alarms the users name, never one a stack creates; intake acts only on the ARNs its config lists).
      expect(rules).toHaveLength(3);
      const matched = (names: string[]) => names.filter((name) => alarmEvents(name).some((event) => rules.some((rule) => matches(rule as never, event))));
      // Its performance and fleet alarms start failovers; the other stack's never do.
      expect(matched(alarmNames(own)).sort()).toEqual(alarmNames(own).filter((n) => /-performance$|\.fleet-/.test(n)).sort());
      expect(matched(alarmNames(other))).toEqual([]);
    }
  });

  it("intake learns its stack's name; the dashboard and alarms read only its stack's metrics", () => {
    const stackOf = (template: CfnTemplate) =>
      new Set(resources(template, 'AWS::Lambda::Function').flatMap(([, r]) => {
        const name = (r.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.[EnvNames.StackName];
        return name === undefined ? [] : [name];
      }));
    expect(stackOf(first)).toEqual(new Set(['RapidFailover']));
    expect(stackOf(second)).toEqual(new Set(['RapidFailoverStaging']));
    const [, dashboard] = only(second, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('\\"stack\\",\\"RapidFailoverStaging\\"');
    expect(body).not.toContain('\\"stack\\",\\"RapidFailover\\"');
  });
});

describe('§3 a config that cannot deploy fails at synth, naming the field', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests corrupt the config on purpose
  type MutableConfig = { applications: Array<Record<string, any>> };
  const base = () => JSON.parse(JSON.stringify(exampleConfig())) as MutableConfig;
  const synthFails = (mutate: (config: MutableConfig) => void, env: { account?: string; region?: string } = { account: ACCOUNT, region: REGION }): string[] => {
    const config = base();
    mutate(config);
    try {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      new RapidFailoverStack(app, 'Checked', { config: parseConfig(config), env });
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('refuses ARNs of another region, account or partition: target groups, load balancers, alarms', () => {
    const problems = synthFails((config) => {
      config.applications[2]!.cluster.targetGroupArns = ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/reports/0123456789abcded'];
      config.applications[0]!.detection.failure.targetHealth.loadBalancerArn = 'arn:aws:elasticloadbalancing:eu-west-1:210987654321:loadbalancer/app/shop/0123456789abcdef';
      config.applications[2]!.detection.failure.alarmArns = ['arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:failover-trigger-reports-process-down'];
    });
    expect(problems).toEqual([
      expect.stringMatching(/^applications\[0\]\.detection\.failure\.targetHealth\.loadBalancerArn: account 210987654321 differs from the stack's 123456789012; a load balancer is usable only/),
      expect.stringMatching(/^applications\[2\]\.cluster\.targetGroupArns\[0\]: region us-east-1 differs from the stack's eu-west-1; a target group is usable only/),
      expect.stringMatching(/^applications\[2\]\.detection\.failure\.alarmArns\[0\]: partition aws-cn differs from the stack's aws, region cn-north-1 differs from the stack's eu-west-1; an alarm's state changes/),
    ]);
  });

  it("refuses an SSM document or KMS key of another region, and accepts one shared from another account", () => {
    const sharedDocument = 'arn:aws:ssm:eu-west-1:210987654321:document/Acme-Install';
    const sharedKey = 'arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(
      synthFails((config) => {
        config.applications[0]!.provisioning.documents[0].name = sharedDocument;
        config.applications[1]!.provisioning.kmsKeyArn = sharedKey;
      }),
    ).toEqual([]);
    expect(
      synthFails((config) => {
        config.applications[0]!.halt[0].name = 'arn:aws:ssm:us-west-2:123456789012:document/Acme-Stop';
        config.applications[1]!.provisioning.kmsKeyArn = sharedKey.replace('eu-west-1', 'us-west-2');
      }),
    ).toEqual([
      expect.stringMatching(/^applications\[0\]\.halt\[0\]\.name: region us-west-2 differs from the stack's eu-west-1; SSM documents are shared only within one Region/),
      expect.stringMatching(/^applications\[1\]\.provisioning\.kmsKeyArn: region us-west-2 differs from the stack's eu-west-1; KMS keys are regional/),
    ]);
  });

  it('an env-agnostic stack: the ARNs must agree with each other, and CloudFormation is told to refuse any other region or account', () => {
    const agnostic = {};
    expect(synthFails((config) => (config.applications[1]!.cluster.targetGroupArns = ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/search/0123456789abcdee']), agnostic)).toEqual([
      expect.stringMatching(/^applications\[1\]\.cluster\.targetGroupArns\[0\]: region us-east-1 differs from eu-west-1 of applications\[0\]\.cluster\.targetGroupArns\[0\] \(the stack is env-agnostic/),
    ]);
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new RapidFailoverStack(app, 'Agnostic', { config: exampleConfig() });
    expect(Stack.of(stack).region).toMatch(/^\$\{Token/);
    const rules = (Template.fromStack(stack).toJSON() as { Rules: Record<string, { Assertions: unknown[] }> }).Rules;
    const [deployTarget] = Object.entries(rules).filter(([id]) => id.includes('DeployTarget'));
    expect(deployTarget?.[1].Assertions).toEqual([
      { Assert: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, REGION] }, AssertDescription: expect.stringContaining(`deploy this stack there`) },
      { Assert: { 'Fn::Equals': [{ Ref: 'AWS::AccountId' }, ACCOUNT] }, AssertDescription: expect.stringContaining(`account ${ACCOUNT}`) },
    ]);
    // A stack that knows its region and account needs no such rule.
    const known = Template.fromStack(synthStack().stack).toJSON() as { Rules?: Record<string, unknown> };
    expect(Object.keys(known.Rules ?? {}).filter((id) => id.includes('DeployTarget'))).toEqual([]);
  });

  describe('cfn-lint accepts the env-agnostic template and its rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rapid-failover-deploy-safety-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it('no error', () => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new RapidFailoverStack(app, 'Agnostic', { config: exampleConfig() as Config });
      const file = join(dir, 'Agnostic.template.json');
      writeFileSync(file, JSON.stringify(Template.fromStack(stack).toJSON(), null, 1));
      const errors = cfnLint([file], REGION).filter((f) => f.level === 'Error');
      expect(errors.map((f) => `${f.rule} ${f.message} at ${f.path}`)).toEqual([]);
    }, 120_000);
  });
});
