import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RapidFailover, type RapidFailoverProps } from './rapid-failover.ts';

export type RapidFailoverStackProps = StackProps & RapidFailoverProps;

/** The deployable stack: the RapidFailover construct and the outputs an operator needs. */
export class RapidFailoverStack extends Stack {
  public readonly controlPlane: RapidFailover;

  constructor(scope: Construct, id: string, props: RapidFailoverStackProps) {
    super(scope, id, props);
    this.controlPlane = new RapidFailover(this, 'ControlPlane', props);
    const { workflow, alerts, store } = this.controlPlane;
    new CfnOutput(this, 'StateMachineArn', { value: workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlertTopicArn', { value: alerts.topic.topicArn });
    new CfnOutput(this, 'StateTableName', { value: store.stateTable.tableName });
    new CfnOutput(this, 'ClaimsTableName', { value: store.claimsTable.tableName });
    new CfnOutput(this, 'RecordsTableName', { value: store.recordsTable.tableName });
  }
}
