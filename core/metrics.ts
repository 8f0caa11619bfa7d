// Metric names shared by the handlers (Powertools Metrics, EMF) and the dashboard (lib/).
export const METRICS_NAMESPACE = 'RapidFailover';
export const METRICS_SERVICE = 'rapid-failover';

export const MetricNames = {
  FailoversStarted: 'FailoversStarted',
  FailoversSucceeded: 'FailoversSucceeded',
  FailoversFailed: 'FailoversFailed',
  RtoSeconds: 'RtoSeconds',
  FreePoolNodes: 'FreePoolNodes',
} as const;

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

/**
 * Alarms this stack creates are named `rapid-failover-…`: per application
 * `rapid-failover-<app>-performance`, over the fleet `rapid-failover-fleet-…` (core/detection.ts).
 */
export const ALARM_PREFIX = 'rapid-failover-';
export type AlarmKind = 'performance';
export function alarmName(app: string, kind: AlarmKind): string {
  return `${ALARM_PREFIX}${app}-${kind}`;
}
