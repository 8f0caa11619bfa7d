// Starts one workflow execution per incident, named by the incident id so redeliveries collapse.
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { IncidentInput } from '../../core/workflow-state.ts';
import { hasName } from '../aws-errors.ts';

export async function startIncident(sfn: SFNClient, stateMachineArn: string, input: IncidentInput): Promise<'started' | 'duplicate'> {
  try {
    await sfn.send(new StartExecutionCommand({ stateMachineArn, name: input.incidentId, input: JSON.stringify(input) }));
    return 'started';
  } catch (error) {
    if (hasName(error, 'ExecutionAlreadyExists')) return 'duplicate';
    throw error;
  }
}
