// One place that knows how AWS SDK errors look: throttling becomes AwsThrottledError (the
// workflow retries it with backoff), lost conditional writes are recognised by name.
import { AwsThrottledError, ErrorNames } from '../core/errors.ts';

/** Error names AWS services use when they throttle a caller. */
export const THROTTLING_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceededException',
  'SlowDown',
  'LimitExceededException',
]);

/** Cancellation reason codes of a DynamoDB transaction that mean "throttled", not "lost the race". */
const THROTTLED_CANCELLATION_CODES: ReadonlySet<string> = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

interface AwsLikeError {
  name?: unknown;
  $retryable?: { throttling?: boolean };
  CancellationReasons?: { Code?: string }[];
}

function asAws(error: unknown): AwsLikeError {
  return typeof error === 'object' && error !== null ? (error as AwsLikeError) : {};
}

export function errorName(error: unknown): string {
  const name = asAws(error).name;
  return typeof name === 'string' ? name : 'Error';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function isThrottling(error: unknown): boolean {
  const e = asAws(error);
  if (THROTTLING_ERRORS.has(errorName(error)) || e.$retryable?.throttling === true) return true;
  return (e.CancellationReasons ?? []).some((reason) => reason.Code !== undefined && THROTTLED_CANCELLATION_CODES.has(reason.Code));
}

/** A conditional write or a transaction lost to another writer (not throttled). */
export function isConditionFailure(error: unknown): boolean {
  const name = errorName(error);
  if (name === 'ConditionalCheckFailedException') return true;
  return name === 'TransactionCanceledException' && !isThrottling(error);
}

export function hasName(error: unknown, ...names: string[]): boolean {
  return names.includes(errorName(error));
}

/** Throttling surfacing from any SDK call becomes the one error the workflow retries for it. */
export function toNamedError(error: unknown): unknown {
  if (errorName(error) === ErrorNames.AwsThrottled) return error;
  if (isThrottling(error)) return new AwsThrottledError(`AWS throttled the call (${errorName(error)}): ${errorMessage(error)}`, { cause: error });
  return error;
}
