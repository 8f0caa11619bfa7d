// The Lambdas' environment: names set by lib/, validated once at cold start by functions/.
import { z } from 'zod';
import { ConfigError, describeIssues, type Config } from './config.ts';

export const EnvNames = {
  StateTable: 'STATE_TABLE_NAME',
  ClaimsTable: 'CLAIMS_TABLE_NAME',
  RecordsTable: 'RECORDS_TABLE_NAME',
  /** The callback Lambda's token store (only the callback has it). */
  TokensTable: 'TOKENS_TABLE_NAME',
  AlertTopicArn: 'ALERT_TOPIC_ARN',
  EventBusName: 'EVENT_BUS_NAME',
  StateMachineArn: 'STATE_MACHINE_ARN',
  /** Which workflow step a Lambda runs: lets the local runtime map the template's functions to handlers. */
  Step: 'RAPID_FAILOVER_STEP',
  /** The stack's name: its alarms' names (intake maps them back to applications) and its metrics' `stack` dimension. */
  StackName: 'RAPID_FAILOVER_STACK',
  /**
   * Where the config document is (core/config-document.ts): an S3 asset of the deploy, read once
   * per cold start. The key is the document's content hash, so it names one config version: a
   * config change is a new key in the functions' environment, not new code.
   */
  ConfigBucket: 'RAPID_FAILOVER_CONFIG_BUCKET',
  ConfigKey: 'RAPID_FAILOVER_CONFIG_KEY',
} as const;

export const EnvironmentSchema = z.object({
  [EnvNames.StateTable]: z.string().min(3),
  [EnvNames.ClaimsTable]: z.string().min(3),
  [EnvNames.RecordsTable]: z.string().min(3),
  [EnvNames.TokensTable]: z.string().min(3).optional(),
  [EnvNames.AlertTopicArn]: z.string().startsWith('arn:'),
  [EnvNames.EventBusName]: z.string().min(1).default('default'),
  [EnvNames.StateMachineArn]: z.string().startsWith('arn:').optional(),
  [EnvNames.StackName]: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'expected a CloudFormation stack name').optional(),
});

export interface Environment {
  tables: { state: string; claims: string; records: string; tokens?: string | undefined };
  alertTopicArn: string;
  eventBusName: string;
  stateMachineArn: string | undefined;
  config: Config;
  /** The stack the function belongs to (absent outside a stack: unit tests, the operator CLI). */
  stackName?: string;
}

export interface ConfigLocation {
  bucket: string;
  key: string;
}

const ConfigLocationSchema = z.object({
  [EnvNames.ConfigBucket]: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected the S3 bucket that holds the config document'),
  [EnvNames.ConfigKey]: z.string().min(1, 'expected the S3 key of the config document'),
});

/** Where a Lambda's config document is (set by lib/ on every function). */
export function readConfigLocation(env: Record<string, string | undefined>): ConfigLocation {
  const parsed = ConfigLocationSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError('environment', describeIssues(parsed.error.issues));
  return { bucket: parsed.data[EnvNames.ConfigBucket], key: parsed.data[EnvNames.ConfigKey] };
}

/** Reads and validates the environment (a missing or malformed variable names itself) around a validated config. */
export function readEnvironment(env: Record<string, string | undefined>, config: Config): Environment {
  const parsed = EnvironmentSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError('environment', describeIssues(parsed.error.issues));
  const e = parsed.data;
  return {
    tables: { state: e[EnvNames.StateTable], claims: e[EnvNames.ClaimsTable], records: e[EnvNames.RecordsTable], tokens: e[EnvNames.TokensTable] },
    alertTopicArn: e[EnvNames.AlertTopicArn],
    eventBusName: e[EnvNames.EventBusName],
    stateMachineArn: e[EnvNames.StateMachineArn],
    config,
    ...(e[EnvNames.StackName] ? { stackName: e[EnvNames.StackName] } : {}),
  };
}
