import { type CfnElement, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseConfig, type Config } from '../core/config.ts';
import { EnvNames } from '../core/environment.ts';
import { STEPS, type StepName } from '../core/workflow-state.ts';
import { Alerts } from './alerts.ts';
import { ConfigDocumentAsset } from './config-document.ts';
import { FailoverDashboard } from './dashboard.ts';
import { Detection } from './detection.ts';
import { controlPlaneFunction } from './lambda-factory.ts';
import { fleetStatements } from './permissions.ts';
import { StateStore } from './state-store.ts';
import { Workflow } from './workflow.ts';

export interface RapidFailoverProps {
  /** The control plane's config (failover.config.json); validated again here. */
  readonly config: Config;
  /** What happens to tables and log groups when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'rapid-failover' */
  readonly dashboardName?: string;
}

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
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RapidFailoverProps) {
    super(scope, id);
    // A construct may be used from another app with a hand-built object: validate it here too.
    this.config = parseConfig(props.config, `${id}.config`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const stack = Stack.of(this);

    this.store = new StateStore(this, 'Store', { removalPolicy });
    this.alerts = new Alerts(this, 'Alerts', { emails: this.config.alerts.emails });

    // The config is an S3 asset every function reads at cold start: not in the bundles, not in the 4 KB environment.
    const configDocument = new ConfigDocumentAsset(this, 'ConfigDocument', { config: this.config });
    const environment = {
      ...configDocument.environment,
      [EnvNames.StateTable]: this.store.stateTable.tableName,
      [EnvNames.ClaimsTable]: this.store.claimsTable.tableName,
      [EnvNames.RecordsTable]: this.store.recordsTable.tableName,
      [EnvNames.AlertTopicArn]: this.alerts.topic.topicArn,
      [EnvNames.EventBusName]: 'default',
      POWERTOOLS_METRICS_NAMESPACE: 'RapidFailover',
    };
    const stepRole = new iam.Role(this, 'StepRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'rapid-failover workflow steps: pool nodes by tag, configured target groups, documents and addresses',
    });
    for (const statement of fleetStatements(stack, this.config)) stepRole.addToPolicy(statement);
    this.store.stateTable.grantReadWriteData(stepRole);
    this.store.claimsTable.grantReadWriteData(stepRole);
    this.store.recordsTable.grantReadWriteData(stepRole);
    this.alerts.topic.grantPublish(stepRole);
    configDocument.grantRead(stepRole);
    stepRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ServiceEvents',
        actions: ['events:PutEvents'],
        resources: [`arn:${stack.partition}:events:${stack.region}:${stack.account}:event-bus/default`],
      }),
    );

    const steps = {} as Record<StepName, lambda.Function>;
    for (const name of STEPS) {
      steps[name] = controlPlaneFunction(this, `${pascal(name)}Step`, {
        handlerName: name,
        description: `rapid-failover workflow step: ${name}`,
        role: stepRole,
        environment: { ...environment, [EnvNames.Step]: name },
        logRetention,
        logRemovalPolicy: removalPolicy,
        // Polling steps return quickly; the slowest call is a DescribeInstances page walk over a big pool.
        timeout: Duration.seconds(60),
      });
    }
    this.steps = steps;

    this.workflow = new Workflow(this, 'Workflow', {
      steps,
      alertTopic: this.alerts.topic,
      logRetention,
      removalPolicy,
    });

    this.intake = controlPlaneFunction(this, 'Intake', {
      handlerName: 'intake',
      description: 'rapid-failover intake: validate, dedupe and start one execution per incident',
      environment: { ...environment, [EnvNames.StateMachineArn]: this.workflow.stateMachine.stateMachineArn, [EnvNames.Step]: 'intake' },
      logRetention,
      logRemovalPolicy: removalPolicy,
      timeout: Duration.seconds(30),
    });
    this.workflow.stateMachine.grantStartExecution(this.intake);
    this.store.stateTable.grantReadData(this.intake);
    configDocument.grantRead(this.intake.role!);

    this.deadLetterQueue = new sqs.Queue(this, 'IntakeDeadLetters', {
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the intake rules.',
    });

    this.detection = new Detection(this, 'Detection', {
      config: this.config,
      intake: this.intake,
      deadLetterQueue: this.deadLetterQueue,
      logRetention,
      removalPolicy,
    });

    this.dashboard = new FailoverDashboard(this, 'Dashboard', {
      stateMachine: this.workflow.stateMachine,
      dashboardName: props.dashboardName,
    });

    this.acknowledgeJustifiedFindings(stepRole);
  }

  /** Each acknowledgement names the exact finding and why it is acceptable. */
  private acknowledgeJustifiedFindings(stepRole: iam.Role): void {
    const stack = Stack.of(this);
    const region = findingText(stack.region, 'AWS::Region');
    const account = findingText(stack.account, 'AWS::AccountId');
    const arnOf = (construct: Construct) => `<${stack.getLogicalId(construct.node.defaultChild as CfnElement)}.Arn>`;
    const ack = (scope: Construct, finding: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });

    const tagScoped =
      'Pool nodes are found at run time by tag: this resource pattern is limited by an aws:ResourceTag / ssm:resourceTag condition on the pool tag (or, for the swap task and volume, usable only together with such an instance).';
    for (const resource of ['instance/*', 'network-interface/*', 'replace-root-volume-task/*', 'volume/*']) {
      ack(stepRole, `Resource::arn:<AWS::Partition>:ec2:${region}:${account}:${resource}`, tagScoped);
    }
    ack(stepRole, 'Resource::*', 'Describe/Get/List calls of EC2, SSM, ELB and CloudWatch and X-Ray trace writes support no resource-level permissions; every mutating action is scoped.');
    ack(stepRole, 'Action::kms:GenerateDataKey*', "Publishing to the KMS-encrypted alert topic needs GenerateDataKey* on the topic's own key only.");

    const machineRole = this.workflow.stateMachine.role;
    for (const fn of Object.values(this.steps)) {
      ack(machineRole, `Resource::${arnOf(fn)}:*`, 'Step Functions invokes the step function and its versions (the :* qualifier), nothing else.');
    }
    ack(machineRole, 'Resource::*', 'X-Ray trace writes and CloudWatch Logs delivery for the state machine support no resource-level permissions.');
    ack(this.intake.role!, 'Resource::*', 'X-Ray trace writes support no resource-level permissions.');

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22, the runtime the local runtime and the test suite execute the same handlers on; moving is one line in lib/lambda-factory.ts.',
    });
  }
}

/** How cdk-nag prints a region or account in a finding: the literal, or the pseudo parameter in an env-agnostic stack. */
function findingText(value: string, pseudo: 'AWS::Region' | 'AWS::AccountId'): string {
  return Token.isUnresolved(value) ? `<${pseudo}>` : value;
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
