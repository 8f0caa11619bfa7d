import { NestedStack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.ts';
import { stackAlarmNames, statusCheckQuery } from '../../core/detection.ts';
import { EnvNames } from '../../core/environment.ts';
import { ErrorNames } from '../../core/errors.ts';
import { STEPS } from '../../core/workflow-state.ts';
import { performanceAlarmStackOf } from '../../lib/detection.ts';
import { States, waitStates } from '../../lib/workflow.ts';
import { extractStateMachine, type CfnTemplate } from '../../local/state-machine-definition.ts';
import { largeConfig } from './large-config.ts';
import { exampleConfig, synthStack } from './synth.ts';

/** synthStack() names its stack TestStack: every alarm is `rapid-failover.TestStack.…`. */
const NAMES = stackAlarmNames('TestStack');

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

describe('RapidFailover stack', () => {
  let synthesized: ReturnType<typeof synthStack>;
  let template: ReturnType<typeof synthStack>['template'];
  let json: CfnTemplate;

  beforeAll(() => {
    synthesized = synthStack();
    template = synthesized.template;
    json = template.toJSON() as CfnTemplate;
  });

  const statements = (): Statement[] =>
    Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
    );
  const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  describe('state tables', () => {
    it('creates four on-demand tables (state, claims, records, the token store) with encryption and point-in-time recovery', () => {
      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 4);
      template.allResourcesProperties('AWS::DynamoDB::GlobalTable', {
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      });
    });

    it('keys the claims table by node and holder, with a TTL on leases', () => {
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        KeySchema: [
          { AttributeName: 'nodeId', KeyType: 'HASH' },
          { AttributeName: 'holder', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      });
    });

    it('retains the tables when the stack is deleted', () => {
      const tables = template.findResources('AWS::DynamoDB::GlobalTable');
      for (const table of Object.values(tables)) expect(table).toMatchObject({ DeletionPolicy: 'Retain' });
    });
  });

  describe('alerts', () => {
    it('encrypts the topic with a rotating KMS key and subscribes each administrator', () => {
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    });

    it('denies publishing over plain HTTP', () => {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });
  });

  describe('lambdas', () => {
    it('runs every handler on Node 22, ARM64, with tracing and JSON logs in a log group with retention', () => {
      const handlers = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { [EnvNames.Step]: Match.anyValue() } } } });
      // The steps, intake and the callback.
      expect(Object.keys(handlers)).toHaveLength(STEPS.length + 2);
      for (const handler of Object.values(handlers)) {
        expect(handler).toMatchObject({
          Properties: { Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' }, LoggingConfig: { LogFormat: 'JSON', LogGroup: expect.anything() } },
        });
      }
      // The only other function: the CDK's AwsCustomResource provider that tags the preferred nodes at deploy.
      template.resourceCountIs('AWS::Lambda::Function', STEPS.length + 3);
      template.allResourcesProperties('AWS::Lambda::Function', { LoggingConfig: Match.objectLike({ LogGroup: Match.anyValue() }) });
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    });

    it('gives the step functions the table names and topic, and intake the state machine', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            STATE_MACHINE_ARN: Match.anyValue(),
            STATE_TABLE_NAME: Match.anyValue(),
            CLAIMS_TABLE_NAME: Match.anyValue(),
            RECORDS_TABLE_NAME: Match.anyValue(),
            ALERT_TOPIC_ARN: Match.anyValue(),
          }),
        },
      });
    });

    it('attaches no AWS managed policy to any role', () => {
      for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
        expect((role as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns).toBeUndefined();
      }
    });
  });

  describe('least privilege', () => {
    // Per role: test/lib/iam/roles.test.ts evaluates every role with AWS's authorization data.
    const roleStatements = (name: string, from = template): Statement[] => {
      const fn = Object.entries(from.findResources('AWS::Lambda::Function')).find(
        ([, r]) => (r as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties.Environment?.Variables?.[EnvNames.Step] === name,
      );
      const roleId = (fn![1] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } }).Properties.Role['Fn::GetAtt'][0];
      return Object.values(from.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(`"${roleId}"`))
        .flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
    };
    const POOLS = { StringEquals: { 'aws:ResourceTag/rapid-failover:pool': ['general', 'shared-hosts', 'backup'] } };
    const MANAGED = { Null: { 'aws:ResourceTag/rapid-failover:managed': 'false' } };

    it('gives each Lambda a role of its own, with only its own calls (lock touches no EC2 node, intake only starts executions)', () => {
      const actions = (name: string) => roleStatements(name).flatMap(actionsOf).filter((a) => !/^(logs|xray):/.test(a)).sort();
      expect(actions('lock').filter((a) => a.startsWith('ec2:'))).toEqual([]);
      // sqs:SendMessage: Lambda sends intake's failed asynchronous invocations to the on-failure queue as intake's role.
      expect(actions('intake')).toEqual(['dynamodb:BatchGetItem', 's3:GetObject', 'sqs:SendMessage', 'states:StartExecution']);
      const sendMessage = roleStatements('intake').filter((s) => actionsOf(s).includes('sqs:SendMessage'));
      const failedTriggers = Object.keys(template.findResources('AWS::SQS::Queue')).find((id) => id.includes('IntakeFailedTriggers'));
      expect(sendMessage.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [failedTriggers, 'Arn'] }]);
      expect(actions('notify')).toEqual(['dynamodb:UpdateItem', 'kms:Decrypt', 'kms:GenerateDataKey*', 's3:GetObject', 'sns:Publish']);
      expect(actions('select')).not.toContain('ec2:StopInstances');
      expect(actions('shift')).toContain('ec2:ModifyInstanceAttribute');
      expect(actions('release')).not.toContain('ec2:ModifyInstanceAttribute');
    });

    it('limits every mutating EC2 action on instances to the pool tag', () => {
      const poolNodes = roleStatements('provision').find((s) => s.Sid === 'PoolNodesrapidfailoverpool');
      expect(actionsOf(poolNodes!).sort()).toEqual(['ec2:CreateReplaceRootVolumeTask', 'ec2:StartInstances', 'ec2:StopInstances']);
      expect(poolNodes!.Condition).toEqual(POOLS);
    });

    it('lets the workflow write exactly its own tag keys, only on pool nodes: never the pool tag, never all tags at once', () => {
      for (const step of ['select', 'shift', 'release', 'compensate']) {
        const tags = roleStatements(step).find((s) => s.Sid === 'PoolNodeTagsrapidfailoverpool');
        expect(tags?.Condition, step).toEqual({
          ...POOLS,
          'ForAllValues:StringLike': { 'aws:TagKeys': ['rapid-failover:application', 'rapid-failover:role', 'rapid-failover:incident', 'rapid-failover:app:*'] },
          Null: { 'aws:TagKeys': 'false' },
        });
      }
    });

    it('runs SSM commands only on pool-tagged or managed instances, with the configured AWS documents or documents tagged rapid-failover:managed', () => {
      const commands = roleStatements('provision');
      expect(commands.find((s) => s.Sid === 'PoolNodeCommandsrapidfailoverpool')?.Condition).toEqual({
        StringEquals: { 'ssm:resourceTag/rapid-failover:pool': ['general', 'shared-hosts', 'backup'] },
      });
      expect(commands.find((s) => s.Sid === 'PlacedNodeCommands')?.Condition).toEqual({ Null: { 'ssm:resourceTag/rapid-failover:managed': 'false' } });
      expect(JSON.stringify(commands.find((s) => s.Sid === 'AwsDocuments')?.Resource)).toContain(':ssm:eu-west-1::document/AWS-RunShellScript');
      // The example names only AWS documents: no statement for the user's own.
      expect(commands.find((s) => s.Sid === 'OwnDocuments')).toBeUndefined();
    });

    it("A9: allows SendCommand with an application's own readiness command document by its rapid-failover:managed tag (the join step runs it)", () => {
      const config = exampleConfig();
      const first = config.applications[0]!;
      first.cluster = { ...first.cluster, readinessCommand: { name: 'Acme-ProbeHttp', parameters: {}, timeoutSeconds: 120 } };
      const own = roleStatements('join', synthStack(config).template).find((s) => s.Sid === 'OwnDocuments');
      expect(own?.Condition).toEqual({ Null: { 'ssm:resourceTag/rapid-failover:managed': 'false' } });
      expect(JSON.stringify(own?.Resource)).toContain(':ssm:eu-west-1:123456789012:document/*');
    });

    it('scopes target groups, Elastic IPs, isolation groups, boot images and placed nodes by the rapid-failover:managed tag, not by per-application ARNs', () => {
      const shift = roleStatements('shift');
      const bySid = (statements: Statement[], sid: string) => statements.find((s) => s.Sid === sid);
      for (const [sid, resource] of [['TargetGroups', ':targetgroup/*/*'], ['ElasticIps', ':elastic-ip/*'], ['IsolationSecurityGroups', ':security-group/*'], ['PlacedNodes', ':instance/*'], ['PlacedNodeInterfaces', ':network-interface/*']] as const) {
        expect(bySid(shift, sid)?.Condition, sid).toEqual(MANAGED);
        expect(JSON.stringify(bySid(shift, sid)?.Resource), sid).toContain(resource);
      }
      expect(bySid(shift, 'PoolNodeInterfacesrapidfailoverpool')?.Condition).toEqual(POOLS);
      expect(bySid(roleStatements('provision'), 'BootImages')?.Condition).toEqual(MANAGED);
      // No role names an application's own resources.
      const all = JSON.stringify([...STEPS, 'intake'].map((name) => roleStatements(name)));
      const config = exampleConfig();
      for (const app of config.applications) {
        const own = [...app.cluster.targetGroupArns, app.cluster.isolationSecurityGroupId, app.placement.preferredNode, ...app.placement.possibleNodes];
        if (app.cluster.logicalAddress?.kind === 'elastic-ip') own.push(app.cluster.logicalAddress.allocationId);
        if (app.provisioning.method === 'boot-volume') own.push(app.provisioning.source.imageId);
        for (const id of own.filter((x): x is string => x !== undefined)) expect(all, app.name).not.toContain(id);
      }
    });

    it('puts service events on the default bus only with the workflow source and its detail types (events:source is multivalued)', () => {
      for (const step of ['provision', 'finish']) {
        expect(roleStatements(step).find((s) => s.Sid === 'ServiceEvents')?.Condition, step).toEqual({
          'ForAllValues:StringEquals': { 'events:source': ['rapid-failover'], 'events:detail-type': ['Service Up', 'Service Down'] },
          Null: { 'events:source': 'false', 'events:detail-type': 'false' },
        });
      }
    });

    it("lets EC2 use a customer managed EBS key tagged rapid-failover:managed on the workflow's behalf only, when provisioning names one (Requirements for Amazon EBS encryption)", () => {
      const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
      const base = exampleConfig();
      const withKey = parseConfig({
        ...base,
        applications: base.applications.map((app) => (app.name === 'search' ? { ...app, provisioning: { ...app.provisioning, kmsKeyArn: KEY } } : app)),
      });
      const keyed = roleStatements('provision', synthStack(withKey).template);
      const viaEc2 = { ...MANAGED, StringEquals: { 'kms:ViaService': 'ec2.eu-west-1.amazonaws.com' } };

      const use = keyed.find((st) => st.Sid === 'EbsEncryptionKey');
      const grants = keyed.find((st) => st.Sid === 'EbsEncryptionKeyGrants');
      expect(use).toMatchObject({ Condition: viaEc2 });
      expect(JSON.stringify(use!.Resource)).toContain(':kms:eu-west-1:123456789012:key/*');
      expect(actionsOf(use!).sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo']);
      expect(grants).toMatchObject({ Action: 'kms:CreateGrant', Condition: { ...viaEc2, Bool: { 'kms:GrantIsForAWSResource': true } } });
      // Without a key in the config, the workflow may use no KMS key for EBS at all.
      expect(statements().filter((st) => st.Sid?.startsWith('EbsEncryption') || actionsOf(st).includes('kms:CreateGrant'))).toEqual([]);
    });

    it('does not grow with the number of applications (issue 10 §3): 20 and 120 generated applications give the same policies', () => {
      const policies = (count: number) => {
        const synthesized = synthStack(largeConfig(count)).template;
        // The config document's key is its content hash: the one resource that differs by config, never by size.
        const statements = STEPS.map((step) => [step, JSON.parse(JSON.stringify(roleStatements(step, synthesized)).replace(/[0-9a-f]{64}\.json/g, '<document>.json'))]);
        return Object.fromEntries(statements);
      };
      expect(policies(120)).toEqual(policies(20));
    });

    it('has no "*" resource on a mutating action without a condition', () => {
      const readOnly = /^(ec2:Describe|ssm:(Get|List|Describe)|elasticloadbalancing:Describe|cloudwatch:(Get|Describe)|xray:)/;
      // Step Functions' vended log delivery: AWS documents these actions with Resource "*" only.
      const logDelivery = /^logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/;
      // ssm:CancelCommand, states:SendTaskSuccess and states:SendTaskFailure have no resource types or condition keys (Service Authorization Reference): "*" only.
      const resourceless = /^(ssm:CancelCommand|states:SendTaskSuccess|states:SendTaskFailure)$/;
      const offenders = statements().filter((s) => {
        const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
        const hasStar = resources.some((r) => r === '*');
        return hasStar && !s.Condition && actionsOf(s).some((a) => !readOnly.test(a) && !logDelivery.test(a) && !resourceless.test(a));
      });
      expect(offenders).toEqual([]);
    });
  });

  describe('detection', () => {
    /** The nested stacks that hold the performance alarms, by construct id. */
    const nestedStacks = () =>
      new Map(synthesized.stack.node.findAll().filter((c): c is NestedStack => NestedStack.isNestedStack(c)).map((n) => [n.node.id, Template.fromStack(n)] as const));

    it('creates the performance alarm as M of N datapoints below the threshold, in the nested stack its name hashes to', () => {
      const nested = nestedStacks();
      expect([...nested.keys()]).toEqual([`PerformanceAlarms${performanceAlarmStackOf('checkout')}`]);
      nested.get(`PerformanceAlarms${performanceAlarmStackOf('checkout')}`)!.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'rapid-failover.TestStack.checkout-performance',
        Namespace: 'Shop/Checkout',
        MetricName: 'RequestsPerSecondPerHost',
        Threshold: 200,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 5,
        DatapointsToAlarm: 4,
        Period: 60,
      });
      template.resourceCountIs('AWS::CloudFormation::Stack', 1);
    });

    const alarms = () => Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Array<{ Properties: Record<string, unknown> }>;

    it('A11: watches status checks with ONE Metrics Insights alarm over the instances tagged serving, one contributor per instance', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: NAMES.statusChecks,
        Metrics: [{ Id: 'm1', Expression: statusCheckQuery(), Period: 60, ReturnData: true }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
      });
      expect(statusCheckQuery()).toBe(
        `SELECT MAX(StatusCheckFailed) FROM SCHEMA("AWS/EC2", InstanceId) WHERE tag."rapid-failover:role" = 'serving' GROUP BY InstanceId ORDER BY MAX() DESC`,
      );
      // No alarm is bound to one instance: nothing has to be re-pointed when the serving node changes.
      const statusAlarms = alarms().filter((a) => JSON.stringify(a.Properties).includes('StatusCheckFailed'));
      expect(statusAlarms).toHaveLength(1);
      expect(alarms().filter((a) => JSON.stringify(a.Properties.Dimensions ?? []).includes('InstanceId'))).toEqual([]);
    });

    it('watches target health with one Metrics Insights alarm per load balancer, one contributor per target group', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'rapid-failover.TestStack.fleet-target-health-app-shop-0123456789abcdef',
        Metrics: [
          {
            Id: 'm1',
            Expression: `SELECT MAX(UnHealthyHostCount) FROM SCHEMA("AWS/ApplicationELB", LoadBalancer, TargetGroup) WHERE LoadBalancer = 'app/shop/0123456789abcdef' GROUP BY LoadBalancer, TargetGroup ORDER BY MAX() DESC`,
            Period: 60,
            ReturnData: true,
          },
        ],
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
      });
    });

    it('A11: missing data never breaches, so a stack deployed before its nodes report starts no failover', () => {
      const treatments = alarms().map((a) => [a.Properties.AlarmName ?? a.Properties.MetricName, a.Properties.TreatMissingData]);
      expect(treatments.filter(([, treatment]) => treatment !== 'notBreaching' && treatment !== 'ignore')).toEqual([]);
      // A queue nobody calls goes inactive and stops reporting its depth: its alarm keeps its state (ignore), it never breaches on no data.
      expect(treatments.filter(([, treatment]) => treatment === 'ignore').map(([name]) => name).sort()).toEqual([NAMES.controlPlane('failed-triggers'), NAMES.controlPlane('undelivered-events')]);
    });

    it('scales with load balancers, not applications: performance alarms are the only per-application alarms, and they live in nested stacks', () => {
      // checkout: performance; the fleet: status checks, target health of one load balancer; the control plane's own health.
      expect(alarms().map((a) => a.Properties.AlarmName ?? a.Properties.MetricName).sort()).toEqual([
        'rapid-failover.TestStack.control-plane-executions-failed',
        'rapid-failover.TestStack.control-plane-executions-timed-out',
        'rapid-failover.TestStack.control-plane-failed-triggers',
        'rapid-failover.TestStack.control-plane-failover-overrun',
        'rapid-failover.TestStack.control-plane-intake-errors',
        'rapid-failover.TestStack.control-plane-malformed-events',
        'rapid-failover.TestStack.control-plane-undelivered-events',
        'rapid-failover.TestStack.fleet-status-checks',
        'rapid-failover.TestStack.fleet-target-health-app-shop-0123456789abcdef',
      ]);
      // checkout: performance, the only application with performance detection.
      const nested = [...nestedStacks().values()].flatMap((t) => Object.values(t.findResources('AWS::CloudWatch::Alarm'))) as Array<{ Properties: { AlarmName: string } }>;
      expect(nested.map((a) => a.Properties.AlarmName)).toEqual(['rapid-failover.TestStack.checkout-performance']);
    });

    it('tags the preferred nodes serving at deploy (one CreateTags), with a role that may only set that tag, on pool or rapid-failover:managed instances', () => {
      const [resource, ...more] = Object.values(template.findResources('Custom::AWS')) as Array<{ Properties: { Create: string; Update: string } }>;
      expect(more).toEqual([]);
      const call = { service: 'EC2', action: 'CreateTags', parameters: { Resources: ['i-0aaa0000000000001', 'i-0ccc0000000000001'], Tags: [{ Key: 'rapid-failover:role', Value: 'serving' }] } };
      expect(JSON.parse(resource!.Properties.Create)).toMatchObject(call);
      expect(JSON.parse(resource!.Properties.Update)).toMatchObject(call);
      const tagging = statements().filter((s) => actionsOf(s).includes('ec2:CreateTags') && s.Condition?.['ForAllValues:StringEquals'] !== undefined);
      const onlyServing = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rapid-failover:role'] } };
      expect(tagging.map((s) => s.Condition)).toEqual([
        { ...onlyServing, StringEquals: { 'aws:ResourceTag/rapid-failover:pool': ['general', 'shared-hosts', 'backup'] }, Null: { 'aws:TagKeys': 'false' } },
        { ...onlyServing, Null: { 'aws:TagKeys': 'false', 'aws:ResourceTag/rapid-failover:managed': 'false' } },
      ]);
      for (const s of tagging) expect(JSON.stringify(s.Resource)).toContain(':ec2:eu-west-1:123456789012:instance/*');
    });

    it('A11: no role may write an alarm (PutMetricAlarm could attach EC2 stop/terminate actions to any instance), nor needs to read one', () => {
      const alarmActions = statements().flatMap(actionsOf).filter((a) => /^cloudwatch:(PutMetricAlarm|PutCompositeAlarm|DescribeAlarms|SetAlarmState|DeleteAlarms)$/.test(a));
      expect(alarmActions).toEqual([]);
    });

    it('routes ALARM transitions of the performance alarms to intake by name', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: [{ wildcard: 'rapid-failover.TestStack.*-performance' }], state: { value: ['ALARM'] } },
        },
        Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
      });
    });

    it('A11: routes each time series of the fleet alarms that goes into ALARM (a contributor) to intake, by alarm name prefix', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm Contributor State Change'],
          detail: { alarmName: [{ prefix: 'rapid-failover.TestStack.fleet-' }], state: { value: ['ALARM'] } },
        },
        Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
      });
    });

    it("routes ALARM transitions of the applications' own alarms to intake by their name prefix, one pattern for any number of applications (EventBridge quotas: event pattern 2,048 characters)", () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: [{ prefix: 'failover-trigger-' }], state: { value: ['ALARM'] } },
        },
      });
      expect(JSON.stringify(json)).not.toContain('alarm:failover-trigger-reports-process-down');
    });

    it('warns at synth about an application without a preferred node: until its first failover nothing knows its node', () => {
      const warnings = Annotations.fromStack(synthesized.stack).findWarning('*', Match.stringLikeRegexp('search: no placement.preferredNode'));
      expect(warnings).toHaveLength(1);
      expect(Annotations.fromStack(synthesized.stack).findWarning('*', Match.stringLikeRegexp('checkout: no placement'))).toEqual([]);
    });

    it('A11: routes EC2 instances that start to stop or to terminate to intake (the first state of each way down, once)', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.ec2'],
          'detail-type': ['EC2 Instance State-change Notification'],
          detail: { state: ['stopping', 'shutting-down'] },
        },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^.*Intake'), 'Arn'] } })],
      });
    });

    it('routes the events that end a wait to the callback Lambda: SSM command invocations that ended, EC2 instances running or stopped', () => {
      const callbackTarget = [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('CallbackStep'), 'Arn'] } })];
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.ssm'],
          'detail-type': ['EC2 Command Invocation Status-change Notification'],
          detail: { status: ['Success', 'Failed', 'TimedOut', 'Cancelled'] },
        },
        Targets: callbackTarget,
      });
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['running', 'stopped'] } },
        Targets: callbackTarget,
      });
    });

    it('gives the callback Lambda a role of its own: UpdateItem on the token store, the config document, and SendTaskSuccess / SendTaskFailure ("*": no resource types in the Service Authorization Reference)', () => {
      const tokens = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable')).find((id) => id.includes('TokensTable'))!;
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            { Sid: 'TokensTable', Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: { 'Fn::GetAtt': [tokens, 'Arn'] } },
            { Sid: 'ResumeWaitingSteps', Effect: 'Allow', Action: ['states:SendTaskFailure', 'states:SendTaskSuccess'], Resource: '*' },
          ]),
        },
        Roles: [{ Ref: Match.stringLikeRegexp('CallbackStepRole') }],
      });
      const callbackPolicies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes('CallbackStepRole'),
      );
      const actions = callbackPolicies.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[] }> } } }).Properties.PolicyDocument.Statement.flatMap((st) => [st.Action].flat()));
      expect(new Set(actions)).toEqual(
        new Set(['states:SendTaskSuccess', 'states:SendTaskFailure', 'dynamodb:UpdateItem', 's3:GetObject', 'logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords']),
      );
    });

    it('A5: routes the Service Down event of a preempted application back to intake', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['rapid-failover'], 'detail-type': ['Service Down'], detail: { reason: ['preempted'] } },
      });
    });

    it('routes operator switchover and drill requests to intake', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['rapid-failover.operator'],
          'detail-type': ['Switchover Requested', 'Drill Requested'],
        },
      });
    });
  });

  describe('workflow', () => {
    it('is a Standard state machine with logging at level ALL and tracing', () => {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
      });
    });

    it('alarms on failed and timed-out executions into the alert topic', () => {
      for (const metricName of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metricName,
          Namespace: 'AWS/States',
          AlarmActions: [Match.objectLike({ Ref: Match.stringLikeRegexp('Topic') })],
        });
      }
    });

    it('has one Lambda task per step, starting at the lock, and an Await task (the callback Lambda) after each step that waits', () => {
      const { definition } = extractStateMachine(json);
      expect(definition.StartAt).toBe(States.Lock);
      const states = definition.States as Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }>;
      const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
      const steps = [States.Lock, States.Select, States.Provision, States.Join, States.Shift, States.Release, States.Verify, States.Compensate, States.Notify, States.Finish];
      const awaits = [States.Provision, States.Join, States.Shift, States.Release].map((s) => waitStates(s).await);
      expect(tasks.map(([name]) => name).sort()).toEqual([...steps, ...awaits].sort());
      for (const name of steps) expect(states[name]!.Resource, name).toMatch(/^arn:aws:lambda:/);
      for (const name of awaits) {
        expect(states[name]!.Resource, name).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
        expect(states[name]!.Parameters?.FunctionName, name).toMatch(/^arn:aws:lambda:.*:function:.*CallbackStep/);
      }
    });

    it('waits on events with a task token, a timeout from the wait and a fallback poll; no Retry polls pending work; compensates node failures', () => {
      const { definition } = extractStateMachine(json);
      const all = definition.States as Record<string, Record<string, unknown>>;
      for (const state of Object.values(all)) {
        for (const retrier of (state.Retry as Array<{ ErrorEquals: string[] }> | undefined) ?? []) expect(retrier.ErrorEquals).not.toContain(ErrorNames.StepPending);
      }
      const names = waitStates(States.Provision);
      const awaitProvision = all[names.await]!;
      expect(awaitProvision).toMatchObject({
        TimeoutSecondsPath: '$.wait.event.timeoutSeconds',
        ResultPath: '$.resumed',
        Parameters: { Payload: { 'taskToken.$': '$$.Task.Token', 'wait.$': '$.wait' } },
      });
      expect(awaitProvision.Catch).toEqual([
        expect.objectContaining({ ErrorEquals: expect.arrayContaining([ErrorNames.ProvisioningFailed]), Next: States.Compensate, ResultPath: '$.failure' }),
        // A lost or late event (States.Timeout) costs time, not the failover: the step polls once.
        expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: States.Provision, ResultPath: '$.resumed' }),
      ]);
      expect(all[names.wait]).toMatchObject({ Type: 'Wait', TimestampPath: '$.wait.until', Next: States.Provision });
      expect(all[States.HealthChecks]).toMatchObject({ Type: 'Wait', TimestampPath: '$.registered.firstCheckAt', Next: States.Shift });
      const provision = all[States.Provision]!;
      expect(provision.Catch).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            ErrorEquals: expect.arrayContaining([ErrorNames.ProvisioningFailed, ErrorNames.StepTimeout]),
            Next: States.Compensate,
            ResultPath: '$.failure',
          }),
        ]),
      );
    });

    it('waits out the Lambda timeout of an invocation that may still run (States.Timeout, a failed Invoke) before compensating or unlocking', () => {
      const { definition } = extractStateMachine(json);
      const states = definition.States as Record<string, { Type: string; Catch?: Array<{ ErrorEquals: string[]; Next: string }>; Seconds?: number; Next?: string }>;
      const functionTimeout = (Object.values(template.findResources('AWS::Lambda::Function')) as Array<{ Properties: { Timeout?: number; Environment?: { Variables?: Record<string, string> } } }>)
        .filter((f) => f.Properties.Environment?.Variables?.[EnvNames.Step] === 'provision')
        .map((f) => f.Properties.Timeout)[0]!;
      expect(states[States.WaitOutStrayBeforeCompensate]).toMatchObject({ Type: 'Wait', Seconds: functionTimeout + 5, Next: States.Compensate });
      expect(states[States.WaitOutStrayBeforeNotify]).toMatchObject({ Type: 'Wait', Seconds: functionTimeout + 5, Next: States.Notify });
      const strayCatch = (state: string) => states[state]!.Catch!.find((c) => c.ErrorEquals.includes('States.Timeout'));
      for (const state of [States.Select, States.Provision, States.Join, States.Shift, States.Release]) {
        expect(strayCatch(state), state).toMatchObject({ Next: States.WaitOutStrayBeforeCompensate });
        expect(strayCatch(state)!.ErrorEquals, state).toEqual(expect.arrayContaining(['Lambda.ServiceException', 'Lambda.ClientExecutionTimeoutException']));
      }
      expect(strayCatch(States.Lock)).toMatchObject({ Next: States.WaitOutStrayBeforeNotify });
      // A handler that threw has ended: node failures are compensated at once.
      expect(states[States.Provision]!.Catch![0]).toMatchObject({ Next: States.Compensate });
    });

    it('retries throttling and Lambda service errors on every task', () => {
      const { definition } = extractStateMachine(json);
      for (const [name, state] of Object.entries(definition.States as Record<string, { Type: string; Retry?: { ErrorEquals: string[] }[] }>)) {
        if (state.Type !== 'Task') continue;
        const errors = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
        expect(errors, name).toEqual(expect.arrayContaining([ErrorNames.AwsThrottled, 'Lambda.TooManyRequestsException']));
      }
    });

    it('retries the finish step on any error, after the transient retrier: it holds the lock', () => {
      const { definition } = extractStateMachine(json);
      const finish = (definition.States as Record<string, { Retry?: Array<{ ErrorEquals: string[] }> }>)[States.Finish]!;
      expect(finish.Retry?.at(-1)).toMatchObject({ ErrorEquals: ['States.ALL'], MaxAttempts: 4 });
      expect(finish.Retry?.[0]?.ErrorEquals).toContain(ErrorNames.AwsThrottled);
    });

    it('retries the compensate step on any error, after the transient retrier: it holds the claim it must give back', () => {
      const { definition } = extractStateMachine(json);
      const compensate = (definition.States as Record<string, { Retry?: Array<{ ErrorEquals: string[] }> }>)[States.Compensate]!;
      expect(compensate.Retry?.at(-1)).toMatchObject({ ErrorEquals: ['States.ALL'], MaxAttempts: 3 });
      expect(compensate.Retry?.[0]?.ErrorEquals).toContain(ErrorNames.AwsThrottled);
    });

    it('waits the settle window only on a performance trigger before verifying (A15)', () => {
      const { definition } = extractStateMachine(json);
      const states = definition.States as Record<string, Record<string, unknown>>;
      expect(states[States.Settle]).toMatchObject({ Type: 'Wait', SecondsPath: '$.settleSeconds', Next: States.Verify });
      expect(states[States.NeedsVerify]).toMatchObject({
        Type: 'Choice',
        Choices: [{ Variable: '$.trigger.kind', StringEquals: 'performance', Next: States.Settle }],
      });
    });

    it('passes asl-validator', () => {
      const { definition } = extractStateMachine(json);
      const result = aslValidator(definition);
      expect(result.errorsText()).toBe('');
      expect(result.isValid).toBe(true);
    });
  });

  it('exports the state machine ARN, topic ARN and table names', () => {
    for (const output of ['StateMachineArn', 'AlertTopicArn', 'StateTableName', 'ClaimsTableName', 'RecordsTableName']) {
      template.hasOutput(output, {});
    }
  });

  it('passes the AwsSolutions cdk-nag checks with every acknowledgement justified', () => {
    const report = new AwsSolutionsChecks(synthesized.app).validateScope(synthesized.stack);
    const findings = report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });
});
