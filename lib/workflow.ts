import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ErrorNames, LAMBDA_SERVICE_ERRORS, NODE_FAILURE_ERRORS } from '../core/errors.ts';
import type { StepName } from '../core/workflow-state.ts';

export interface WorkflowProps {
  /** One Lambda per workflow step. */
  readonly steps: Readonly<Record<StepName, lambda.IFunction>>;
  /** The callback Lambda: stores a waiting step's task token; events resume the step through it. */
  readonly callback: lambda.IFunction;
  /** Topic the execution alarms notify. */
  readonly alertTopic: sns.ITopic;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** @default Duration.hours(2) */
  readonly timeout?: Duration;
  /** The step functions' own timeout (every step Lambda has the same): how long a stray invocation can still run. */
  readonly stepTimeout: Duration;
}

/**
 * Errors after which the failed step's invocation may still be running: Step Functions stopped
 * waiting for it (States.Timeout, States.HeartbeatTimeout), or the Invoke call itself failed or
 * timed out on the way (the Lambda service errors, once their Retry is spent) while the function
 * may have started. A handler that threw has ended; these have not, necessarily.
 */
const STRAY_INVOCATION_ERRORS = ['States.Timeout', 'States.HeartbeatTimeout', ...LAMBDA_SERVICE_ERRORS.filter((e) => e !== 'Lambda.TooManyRequestsException')];

/** State names, shared with tests and the local runtime. */
export const States = {
  Lock: 'LockApplication',
  LockAcquired: 'LockAcquired?',
  Skipped: 'AlreadyHandled',
  Select: 'SelectAndClaimNode',
  NodeClaimed: 'NodeClaimed?',
  Provision: 'ProvisionNode',
  Join: 'JoinCluster',
  Shift: 'ShiftTrafficAndFence',
  Release: 'ReleaseOldNode',
  NeedsVerify: 'VerifyPerformance?',
  Settle: 'SettleWindow',
  Verify: 'VerifyPerformance',
  /** Between join and shift: the first health check that can pass (one interval after registration). */
  HealthChecks: 'WaitForHealthChecks',
  StillDegraded: 'StillDegraded?',
  Compensate: 'CompensateClaim',
  WaitOutStrayBeforeCompensate: 'WaitOutStrayInvocation',
  WaitOutStrayBeforeNotify: 'WaitOutStrayLock',
  RetryOrAlert: 'RetryAnotherNode?',
  Notify: 'NotifyAdministrators',
  Finish: 'FinishIncident',
  Succeeded: 'Done',
  Abandoned: 'FailoverAbandoned',
} as const;

/**
 * "IsNull": false is valid ASL, but aws-local-stepfunctions 3.0 evaluates it as never true;
 * Not(IsNull) means the same in AWS and runs the same locally.
 */
function notNull(path: string): sfn.Condition {
  return sfn.Condition.not(sfn.Condition.isNull(path));
}

/** The states around a step that waits: the Choice after it, the Await (event) and the Wait (time) states. */
export function waitStates(step: string): { waiting: string; await: string; resumed: string; wait: string } {
  return { waiting: `${step}Waits?`, await: `Await${step}`, resumed: `${step}Resumed?`, wait: `Wait${step}` };
}

/** Beyond the step's Lambda timeout: the invocation's end and Step Functions' own latency. */
const STRAY_MARGIN_SECONDS = 5;

/**
 * The failover workflow (Standard):
 *
 *   lock ─► select+claim ─► provision ─► join ─► shift+fence ─► release ─► [settle ─► verify] ─► finish
 *             ▲   │ none: stay | alert         │ node failure         (still degraded: next node, A15)
 *             │   ▼                            ▼
 *             └── compensate ◄─────────────────┘  attempts exhausted ─► notify ─► finish
 *
 * Each task takes the whole state and returns the whole new state; a Catch keeps the state and
 * adds `failure`. A step that has to wait (provision, join, shift, release) says for what in
 * `$.wait`, and the Choice after it routes: an AWS event → Await<step> (the callback Lambda with
 * `.waitForTaskToken`; the event resumes it, or after `timeoutSeconds` the step runs again and
 * polls once); a time (no event exists) → Wait<step> until then, and the step runs again. Join
 * ends once the node is registered: WaitForHealthChecks waits one health-check interval and
 * shift confirms the node healthy before it moves traffic.
 */
