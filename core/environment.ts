// The Lambdas' environment: names set by lib/, validated once at cold start by functions/.
import { z } from 'zod';
import { ConfigError, describeIssues, parseConfigText, type Config } from './config.ts';

export const EnvNames = {
  StateTable: 'STATE_TABLE_NAME',
  ClaimsTable: 'CLAIMS_TABLE_NAME',
  RecordsTable: 'RECORDS_TABLE_NAME',
  AlertTopicArn: 'ALERT_TOPIC_ARN',
  EventBusName: 'EVENT_BUS_NAME',
  StateMachineArn: 'STATE_MACHINE_ARN',
  /** Which workflow step a Lambda runs: lets the local runtime map the template's functions to handlers. */
  Step: 'RAPID_FAILOVER_STEP',
  /** The validated config, as JSON. In AWS the bundler inlines it (no 4 KB environment limit). */
  Config: 'RAPID_FAILOVER_CONFIG',
  /** The stack's name: its alarms' names (intake maps them back to applications) and its metrics' `stack` dimension. */
  StackName: 'RAPID_FAILOVER_STACK',
} as const;

export const EnvironmentSchema = z.object({
  [EnvNames.StateTable]: z.string().min(3),
  [EnvNames.ClaimsTable]: z.string().min(3),
  [EnvNames.RecordsTable]: z.string().min(3),
  [EnvNames.AlertTopicArn]: z.string().startsWith('arn:'),
  [EnvNames.EventBusName]: z.string().min(1).default('default'),
  [EnvNames.StateMachineArn]: z.string().startsWith('arn:').optional(),
  [EnvNames.StackName]: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'expected a CloudFormation stack name').optional(),
});

export interface Environment {
  tables: { state: string; claims: string; records: string };
  alertTopicArn: string;
  eventBusName: string;
  stateMachineArn: string | undefined;
  config: Config;
  /** The stack the function belongs to (absent outside a stack: unit tests, the operator CLI). */
  stackName?: string;
}

/** Reads and validates the environment; a missing or malformed variable names itself. */
export function readEnvironment(env: Record<string, string | undefined>, configJson: string | undefined): Environment {
  const parsed = EnvironmentSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError('environment', describeIssues(parsed.error.issues));
  if (!configJson) throw new ConfigError('environment', [`${EnvNames.Config}: the control plane's config is missing`]);
  const e = parsed.data;
  return {
    tables: { state: e[EnvNames.StateTable], claims: e[EnvNames.ClaimsTable], records: e[EnvNames.RecordsTable] },
    alertTopicArn: e[EnvNames.AlertTopicArn],
    eventBusName: e[EnvNames.EventBusName],
    stateMachineArn: e[EnvNames.StateMachineArn],
    config: parseConfigText(configJson, EnvNames.Config),
    ...(e[EnvNames.StackName] ? { stackName: e[EnvNames.StackName] } : {}),
  };
}
