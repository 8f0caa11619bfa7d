// Named errors: a Lambda's error `name` is what Step Functions' Retry/Catch match on.
// This list is shared by functions/ (which throw them) and lib/ (whose workflow matches them).

export const ErrorNames = {
  /** Input did not match its schema: never retried, nothing was changed. */
  Validation: 'ValidationError',
  /** A handler whose body has not landed yet; never a fake success. */
  NotImplemented: 'NotImplementedError',
  /** The step started something that is still running: poll again (Retry with backoff). */
  StepPending: 'StepPendingError',
  /** The step ran past its configured timeout. */
  StepTimeout: 'StepTimeoutError',
  /** Provisioning the claimed node failed: compensate and try another node. */
  ProvisioningFailed: 'ProvisioningFailedError',
  /** The node did not join the cluster (targets unhealthy, address move failed). */
  JoinFailed: 'JoinFailedError',
  /** Our lease on a node is gone (expired and taken): stop touching the node. */
  LeaseLost: 'LeaseLostError',
  /** AWS throttled us past the SDK's own retries: retry the step later. */
  AwsThrottled: 'AwsThrottledError',
  /**
   * The function's code and its config document come from different deploys: Lambda changes a
   * function's code (UpdateFunctionCode) and its environment (UpdateFunctionConfiguration) in two
   * calls, so a deploy that changes both has a moment where one is new and the other old. Retry:
   * once the update is done, new invocations get execution environments with the new pair.
   */
  ConfigMismatch: 'ConfigMismatchError',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

abstract class NamedError extends Error {
  abstract override readonly name: ErrorName;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class ValidationError extends NamedError {
  override readonly name = ErrorNames.Validation;
}
export class NotImplementedError extends NamedError {
  override readonly name = ErrorNames.NotImplemented;
}
/**
 * What a pending step waits for: an AWS event (resumed by the callback Lambda through a
 * `.waitForTaskToken` task; `timeoutSeconds` until the step polls once instead), or a time
 * (`until`, or `afterSeconds` from now) when nothing emits an event.
 */
export type PendingOn =
  | {
      event: { key: string; since: Date; expect: readonly string[]; failWith?: ErrorName; then?: 'again' | 'next'; timeoutSeconds: number };
    }
  | { until: Date }
  | { afterSeconds: number };

export class StepPendingError extends NamedError {
  override readonly name = ErrorNames.StepPending;
  constructor(
    message: string,
    /** Absent: poll again after the step's default interval. */
    readonly pendingOn?: PendingOn,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
export class StepTimeoutError extends NamedError {
  override readonly name = ErrorNames.StepTimeout;
}
export class ProvisioningFailedError extends NamedError {
  override readonly name = ErrorNames.ProvisioningFailed;
}
export class JoinFailedError extends NamedError {
  override readonly name = ErrorNames.JoinFailed;
}
export class LeaseLostError extends NamedError {
  override readonly name = ErrorNames.LeaseLost;
}
export class AwsThrottledError extends NamedError {
  override readonly name = ErrorNames.AwsThrottled;
}
export class ConfigMismatchError extends NamedError {
  override readonly name = ErrorNames.ConfigMismatch;
}

/** Errors the Lambda service itself raises that are worth a retry (AWS best practice for Lambda tasks). */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** Errors after which the node being provisioned is given up and another is tried. */
export const NODE_FAILURE_ERRORS = [
  ErrorNames.ProvisioningFailed,
  ErrorNames.StepTimeout,
  ErrorNames.JoinFailed,
  ErrorNames.LeaseLost,
] as const;