export class Workflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  public readonly failedAlarm: cloudwatch.Alarm;
  public readonly timedOutAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const step = (state: string, name: StepName, comment: string) => {
      const task = new tasks.LambdaInvoke(this, state, {
        stateName: state,
        comment,
        lambdaFunction: props.steps[name],
        // The function's own return value is the new state: no Payload wrapper.
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
      });
      task.addRetry({
        errors: [ErrorNames.AwsThrottled, ErrorNames.ConfigMismatch, ...LAMBDA_SERVICE_ERRORS],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 6,
        jitterStrategy: sfn.JitterType.FULL,
      });
      return task;
    };

    const lock = step(States.Lock, 'lock', 'One active failover per application; flap damping; cooldown');
    const select = step(States.Select, 'select', 'Pick the best eligible pool node and claim its lease');
    const provision = step(States.Provision, 'provision', 'activate | install | boot-volume; waits on SSM and EC2 events, polls the root-volume task');
    const join = step(States.Join, 'join', 'Run documents and the readiness command (waiting on SSM events), then register in the target groups');
    const shift = step(States.Shift, 'shift', 'Confirm the new node healthy (polled at the health-check interval) and the old host fenced (its stopped event), then move traffic and the address');
    const release = step(States.Release, 'release', 'Return the old node to the pool or quarantine it');
    const verify = step(States.Verify, 'verify', 'Is performance still below threshold on the new node? (A15)');
    const compensate = step(States.Compensate, 'compensate', 'Undo what the failed attempt did; decide retry or alert');
    const notify = step(States.Notify, 'notify', 'SNS alert to administrators');
    const finish = step(States.Finish, 'finish', 'Record the outcome, emit service events and metrics, unlock');
    // Finish is idempotent and releases the lock: retry anything before failing the execution
    // (whose failed-execution alarm then pages administrators).
    finish.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4 });
    // Compensate is idempotent too (the Lambda service retrier already re-runs it) and holds the
    // claim it must give back: a compensation that dies before releasing it would keep a pool node
    // out of use for the claim's lease (2 h 15 min). Retry anything before alerting.
    compensate.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 3 });

    const succeeded = new sfn.Succeed(this, States.Succeeded);
    const abandoned = new sfn.Fail(this, States.Abandoned, {
      error: 'FailoverAbandoned',
      cause: 'The application could not be failed over; administrators were alerted',
    });
    const skipped = new sfn.Succeed(this, States.Skipped, { comment: 'Duplicate, damped or already in progress' });

    // Anything that fails after a claim is compensated; before a claim there is nothing to undo.
    const catchAll = { resultPath: '$.failure' };
    // An invocation Step Functions gave up on may still be running and making calls (claiming,
    // installing, registering) while Compensate undoes them: the two would fight over the node
    // and the address (test/reliability, `timeout` faults). Lambda stops a function at its
    // timeout ("Configure Lambda function timeout", Lambda Developer Guide: "the maximum amount of
    // time in seconds that a Lambda function can run"), so waiting that long, and a little more,
    // before compensating leaves nothing running that could undo the compensation.
    const strayWait = (id: string, next: sfn.IChainable) =>
      new sfn.Wait(this, id, {
        comment: 'The failed invocation may still run: wait out its Lambda timeout before undoing what it did',
        time: sfn.WaitTime.duration(props.stepTimeout.plus(Duration.seconds(STRAY_MARGIN_SECONDS))),
      }).next(next);
    const compensateAfterStray = strayWait(States.WaitOutStrayBeforeCompensate, compensate);
    const notifyAfterStray = strayWait(States.WaitOutStrayBeforeNotify, notify);
    for (const task of [provision, join, shift]) {
      task.addCatch(compensate, { errors: [...NODE_FAILURE_ERRORS], ...catchAll });
      task.addCatch(compensateAfterStray, { errors: STRAY_INVOCATION_ERRORS, ...catchAll });
      task.addCatch(compensate, { errors: ['States.ALL'], ...catchAll });
    }
    select.addCatch(compensateAfterStray, { errors: STRAY_INVOCATION_ERRORS, ...catchAll });
    select.addCatch(compensate, { errors: ['States.ALL'], ...catchAll });
    // The old node is not on the critical path any more: a failed release is reported, not rolled back.
    release.addCatch(compensateAfterStray, { errors: STRAY_INVOCATION_ERRORS, ...catchAll });
    release.addCatch(compensate, { errors: ['States.ALL'], ...catchAll });
    verify.addCatch(finish, { errors: ['States.ALL'], ...catchAll });
    // A stray Lock could take the lock after Finish released it.
    lock.addCatch(notifyAfterStray, { errors: STRAY_INVOCATION_ERRORS, ...catchAll });
    lock.addCatch(notify, { errors: ['States.ALL'], ...catchAll });
    compensate.addCatch(notify, { errors: ['States.ALL'], ...catchAll });
    notify.addCatch(finish, { errors: ['States.ALL'], ...catchAll });

    const outcomeChoice = new sfn.Choice(this, 'Outcome?')
      .when(sfn.Condition.stringEquals('$.outcome', 'alerted'), abandoned)
      .otherwise(succeeded);
    finish.next(outcomeChoice);
    notify.next(finish);

    const retryOrAlert = new sfn.Choice(this, States.RetryOrAlert)
      .when(sfn.Condition.isPresent('$.pendingAlert.kind'), notify)
      .when(notNull('$.outcome'), finish)
      .otherwise(select);
    compensate.next(retryOrAlert);

    const settle = new sfn.Wait(this, States.Settle, { time: sfn.WaitTime.secondsPath('$.settleSeconds') });
    const stillDegraded = new sfn.Choice(this, States.StillDegraded)
      .when(notNull('$.outcome'), finish)
      .otherwise(select);
    settle.next(verify);
    verify.next(stillDegraded);

    const needsVerify = new sfn.Choice(this, States.NeedsVerify)
      .when(sfn.Condition.stringEquals('$.trigger.kind', 'performance'), settle)
      .otherwise(finish);

    const nodeClaimed = new sfn.Choice(this, States.NodeClaimed)
      .when(notNull('$.claim'), provision)
      .when(notNull('$.pendingAlert'), notify)
      .otherwise(finish);

    /**
     * After a step that may wait: Await<step> resumes it on its event (or, `then: 'next'`, goes
     * straight on), Wait<step> runs it again at `$.wait.until`, otherwise `next`.
     */
    const waits = (task: tasks.LambdaInvoke, state: string, next: sfn.IChainable) => {
      const names = waitStates(state);
      const awaitEvent = new tasks.LambdaInvoke(this, names.await, {
        stateName: names.await,
        comment: `The callback Lambda stores the task token under $.wait.event.key; the event resumes ${state} (or after timeoutSeconds ${state} polls once)`,
        lambdaFunction: props.callback,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({
          taskToken: sfn.JsonPath.taskToken,
          incidentId: sfn.JsonPath.stringAt('$.incidentId'),
          app: sfn.JsonPath.stringAt('$.app'),
          wait: sfn.JsonPath.objectAt('$.wait'),
        }),
        resultPath: '$.resumed',
        taskTimeout: sfn.Timeout.at('$.wait.event.timeoutSeconds'),
        retryOnServiceExceptions: false,
      });
      awaitEvent.addRetry({
        errors: [ErrorNames.AwsThrottled, ...LAMBDA_SERVICE_ERRORS],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 6,
        jitterStrategy: sfn.JitterType.FULL,
      });
      // The event said the node failed (the step's failWith): compensate as if the step had failed.
      awaitEvent.addCatch(compensate, { errors: [...NODE_FAILURE_ERRORS], ...catchAll });
      // No event in time (States.Timeout) or the wait itself broke: the step polls once.
      awaitEvent.addCatch(task, { errors: ['States.ALL'], resultPath: '$.resumed' });
      const resumed = new sfn.Choice(this, names.resumed).when(sfn.Condition.stringEquals('$.wait.event.then', 'next'), next).otherwise(task);
      awaitEvent.next(resumed);
      const waitTime = new sfn.Wait(this, names.wait, { time: sfn.WaitTime.timestampPath('$.wait.until') });
      waitTime.next(task);
      const choice = new sfn.Choice(this, names.waiting)
        .when(sfn.Condition.isPresent('$.wait.event'), awaitEvent)
        .when(sfn.Condition.isPresent('$.wait.until'), waitTime);
      task.next(choice.otherwise(next));
    };

    const healthChecks = new sfn.Wait(this, States.HealthChecks, { time: sfn.WaitTime.timestampPath('$.registered.firstCheckAt') });
    healthChecks.next(shift);
    waits(provision, States.Provision, join);
    // Join always ends registered: the only way on is one health-check interval's wait.
    waits(join, States.Join, healthChecks);
    waits(shift, States.Shift, release);
    waits(release, States.Release, needsVerify);
    select.next(nodeClaimed);

    const lockAcquired = new sfn.Choice(this, States.LockAcquired)
      .when(sfn.Condition.stringEquals('$.outcome', 'deduplicated'), skipped)
      // Damped (cooldown, flap window): recorded and finished without touching any node.
      .when(notNull('$.outcome'), finish)
      .otherwise(select);
    lock.next(lockAcquired);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'rapid-failover: provision a pool node on the spot and fail the application over to it',
      definitionBody: sfn.DefinitionBody.fromChainable(lock),
      timeout: props.timeout ?? Duration.hours(2),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });

    const alarmAction = new cwActions.SnsAction(props.alertTopic);
    this.failedAlarm = new cloudwatch.Alarm(this, 'ExecutionsFailed', {
      alarmDescription: 'rapid-failover: a failover execution failed; see the failover record and the execution history',
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.timedOutAlarm = new cloudwatch.Alarm(this, 'ExecutionsTimedOut', {
      alarmDescription: 'rapid-failover: a failover execution timed out; its node claim expires and the lock is released by lease',
      metric: this.stateMachine.metricTimedOut({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.failedAlarm.addAlarmAction(alarmAction);
    this.timedOutAlarm.addAlarmAction(alarmAction);
  }
}
