// Amazon SQS queues as the control plane's stack uses them: places where AWS services (Lambda's
// on-failure destination, EventBridge's dead-letter queue) put what could not be processed, for a
// person to read. The handlers never call SQS, so there is no SDK side: the services that send are
// simulated by the local runtime, and a queue's depth reaches CloudWatch as AWS publishes it.
import type { VendedDatapoint } from './cloudwatch.ts';
import type { World } from './model.ts';

export interface QueuedMessage {
  messageId: string;
  sentAt: string;
  body: string;
  attributes: Record<string, string>;
}

export interface SimQueue {
  name: string;
  arn: string;
  messages: QueuedMessage[];
  /** Something was sent to it: it reports metrics from then on (see queueMetrics). */
  active: boolean;
}

export type SqsState = Map<string, SimQueue>;

export function createQueue(world: World, state: SqsState, name: string, arn = world.arn('sqs', name)): SimQueue {
  const existing = state.get(arn);
  if (existing) return existing;
  const queue: SimQueue = { name, arn, messages: [], active: false };
  state.set(arn, queue);
  return queue;
}

/**
 * SendMessage as an AWS service calls it on the queue's behalf. SQS API reference, SendMessage:
 * a message body is 1 byte to 256 KiB; the queue keeps it until it is deleted or its retention ends.
 */
export function sendMessage(world: World, state: SqsState, queueArn: string, body: string, attributes: Record<string, string> = {}): QueuedMessage {
  const queue = state.get(queueArn);
  if (!queue) throw new Error(`no queue ${queueArn} in the simulated fleet`);
  if (body.length === 0 || Buffer.byteLength(body) > 262_144) throw new Error(`SendMessage to ${queue.name}: the body must be 1 byte to 256 KiB (${Buffer.byteLength(body)} bytes)`);
  const message = { messageId: world.uuid(), sentAt: new Date(world.now()).toISOString(), body, attributes: { ...attributes } };
  queue.messages.push(message);
  queue.active = true;
  return message;
}

/**
 * AWS/SQS ApproximateNumberOfMessagesVisible per queue, every minute. "Available CloudWatch
 * metrics for Amazon SQS" (SQS Developer Guide): reported while the queue is active. ASSUMPTION: a
 * simulated queue is active from its first message on (nothing else calls it), and reports every
 * minute (the page states no interval; an older version said five minutes, the alarms' period).
 */
export function queueMetrics(state: SqsState): VendedDatapoint[] {
  return [...state.values()]
    .filter((queue) => queue.active)
    .map((queue) => ({ namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: queue.name }, value: queue.messages.length }));
}
