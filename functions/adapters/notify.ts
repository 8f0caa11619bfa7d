// Administrator alerts (SNS) and service up / down events to the other groups (EventBridge, C8).
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { EVENT_SOURCE } from '../../core/metrics.ts';
import type { Alert } from '../../core/workflow-state.ts';
import { THROTTLING_ERRORS } from '../aws-errors.ts';

export async function publishAlert(sns: SNSClient, topicArn: string, alert: Alert, context: { app: string; incidentId: string }): Promise<string | null> {
  const out = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: alert.subject,
      Message: alert.message,
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: alert.kind },
        app: { DataType: 'String', StringValue: context.app },
        incidentId: { DataType: 'String', StringValue: context.incidentId },
      },
    }),
  );
  return out.MessageId ?? null;
}

/** PutEvents reports per-entry failures in its answer, not as an error: turn them into one. */
export async function putServiceEvent(events: EventBridgeClient, busName: string, detailType: string, detail: Record<string, unknown>): Promise<void> {
  const out = await events.send(
    new PutEventsCommand({ Entries: [{ Source: EVENT_SOURCE, DetailType: detailType, Detail: JSON.stringify(detail), EventBusName: busName }] }),
  );
  const failed = out.Entries?.find((e) => e.ErrorCode);
  if ((out.FailedEntryCount ?? 0) > 0 || failed) {
    const code = failed?.ErrorCode ?? 'UnknownError';
    const error = new Error(`PutEvents ${detailType} failed: ${code} ${failed?.ErrorMessage ?? ''}`.trim());
    error.name = THROTTLING_ERRORS.has(code) ? code : 'PutEventsFailed';
    throw error;
  }
}
