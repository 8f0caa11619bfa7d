import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.ts';
import { STATUS_CHECK_ALARM, statusCheckQuery } from '../../core/detection.ts';
import { EnvNames } from '../../core/environment.ts';
import { ErrorNames } from '../../core/errors.ts';
import { STEPS } from '../../core/workflow-state.ts';
import { States } from '../../lib/workflow.ts';
import { extractStateMachine, type CfnTemplate } from '../../local/state-machine-definition.ts';
import { exampleConfig, synthStack } from './synth.ts';

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
    it('creates three on-demand tables with encryption and point-in-time recovery', () => {
      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 3);
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
      expect(Object.keys(handlers)).toHaveLength(STEPS.length + 1);
      for (const handler of Object.values(handlers)) {
        expect(handler).toMatchObject({
          Properties: { Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' }, LoggingConfig: { LogFormat: 'JSON', LogGroup: expect.anything() } },
        });
      }
      // The only other function: the CDK's AwsCustomResource provider that tags the preferred nodes at deploy.
      template.resourceCountIs('AWS::Lambda::Function', STEPS.length + 2);
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
    it('limits every mutating EC2 action on instances to the pool tag', () => {
      const poolNodes = statements().find((s) => s.Sid === 'PoolNodesrapidfailoverpool');
      expect(poolNodes).toBeDefined();
      expect(actionsOf(poolNodes!)).toEqual(
        expect.arrayContaining(['ec2:StartInstances', 'ec2:StopInstances', 'ec2:CreateReplaceRootVolumeTask']),
      );
      expect(poolNodes!.Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/rapid-failover:pool': ['general', 'shared-hosts', 'backup'] },
      });
    });

    it('lets the workflow write only its own tag keys, only on pool nodes', () => {
      const tags = statements().find((s) => s.Sid === 'PoolNodeTagsrapidfailoverpool');
      expect(tags?.Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/rapid-failover:pool': ['general', 'shared-hosts', 'backup'] },
        'ForAllValues:StringLike': { 'aws:TagKeys': ['rapid-failover:*'] },
      });
    });

    it('runs SSM commands only on pool-tagged instances and only the configured documents', () => {
      const onInstances = statements().find((s) => s.Sid === 'PoolNodeCommandsrapidfailoverpool');
      expect(onInstances?.Condition).toEqual({
        StringEquals: { 'ssm:resourceTag/rapid-failover:pool': ['general', 'shared-hosts', 'backup'] },
      });
      const documents = statements().find((s) => s.Sid === 'ConfiguredDocuments');
      expect(JSON.stringify(documents?.Resource)).toContain(':document/AWS-RunShellScript');
    });

    it("A9: allows SendCommand with an application's readiness command document (the join step runs it)", () => {
      const config = exampleConfig();
      const first = config.applications[0]!;
      first.cluster = { ...first.cluster, readinessCommand: { name: 'Acme-ProbeHttp', parameters: {}, timeoutSeconds: 120 } };

      const policies = Object.values(synthStack(config).template.findResources('AWS::IAM::Policy')).flatMap(
        (policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
      );

      const documents = policies.find((s) => s.Sid === 'ConfiguredDocuments');
      expect(JSON.stringify(documents?.Resource)).toContain(':document/Acme-ProbeHttp');
    });

    it("allows an application's own placed nodes by exact ARN, not by wildcard", () => {
      const placed = statements().find((s) => s.Sid === 'PlacedNodes');
      expect(placed?.Resource).toEqual(
        ['i-0aaa0000000000001', 'i-0ccc0000000000001', 'i-0ccc0000000000002', 'i-0ccc0000000000003'].map((id) => ({
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:eu-west-1:123456789012:instance/${id}`]],
        })),
      );
      expect(actionsOf(placed!)).toContain('ssm:SendCommand');
    });

    it('registers targets only in the configured target groups', () => {
      const groups = statements().find((s) => s.Sid === 'TargetGroups');
      const config = exampleConfig();
      expect(groups?.Resource).toEqual(config.applications.flatMap((a) => a.cluster.targetGroupArns));
    });

    it('moves only the configured Elastic IP allocations', () => {
      const addresses = statements().find((s) => s.Sid === 'LogicalAddresses');
      expect(JSON.stringify(addresses?.Resource)).toContain('elastic-ip/eipalloc-0a1b2c3d4e5f60718');
    });

    it('C9: sets security groups on a host only to the configured isolation group (ModifyInstanceAttribute names the group too)', () => {
      const isolation = statements().find((s) => s.Sid === 'IsolationSecurityGroups');
      expect(isolation, 'an IsolationSecurityGroups statement').toBeDefined();
      expect(actionsOf(isolation!)).toEqual(['ec2:ModifyInstanceAttribute']);
      expect(JSON.stringify(isolation?.Resource)).toContain('security-group/sg-0c9f15011a7ed0001');
      expect(JSON.stringify(isolation?.Resource)).not.toContain('security-group/*');
    });

    it('lets EC2 use a customer managed EBS key on the workflow\'s behalf only, when provisioning names one (Requirements for Amazon EBS encryption)', () => {
      const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
      const base = exampleConfig();
      const withKey = parseConfig({
        ...base,
        applications: base.applications.map((app) => (app.name === 'search' ? { ...app, provisioning: { ...app.provisioning, kmsKeyArn: KEY } } : app)),
      });
      const keyed = Object.values(synthStack(withKey).template.findResources('AWS::IAM::Policy')).flatMap(
        (policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
      );
      const viaEc2 = { StringEquals: { 'kms:ViaService': 'ec2.eu-west-1.amazonaws.com' } };

      const use = keyed.find((st) => st.Sid === 'EbsEncryptionKey');
      const grants = keyed.find((st) => st.Sid === 'EbsEncryptionKeyGrants');
      expect(use).toMatchObject({ Resource: KEY, Condition: viaEc2 });
      expect(actionsOf(use!).sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo']);
      expect(grants).toMatchObject({ Action: 'kms:CreateGrant', Resource: KEY, Condition: { ...viaEc2, Bool: { 'kms:GrantIsForAWSResource': true } } });
      // Without a key in the config, the workflow may use no KMS key for EBS at all.
      expect(statements().filter((st) => st.Sid?.startsWith('EbsEncryption') || actionsOf(st).includes('kms:CreateGrant'))).toEqual([]);
    });

    it('has no "*" resource on a mutating action without a condition', () => {
      const readOnly = /^(ec2:Describe|ssm:(Get|List|Describe)|elasticloadbalancing:Describe|cloudwatch:(Get|Describe)|xray:)/;
      // Step Functions' vended log delivery: AWS documents these actions with Resource "*" only.
      const logDelivery = /^logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/;
      // ssm:CancelCommand has no resource types or condition keys (Service Authorization Reference): "*" only.
      const resourceless = /^ssm:CancelCommand$/;
      const offenders = statements().filter((s) => {
        const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
        const hasStar = resources.some((r) => r === '*');
        return hasStar && !s.Condition && actionsOf(s).some((a) => !readOnly.test(a) && !logDelivery.test(a) && !resourceless.test(a));
      });
      expect(offenders).toEqual([]);
    });
  });

  describe('detection', () => {
    it('creates the performance alarm as M of N datapoints below the threshold', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'rapid-failover-checkout-performance',
        Namespace: 'Shop/Checkout',
        MetricName: 'RequestsPerSecondPerHost',
        Threshold: 200,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 5,
        DatapointsToAlarm: 4,
        Period: 60,
      });
    });

    const alarms = () => Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Array<{ Properties: Record<string, unknown> }>;

    it('A11: watches status checks with ONE Metrics Insights alarm over the instances tagged serving, one contributor per instance', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: STATUS_CHECK_ALARM,
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
        AlarmName: 'rapid-failover-fleet-target-health-app-shop-0123456789abcdef',
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
      expect(treatments.filter(([, treatment]) => treatment !== 'notBreaching')).toEqual([]);
    });

    it('scales with load balancers, not applications: performance alarms are the only per-application alarms', () => {
      // checkout: performance; the fleet: status checks, target health of one load balancer; the workflow: failed, timed out.
      expect(alarms().map((a) => a.Properties.AlarmName ?? a.Properties.MetricName).sort()).toEqual([
        'ExecutionsFailed',
        'ExecutionsTimedOut',
        'rapid-failover-checkout-performance',
        'rapid-failover-fleet-status-checks',
        'rapid-failover-fleet-target-health-app-shop-0123456789abcdef',
      ]);
    });

    it('tags the preferred nodes serving at deploy (one CreateTags), with a role that may only set that tag on those instances', () => {
      const [resource, ...more] = Object.values(template.findResources('Custom::AWS')) as Array<{ Properties: { Create: string; Update: string } }>;
      expect(more).toEqual([]);
      const call = { service: 'EC2', action: 'CreateTags', parameters: { Resources: ['i-0aaa0000000000001', 'i-0ccc0000000000001'], Tags: [{ Key: 'rapid-failover:role', Value: 'serving' }] } };
      expect(JSON.parse(resource!.Properties.Create)).toMatchObject(call);
      expect(JSON.parse(resource!.Properties.Update)).toMatchObject(call);
      const tagging = statements().filter((s) => actionsOf(s).includes('ec2:CreateTags') && JSON.stringify(s.Condition ?? {}).includes('"rapid-failover:role"'));
      expect(tagging).toHaveLength(1);
      expect(tagging[0]!.Condition).toEqual({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rapid-failover:role'] } });
      const resources = (tagging[0]!.Resource as unknown[]).map((r) => JSON.stringify(r));
      expect(resources).toHaveLength(2);
      expect(resources[0]).toContain(':ec2:eu-west-1:123456789012:instance/i-0aaa0000000000001');
      expect(resources[1]).toContain(':ec2:eu-west-1:123456789012:instance/i-0ccc0000000000001');
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
          detail: { alarmName: [{ wildcard: 'rapid-failover-*-performance' }], state: { value: ['ALARM'] } },
        },
        Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
      });
    });

    it('A11: routes each time series of the fleet alarms that goes into ALARM (a contributor) to intake, by alarm name prefix', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm Contributor State Change'],
          detail: { alarmName: [{ prefix: 'rapid-failover-fleet-' }], state: { value: ['ALARM'] } },
        },
        Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
      });
    });

    it("routes ALARM transitions of the applications' own alarms to intake by ARN", () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:reports-process-down'],
          detail: { state: { value: ['ALARM'] } },
        },
      });
    });

    it('warns at synth about an application without a preferred node: until its first failover nothing knows its node', () => {
      const warnings = Annotations.fromStack(synthesized.stack).findWarning('*', Match.stringLikeRegexp('search: no placement.preferredNode'));
      expect(warnings).toHaveLength(1);
      expect(Annotations.fromStack(synthesized.stack).findWarning('*', Match.stringLikeRegexp('checkout'))).toEqual([]);
    });

    it('routes EC2 instances that stop or disappear to intake', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.ec2'],
          'detail-type': ['EC2 Instance State-change Notification'],
          detail: { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] },
        },
      });
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

    it('has one Lambda task per step, starting at the lock', () => {
      const { definition } = extractStateMachine(json);
      expect(definition.StartAt).toBe(States.Lock);
      const states = definition.States as Record<string, { Type: string; Resource?: string }>;
      const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
      expect(tasks.map(([name]) => name).sort()).toEqual(
        [States.Lock, States.Select, States.Provision, States.Join, States.Shift, States.Release, States.Verify, States.Compensate, States.Notify, States.Finish].sort(),
      );
      for (const [, task] of tasks) expect(task.Resource).toMatch(/^arn:aws:lambda:/);
    });

    it('polls pending work with backoff and compensates node failures', () => {
      const { definition } = extractStateMachine(json);
      const provision = (definition.States as Record<string, Record<string, unknown>>)[States.Provision]!;
      expect(provision.Retry).toEqual(
        expect.arrayContaining([expect.objectContaining({ ErrorEquals: [ErrorNames.StepPending], BackoffRate: 1.5, MaxDelaySeconds: 30 })]),
      );
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
