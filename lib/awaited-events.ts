import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AWAITED_INSTANCE_STATES, COMMAND_END_STATUSES, COMMAND_INVOCATION_STATUS_CHANGE, EC2_SOURCE, INSTANCE_STATE_CHANGE, SSM_SOURCE } from '../core/awaited-events.ts';

export interface AwaitedEventsProps {
  /** The callback Lambda: matches each event to the task token of the step that waits for it. */
  readonly callback: lambda.IFunction;
  /** Where events go that could not be delivered to the callback. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The AWS events that end the workflow's waits, routed to the callback Lambda: an SSM command
 * invocation reaching an end status (a step's document finished), and an EC2 instance reaching
 * running (a started pool node) or stopped (a fenced host). Shapes: core/awaited-events.ts.
 */
export class AwaitedEvents extends Construct {
  public readonly commandRule: events.Rule;
  public readonly instanceRule: events.Rule;

  constructor(scope: Construct, id: string, props: AwaitedEventsProps) {
    super(scope, id);
    const target = new targets.LambdaFunction(props.callback, {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 8,
      // Past the longest wait's timeout the step has polled on its own anyway.
      maxEventAge: Duration.hours(2),
    });
    this.commandRule = new events.Rule(this, 'CommandInvocationRule', {
      description: 'rapid-failover: an SSM command ended on an instance (ends a workflow step waiting on it)',
      eventPattern: { source: [SSM_SOURCE], detailType: [COMMAND_INVOCATION_STATUS_CHANGE], detail: { status: [...COMMAND_END_STATUSES] } },
      targets: [target],
    });
    this.instanceRule = new events.Rule(this, 'InstanceStateRule', {
      description: 'rapid-failover: an EC2 instance is running or stopped (ends a workflow step waiting on it)',
      eventPattern: { source: [EC2_SOURCE], detailType: [INSTANCE_STATE_CHANGE], detail: { state: [...AWAITED_INSTANCE_STATES] } },
      targets: [target],
    });
  }
}
