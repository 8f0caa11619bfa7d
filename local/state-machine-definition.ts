// The workflow as the CDK synthesizes it: the state machine's DefinitionString taken from
// the template, with CloudFormation intrinsics resolved to concrete values, so local runs
// and tests execute exactly what would be deployed.

export const LOCAL_ACCOUNT = '123456789012';
export const LOCAL_REGION = 'us-east-1';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, Json> }>;
}

export interface ExtractedStateMachine {
  logicalId: string;
  /** The ASL definition, parsed. */
  definition: Record<string, unknown>;
  /** Lambda function ARN in the definition → the function's logical id in the template. */
  functionArns: Map<string, string>;
}

/** Local ARN of a template's SQS queue (named by its logical id). */
export function localQueueArn(logicalId: string): string {
  return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${logicalId}`;
}

/** Local ARN of a template's Lambda function. */
export function localFunctionArn(logicalId: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
}

export function extractStateMachine(template: CfnTemplate): ExtractedStateMachine {
  const machines = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const [logicalId, resource] = machines[0]!;
  const functionArns = new Map<string, string>();
  const resolved = resolveIntrinsics(resource.Properties?.DefinitionString ?? null, template, functionArns);
  if (typeof resolved !== 'string') throw new Error(`${logicalId}: DefinitionString did not resolve to a string`);
  return { logicalId, definition: JSON.parse(resolved) as Record<string, unknown>, functionArns };
}

/** Any template value with its intrinsics resolved as in the local account and region. */
export function resolveTemplateValue(value: unknown, template: CfnTemplate): unknown {
  return resolveIntrinsics(value as Json, template, new Map());
}

function resolveIntrinsics(value: Json, template: CfnTemplate, functionArns: Map<string, string>): Json {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, template, functionArns));
  if (value === null || typeof value !== 'object') return value;
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((p) => String(resolveIntrinsics(p, template, functionArns))).join(separator);
  }
  if ('Ref' in value) return resolveRef(String(value.Ref), template);
  if ('Fn::Sub' in value && typeof value['Fn::Sub'] === 'string') {
    // The string form only (what the CDK writes for the bootstrap bucket's name): ${Name} is Ref Name.
    return value['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_, name: string) => resolveRef(name, template));
  }
  if ('Fn::GetAtt' in value) {
    const [target, attribute] = value['Fn::GetAtt'] as [string, string];
    const type = template.Resources[target]?.Type;
    if (type === 'AWS::Lambda::Function' && attribute === 'Arn') {
      const arn = localFunctionArn(target);
      functionArns.set(arn, target);
      return arn;
    }
    const alarmName = template.Resources[target]?.Properties?.AlarmName;
    if (type === 'AWS::CloudWatch::Alarm' && attribute === 'Arn' && typeof alarmName === 'string') {
      return `arn:aws:cloudwatch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alarm:${alarmName}`;
    }
    // A queue of the template is named by its logical id locally (local/runtime/simulation.ts creates it so).
    if (type === 'AWS::SQS::Queue' && attribute === 'Arn') return localQueueArn(target);
    if (type === 'AWS::SQS::Queue' && attribute === 'QueueName') return target;
    throw new Error(`cannot resolve Fn::GetAtt ${target}.${attribute} (${type ?? 'unknown resource'})`);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveIntrinsics(v, template, functionArns)]));
}

function resolveRef(name: string, template: CfnTemplate): string {
  switch (name) {
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::Region':
      return LOCAL_REGION;
    case 'AWS::AccountId':
      return LOCAL_ACCOUNT;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      if (template.Resources[name]) return name;
      throw new Error(`cannot resolve Ref ${name}`);
  }
}
