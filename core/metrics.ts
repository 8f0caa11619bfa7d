// Metric names shared by the handlers (Powertools Metrics, EMF) and the dashboard (lib/).
export const METRICS_NAMESPACE = 'RapidFailover';
export const METRICS_SERVICE = 'rapid-failover';

export const MetricNames = {
  FailoversStarted: 'FailoversStarted',
  FailoversSucceeded: 'FailoversSucceeded',
  FailoversFailed: 'FailoversFailed',
  RtoSeconds: 'RtoSeconds',
  FreePoolNodes: 'FreePoolNodes',
  /** How far a running failover is past the longest it can take (core/failover-bound.ts); 0 within it. Every step reports it. */
  FailoverOverrunSeconds: 'FailoverOverrunSeconds',
  /** Events intake rejected as malformed (logged with the event, not retried). */
  MalformedEvents: 'MalformedEvents',
} as const;

/** The dimension that keeps one stack's metrics apart from another's in the shared namespace. */
export const STACK_DIMENSION = 'stack';

/** EventBridge source of the service up / down events (C8) and of operator requests (C6). */
export const EVENT_SOURCE = 'rapid-failover';
export const OPERATOR_EVENT_SOURCE = 'rapid-failover.operator';
export const OperatorDetailTypes = {
  Switchover: 'Switchover Requested',
  Drill: 'Drill Requested',
} as const;
export const ServiceDetailTypes = {
  Up: 'Service Up',
  Down: 'Service Down',
} as const;

// Alarm names are the stack's: stackAlarmNames() in core/detection.ts.
