// Errors as the SDK surfaces them: an instance of the service's exception class (the modeled
// subclass when the SDK has one, e.g. SSM's InvocationDoesNotExist, so `instanceof` works), with
// `name` = the AWS error code, `$fault` and `$metadata`.
//
// Retries: the fleet answers from middleware at the 'initialize' step. The SDK's retry
// middleware sits at 'finalizeRequest', after initialize, so an error thrown by the fleet never
// passes through it and is NOT retried by the SDK: an injected throttling error reaches the
// handler on the first attempt, where in AWS the SDK would first have retried it (3 attempts in
// standard mode). The error still carries what the SDK's classifier looks at (a throttling
// `name`, `$retryable.throttling`), so handler code that classifies it behaves as in AWS.
import * as cloudwatch from '@aws-sdk/client-cloudwatch';
import * as ec2 from '@aws-sdk/client-ec2';
import * as elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import * as eventbridge from '@aws-sdk/client-eventbridge';
import * as s3 from '@aws-sdk/client-s3';
import * as sns from '@aws-sdk/client-sns';
import * as ssm from '@aws-sdk/client-ssm';
import type { ServiceName } from './latency.ts';

interface ExceptionOptions {
  name: string;
  message: string;
  $fault: 'client' | 'server';
  $metadata: { httpStatusCode: number; requestId: string; attempts: number; totalRetryDelay: number };
}
type ExceptionClass = new (options: ExceptionOptions) => Error;

const SERVICES: Record<ServiceName, { module: Record<string, unknown>; base: ExceptionClass }> = {
  ec2: { module: ec2, base: ec2.EC2ServiceException as unknown as ExceptionClass },
  ssm: { module: ssm, base: ssm.SSMServiceException as unknown as ExceptionClass },
  elbv2: { module: elbv2, base: elbv2.ElasticLoadBalancingV2ServiceException as unknown as ExceptionClass },
  sns: { module: sns, base: sns.SNSServiceException as unknown as ExceptionClass },
  eventbridge: { module: eventbridge, base: eventbridge.EventBridgeServiceException as unknown as ExceptionClass },
  cloudwatch: { module: cloudwatch, base: cloudwatch.CloudWatchServiceException as unknown as ExceptionClass },
  s3: { module: s3, base: s3.S3ServiceException as unknown as ExceptionClass },
};

/** What AWS answers when it throttles, per service (all are in the SDK's throttling list). */
export const THROTTLING_ERRORS: Record<ServiceName, string> = {
  ec2: 'RequestLimitExceeded',
  ssm: 'ThrottlingException',
  elbv2: 'Throttling',
  sns: 'ThrottledException',
  eventbridge: 'ThrottlingException',
  cloudwatch: 'Throttling',
  s3: 'SlowDown',
};

let requestCounter = 0;

export function requestId(): string {
  requestCounter += 1;
  return `00000000-0000-4000-8000-${requestCounter.toString(16).padStart(12, '0')}`;
}

export interface AwsErrorOptions {
  fault?: 'client' | 'server';
  httpStatusCode?: number;
  throttling?: boolean;
}

/** An error as the SDK would throw it for this service and error code. */
export function awsError(service: ServiceName, code: string, message: string, options: AwsErrorOptions = {}): Error {
  const { module, base } = SERVICES[service];
  const fault = options.fault ?? 'client';
  const $metadata = {
    httpStatusCode: options.httpStatusCode ?? (fault === 'server' ? 500 : 400),
    requestId: requestId(),
    attempts: 1,
    totalRetryDelay: 0,
  };
  const modeled = module[code];
  const error =
    typeof modeled === 'function' && modeled.prototype instanceof base
      ? new (modeled as ExceptionClass)({ name: code, message, $fault: fault, $metadata })
      : new base({ name: code, message, $fault: fault, $metadata });
  if (options.throttling) Object.assign(error, { $retryable: { throttling: true } });
  return error;
}

/** Bound to one service, for the service modules. */
export type ErrorFactory = (code: string, message: string, options?: AwsErrorOptions) => Error;

export function errorsFor(service: ServiceName): ErrorFactory {
  return (code, message, options) => awsError(service, code, message, options);
}

/** Thrown for a command the fleet does not simulate: a gap in the simulation, not an AWS error. */
export class NotSimulatedError extends Error {
  override readonly name = 'NotSimulatedError';
  constructor(service: string, command: string, detail?: string) {
    super(
      `the simulated fleet does not implement ${service}:${command}${detail ? ` (${detail})` : ''}; ` +
        'add it under local/fleet/ or stub this call in the test',
    );
  }
}
