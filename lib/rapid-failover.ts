import { Aws, CfnRule, type CfnElement, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { ConfigError, parseConfig, type Config } from '../core/config.ts';
import { configDeployTarget, deployTargetProblems } from '../core/deploy-target.ts';
import { stackAlarmNames } from '../core/detection.ts';
import { EnvNames } from '../core/environment.ts';
import { STEPS, type StepName } from '../core/workflow-state.ts';
import { Alerts } from './alerts.ts';
import { AwaitedEvents } from './awaited-events.ts';
import { ControlPlaneAlarms } from './control-plane-alarms.ts';
import { ConfigDocumentAsset } from './config-document.ts';
import { FailoverDashboard } from './dashboard.ts';
import { Detection } from './detection.ts';
import { controlPlaneFunction } from './lambda-factory.ts';
import { functionGrants, functionStatements, type ControlPlaneFunction, type PermissionTargets } from './permissions.ts';
import { StateStore } from './state-store.ts';
import { Workflow } from './workflow.ts';

export interface RapidFailoverProps {
  /** The control plane's config (failover.config.json); validated again here. */
  readonly config: Config;
  /** What happens to tables and log groups when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default `rapid-failover-<stack name>` */
  readonly dashboardName?: string;
}

/** Every step Lambda's timeout: polling steps return quickly; the slowest call is a DescribeInstances page walk over a big pool. */
const STEP_TIMEOUT = Duration.seconds(60);

/** The workflow's timeout; the lock and claim leases (functions/policy.ts) outlive it by 15 minutes. */
const WORKFLOW_TIMEOUT = Duration.hours(2);

/**
 * The whole control plane: state tables, alert topic, detection (alarms and rules), the
 * intake Lambda, the failover workflow with its step Lambdas, and a dashboard.
 */
export class RapidFailover extends Construct {
  public readonly config: Config;
  public readonly store: StateStore;
  public readonly alerts: Alerts;
  public readonly workflow: Workflow;
  public readonly detection: Detection;
  public readonly dashboard: FailoverDashboard;
  public readonly intake: lambda.Function;
  public readonly steps: Readonly<Record<StepName, lambda.Function>>;
  /** Stores waiting steps' task tokens and resumes them on their AWS events. */
  public readonly callback: lambda.Function;
  public readonly awaitedEvents: AwaitedEvents;
  public readonly deadLetterQueue: sqs.Queue;
  /** Intake's on-failure destination: events intake still failed on after Lambda's two retries. */
  public readonly failedTriggerQueue: sqs.Queue;
  public readonly controlPlaneAlarms: ControlPlaneAlarms;

  constructor(scope: Construct, id: string, props: RapidFailoverProps) {
    super(scope, id);
    // A construct may be used from another app with a hand-built object: validate it here too.
    this.config = parseConfig(props.config, `${id}.config`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const stack = Stack.of(this);
    this.checkDeployTarget(stack, `${id}.config`);
    const alarmNames = stackAlarmNames(stack.stackName);

    this.store = new StateStore(this, 'Store', { removalPolicy });
    this.alerts = new Alerts(this, 'Alerts', { emails: this.config.alerts.emails, alarmNamePrefix: alarmNames.prefix });

    // The config is an S3 asset every function reads at cold start: not in the bundles, not in the 4 KB environment.
    const configDocument = new ConfigDocumentAsset(this, 'ConfigDocument', { config: this.config });
    const environment = {
      ...configDocument.environment,
      [EnvNames.StateTable]: this.store.stateTable.tableName,
      [EnvNames.ClaimsTable]: this.store.claimsTable.tableName,
      [EnvNames.RecordsTable]: this.store.recordsTable.tableName,
      [EnvNames.AlertTopicArn]: this.alerts.topic.topicArn,
      [EnvNames.EventBusName]: 'default',
      [EnvNames.StackName]: stack.stackName,
      POWERTOOLS_METRICS_NAMESPACE: 'RapidFailover',
    };
    // Each Lambda gets its own role (controlPlaneFunction), with exactly the calls its code makes (lib/permissions.ts).
    const targets: PermissionTargets = {
      stack,
      config: this.config,
      tableArns: {
        state: this.store.stateTable.tableArn,
        claims: this.store.claimsTable.tableArn,
        records: this.store.recordsTable.tableArn,
        tokens: this.store.tokensTable.tableArn,
      },
      alertTopicArn: this.alerts.topic.topicArn,
      alertKeyArn: this.alerts.key.keyArn,
      configDocumentArn: configDocument.objectArn,
    };

    const steps = {} as Record<StepName, lambda.Function>;
    for (const name of STEPS) {
      steps[name] = controlPlaneFunction(this, `${pascal(name)}Step`, {
        handlerName: name,
        description: `rapid-failover workflow step: ${name}`,
        environment: { ...environment, [EnvNames.Step]: name },
        logRetention,
        logRemovalPolicy: removalPolicy,
        timeout: STEP_TIMEOUT,
      });
      for (const statement of functionStatements(name, targets)) steps[name].addToRolePolicy(statement);
    }
    this.steps = steps;

    // Its own role (the factory's), from its row of the table: the token store, and resuming tasks of this state machine.
    this.callback = controlPlaneFunction(this, 'CallbackStep', {
      handlerName: 'callback',
      description: 'rapid-failover callback: stores waiting steps\' task tokens, resumes them on SSM and EC2 events',
      environment: { ...environment, [EnvNames.TokensTable]: this.store.tokensTable.tableName, [EnvNames.Step]: 'callback' },
      logRetention,
      logRemovalPolicy: removalPolicy,
      timeout: Duration.seconds(30),
    });
    for (const statement of functionStatements('callback', targets)) this.callback.addToRolePolicy(statement);

    this.workflow = new Workflow(this, 'Workflow', {
      steps,
      callback: this.callback,
      alertTopic: this.alerts.topic,
      logRetention,
      removalPolicy,
      timeout: WORKFLOW_TIMEOUT,
      stepTimeout: STEP_TIMEOUT,
    });

    this.intake = controlPlaneFunction(this, 'Intake', {
      handlerName: 'intake',
      description: 'rapid-failover intake: validate, dedupe and start one execution per incident',
      environment: { ...environment, [EnvNames.StateMachineArn]: this.workflow.stateMachine.stateMachineArn, [EnvNames.Step]: 'intake' },
      logRetention,
      logRemovalPolicy: removalPolicy,
      timeout: Duration.seconds(30),
    });
    const intakeTargets = { ...targets, stateMachineArn: this.workflow.stateMachine.stateMachineArn };
    for (const statement of functionStatements('intake', intakeTargets)) this.intake.addToRolePolicy(statement);

    // SSE-SQS, not the AWS managed key alias/aws/sqs: EventBridge must encrypt what it sends to its
    // dead-letter queue, and the AWS managed key's policy cannot be changed to let it ("Key
    // management", SQS Developer Guide: "you cannot modify the key policy of an AWS managed KMS key
    // for Amazon SQS"; AWS services that send to an encrypted queue need a customer managed key
    // whose policy names them, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
    // SSE-SQS needs no key permissions ("Event retry policy and using dead-letter queues", EventBridge User Guide).
    this.deadLetterQueue = this.lastStopQueue('IntakeDeadLetters', 'This queue is itself the dead-letter queue of the intake rules.');

    // Intake's asynchronous invocations (EventBridge invokes it asynchronously): a function error
    // is retried twice, a minute and then two minutes later; what still fails, or waits longer than
    // an hour, goes to this queue with the event and the error ("How Lambda handles errors and
    // retries with asynchronous invocation" and "Capturing records of Lambda asynchronous
    // invocations", Lambda Developer Guide). Encrypted like the dead-letter queue: Lambda sends the
    // record as the function's role, which the destination grants sqs:SendMessage.
    this.failedTriggerQueue = this.lastStopQueue('IntakeFailedTriggers', "This queue is itself where failed triggers end: intake's on-failure destination, read by a person.");
    const failedTriggers = this.failedTriggerQueue;
    this.intake.configureAsyncInvoke({
      // As destinations.SqsDestination, but granting only the one action Lambda uses (it adds GetQueueAttributes and GetQueueUrl).
      onFailure: {
        bind: (_scope, fn) => {
          fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'FailedTriggers', actions: ['sqs:SendMessage'], resources: [failedTriggers.queueArn] }));
          return { destination: failedTriggers.queueArn };
        },
      },
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    });

    this.detection = new Detection(this, 'Detection', {
      config: this.config,
      intake: this.intake,
      deadLetterQueue: this.deadLetterQueue,
      logRetention,
      removalPolicy,
    });

    this.awaitedEvents = new AwaitedEvents(this, 'AwaitedEvents', { callback: this.callback, deadLetterQueue: this.deadLetterQueue });

    this.controlPlaneAlarms = new ControlPlaneAlarms(this, 'Health', {
      config: this.config,
      names: alarmNames,
      alertTopic: this.alerts.topic,
      intake: this.intake,
      deadLetterQueue: this.deadLetterQueue,
      failedTriggers: this.failedTriggerQueue,
      workflow: this.workflow,
      workflowTimeout: WORKFLOW_TIMEOUT,
    });

    this.dashboard = new FailoverDashboard(this, 'Dashboard', {
      stateMachine: this.workflow.stateMachine,
      dashboardName: props.dashboardName ?? `rapid-failover-${stack.stackName}`,
      stackName: stack.stackName,
    });

    this.acknowledgeJustifiedFindings(targets, intakeTargets);
  }

  /**
   * A config that cannot deploy fails at synth, like any other config error: every ARN in the
   * stack's region and partition, and where AWS allows no other, its account (core/deploy-target.ts).
   * An env-agnostic stack knows neither at synth: its ARNs must agree with each other, and the
   * template carries a rule that makes CloudFormation refuse to deploy it into another region or
   * account, before it creates anything ("CloudFormation template Rules syntax", CloudFormation
   * User Guide. ASSUMPTION: an assertion may Ref the pseudo parameters AWS::Region and
   * AWS::AccountId; the page's examples Ref only template parameters).
   */
  private checkDeployTarget(stack: Stack, source: string): void {
    const region = Token.isUnresolved(stack.region) ? undefined : stack.region;
    const account = Token.isUnresolved(stack.account) ? undefined : stack.account;
    const partition = region ? RegionInfo.get(region).partition : undefined;
    const problems = deployTargetProblems(this.config, { region, account, partition });
    if (problems.length > 0) throw new ConfigError(source, problems);
    const expected = configDeployTarget(this.config);
    if (!expected || (region && account)) return;
    new CfnRule(this, 'DeployTarget', {
      assertions: [
        ...(region
          ? []
          : [{ assert: Fn.conditionEquals(Aws.REGION, expected.region), assertDescription: `the config names resources in ${expected.region} (${expected.path}): deploy this stack there` }]),
        ...(account
          ? []
          : [{ assert: Fn.conditionEquals(Aws.ACCOUNT_ID, expected.account), assertDescription: `the config names resources of account ${expected.account} (${expected.path}): deploy this stack there` }]),
      ],
    });
  }

  /**
   * A queue where undeliverable triggers end and a person reads them: SSE-SQS (no key EventBridge
   * or Lambda would need a grant for), TLS only, kept 14 days. It has no dead-letter queue of its
   * own (cdk-nag SQS3), `why` says so.
   */
  private lastStopQueue(id: string, why: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: why });
    return queue;
  }

  /** Each acknowledgement names the exact finding and why it is acceptable. */
  private acknowledgeJustifiedFindings(targets: PermissionTargets, intakeTargets: PermissionTargets): void {
    const stack = Stack.of(this);
    const arnOf = (construct: Construct) => `<${stack.getLogicalId(construct.node.defaultChild as CfnElement)}.Arn>`;
    const ack = (scope: Construct, finding: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });

    // Every wildcard a role's table-generated statements carry, with the reason the table gives for it.
    const xray = 'X-Ray trace writes support no resource-level permissions.';
    const roles: [ControlPlaneFunction, lambda.Function, PermissionTargets][] = [
      ...STEPS.map((name): [ControlPlaneFunction, lambda.Function, PermissionTargets] => [name, this.steps[name], targets]),
      ['intake', this.intake, intakeTargets],
      ['callback', this.callback, targets],
    ];
    for (const [name, fn, fnTargets] of roles) {
      const reasons = new Map<string, string[]>([['Resource::*', [xray]]]);
      for (const grant of functionGrants(name, fnTargets)) {
        for (const resource of grant.resources.filter((r) => r.includes('*'))) {
          const finding = `Resource::${findingArn(stack, resource)}`;
          reasons.set(finding, [...new Set([...(reasons.get(finding) ?? []), grant.wildcard ?? 'see lib/permissions.ts'])]);
        }
        if (grant.actions?.includes('kms:GenerateDataKey*')) {
          reasons.set('Action::kms:GenerateDataKey*', ["Publishing to the KMS-encrypted alert topic needs GenerateDataKey* on the topic's own key only, through SNS (kms:ViaService)."]);
        }
      }
      for (const [finding, why] of reasons) ack(fn.role!, finding, why.join(' '));
    }

    const machineRole = this.workflow.stateMachine.role;
    for (const fn of Object.values(this.steps)) {
      ack(machineRole, `Resource::${arnOf(fn)}:*`, 'Step Functions invokes the step function and its versions (the :* qualifier), nothing else.');
    }
    ack(machineRole, 'Resource::*', 'X-Ray trace writes and CloudWatch Logs delivery for the state machine support no resource-level permissions.');
    ack(machineRole, `Resource::${arnOf(this.callback)}:*`, 'Step Functions invokes the callback function and its versions (the :* qualifier), nothing else.');

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22, the runtime the local runtime and the test suite execute the same handlers on; moving is one line in lib/lambda-factory.ts.',
    });
  }
}

/** An ARN as cdk-nag prints it in a finding: pseudo parameters as <AWS::Partition>, literals as they are. */
function findingArn(stack: Stack, arn: string): string {
  return arn
    .split(stack.partition)
    .join('<AWS::Partition>')
    .split(stack.region)
    .join(findingText(stack.region, 'AWS::Region'))
    .split(stack.account)
    .join(findingText(stack.account, 'AWS::AccountId'));
}

/** How cdk-nag prints a region or account in a finding: the literal, or the pseudo parameter in an env-agnostic stack. */
function findingText(value: string, pseudo: 'AWS::Region' | 'AWS::AccountId'): string {
  return Token.isUnresolved(value) ? `<${pseudo}>` : value;
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
