// SNS Publish and EventBridge PutEvents: recorded, with the validation AWS applies.
import type { PutEventsCommandInput, PutEventsCommandOutput, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import type { PublishCommandInput, PublishCommandOutput } from '@aws-sdk/client-sns';
import { errorsFor } from './errors.ts';
import type { World } from './model.ts';
import type { Handlers, Output } from './service.ts';

const snsError = errorsFor('sns');
const eventsError = errorsFor('eventbridge');

export interface PublishedMessage {
  at: string;
  messageId: string;
  topicArn: string;
  subject?: string;
  message: string;
  messageAttributes: Record<string, string>;
}

export interface PutEvent {
  at: string;
  eventId: string;
  eventBusName: string;
  source: string;
  detailType: string;
  /** Parsed from the entry's Detail JSON. */
  detail: unknown;
  resources: string[];
}

export interface NotifyState {
  published: PublishedMessage[];
  events: PutEvent[];
}

export function snsHandlers(world: World, state: NotifyState): Handlers {
  return {
    Publish: (input: PublishCommandInput): Output<PublishCommandOutput> => {
      const topicArn = input.TopicArn ?? input.TargetArn;
      if (!topicArn && !input.PhoneNumber) throw snsError('InvalidParameterException', 'Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
      if (input.Message === undefined || input.Message === '') throw snsError('InvalidParameterException', 'Invalid parameter: Empty message');
      if (Buffer.byteLength(input.Message) > 262_144) throw snsError('InvalidParameterException', 'Invalid parameter: Message too long');
      // SNS API reference, Publish: "Subjects must be UTF-8 text with no line breaks or control
      // characters, and less than 100 characters long."
      if (input.Subject !== undefined && (input.Subject.length === 0 || [...input.Subject].length >= 100 || /\p{Cc}/u.test(input.Subject))) {
        throw snsError('InvalidParameterException', 'Invalid parameter: Subject');
      }
      const messageId = world.uuid();
      state.published.push({
        at: new Date(world.now()).toISOString(),
        messageId,
        topicArn: topicArn ?? `sms:${input.PhoneNumber}`,
        ...(input.Subject !== undefined ? { subject: input.Subject } : {}),
        message: input.Message,
        messageAttributes: Object.fromEntries(Object.entries(input.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
      });
      return { MessageId: messageId };
    },
  };
}

export function eventBridgeHandlers(world: World, state: NotifyState): Handlers {
  return {
    PutEvents: (input: PutEventsCommandInput): Output<PutEventsCommandOutput> => {
      const entries = input.Entries ?? [];
      if (entries.length < 1 || entries.length > 10) {
        throw eventsError('ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10`);
      }
      const results: PutEventsResultEntry[] = entries.map((entry) => {
        if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
          return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameters Source, DetailType and Detail are required' };
        }
        let detail: unknown;
        try {
          detail = JSON.parse(entry.Detail);
        } catch {
          return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
        }
        if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
          return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
        }
        const eventId = world.uuid();
        state.events.push({
          at: new Date(entry.Time?.getTime() ?? world.now()).toISOString(),
          eventId,
          eventBusName: entry.EventBusName ?? 'default',
          source: entry.Source,
          detailType: entry.DetailType,
          detail,
          resources: [...(entry.Resources ?? [])],
        });
        return { EventId: eventId };
      });
      return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
    },
  };
}
