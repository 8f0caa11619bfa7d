// Each Lambda's own role, read from the synthesized template: the policy documents attached to
// the role its function runs as, with CloudFormation's intrinsic functions resolved to the ARNs
// they stand for in the test account (a resource's logical id stands in for its generated name).
import { STEPS } from '../../../core/workflow-state.ts';
import { EnvNames } from '../../../core/environment.ts';
import type { ControlPlaneFunction } from '../../../lib/permissions.ts';

export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

type Resource = { Type: string; Properties?: Record<string, unknown> };
export type Template = { Resources: Record<string, Resource> };

export const FUNCTIONS: readonly ControlPlaneFunction[] = [...STEPS, 'intake', 'callback'];

/** The ARN (GetAtt Arn) or Ref value of a resource of the template, as AWS would name it. */
function valueOf(template: Template, logicalId: string, attribute: 'Ref' | 'Arn'): string {
  const type = template.Resources[logicalId]?.Type;
  const arn = (service: string, rest: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${rest}`;
  switch (type) {
    case 'AWS::DynamoDB::GlobalTable':
    case 'AWS::DynamoDB::Table':
      return attribute === 'Ref' ? logicalId : arn('dynamodb', `table/${logicalId}`);
    case 'AWS::KMS::Key':
      return attribute === 'Ref' ? logicalId : arn('kms', `key/${logicalId}`);
    case 'AWS::SNS::Topic':
      return attribute === 'Ref' ? arn('sns', logicalId) : arn('sns', logicalId);
    case 'AWS::StepFunctions::StateMachine':
      return arn('states', `stateMachine:${logicalId}`);
    case 'AWS::Logs::LogGroup':
      return attribute === 'Ref' ? logicalId : arn('logs', `log-group:${logicalId}:*`);
    case 'AWS::Lambda::Function':
      return attribute === 'Ref' ? logicalId : arn('lambda', `function:${logicalId}`);
    case 'AWS::SQS::Queue':
      return attribute === 'Ref' ? `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${logicalId}` : arn('sqs', logicalId);
    case 'AWS::IAM::Role':
      return attribute === 'Ref' ? logicalId : `arn:aws:iam::${ACCOUNT}:role/${logicalId}`;
    default:
      throw new Error(`template-roles: no ARN for ${logicalId} (${type ?? 'not in the template'})`);
  }
}

export function resolve(template: Template, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(template, v));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [fn, arg] = entries[0]!;
    if (fn === 'Ref') {
      const name = arg as string;
      if (name === 'AWS::Partition') return 'aws';
      if (name === 'AWS::Region') return REGION;
      if (name === 'AWS::AccountId') return ACCOUNT;
      if (name === 'AWS::URLSuffix') return 'amazonaws.com';
      return valueOf(template, name, 'Ref');
    }
    if (fn === 'Fn::GetAtt') {
      const [id, attribute] = arg as [string, string];
      if (attribute !== 'Arn') throw new Error(`template-roles: GetAtt ${id}.${attribute} is not resolved`);
      return valueOf(template, id, 'Arn');
    }
    if (fn === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return (resolve(template, parts) as string[]).join(separator);
    }
    if (fn === 'Fn::Sub' && typeof arg === 'string') {
      // The CDK bootstrap bucket's name: cdk-…-assets-${AWS::AccountId}-${AWS::Region}.
      return arg.replace(/\$\{([^}]+)\}/g, (_, name: string) => resolve(template, { Ref: name }) as string);
    }
    if (fn.startsWith('Fn::')) throw new Error(`template-roles: ${fn} is not resolved`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolve(template, v)]));
}

/** The logical id of the Lambda function built for `name` (its RAPID_FAILOVER_STEP variable). */
export function functionLogicalId(template: Template, name: ControlPlaneFunction): string {
  const found = Object.entries(template.Resources).filter(([, r]) => {
    const variables = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
    return r.Type === 'AWS::Lambda::Function' && variables?.[EnvNames.Step] === name;
  });
  if (found.length !== 1) throw new Error(`template-roles: ${found.length} functions for ${name}`);
  return found[0]![0];
}

/** The logical id of the role a function runs as. */
export function roleOf(template: Template, name: ControlPlaneFunction): string {
  const role = template.Resources[functionLogicalId(template, name)]!.Properties!.Role as { 'Fn::GetAtt': [string, string] };
  return role['Fn::GetAtt'][0];
}

/** Every policy document attached to the function's own role (inline and AWS::IAM::Policy), resolved. */
export function rolePolicies(template: Template, name: ControlPlaneFunction): PolicyDocument[] {
  const roleId = roleOf(template, name);
  const role = template.Resources[roleId]!;
  if ((role.Properties?.ManagedPolicyArns as unknown[] | undefined)?.length) throw new Error(`${roleId} has managed policies`);
  const inline = ((role.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map((p) => p.PolicyDocument);
  const attached = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles ?? []).includes(`"${roleId}"`))
    .map((r) => r.Properties!.PolicyDocument);
  return [...inline, ...attached].map((doc) => resolve(template, doc) as PolicyDocument);
}

/** The logical id of the one resource of `type` whose id contains `part`. */
export function logicalIdOf(template: Template, type: string, part = ''): string {
  const ids = Object.entries(template.Resources)
    .filter(([id, r]) => r.Type === type && id.includes(part))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`template-roles: ${ids.length} ${type} resources matching '${part}': ${ids.join(', ')}`);
  return ids[0]!;
}

export function arnOf(template: Template, logicalId: string): string {
  return valueOf(template, logicalId, template.Resources[logicalId]?.Type === 'AWS::SNS::Topic' ? 'Ref' : 'Arn');
}

/** Policy size as IAM counts it: the JSON without whitespace. */
export function policySize(document: PolicyDocument): number {
  return JSON.stringify(document).length;
}

/** The config document's object ARN, from a function's environment (every function reads the same one). */
export function configDocumentArn(template: Template): string {
  const variables = resolve(template, (template.Resources[functionLogicalId(template, 'intake')]!.Properties!.Environment as { Variables: unknown }).Variables) as Record<string, string>;
  return `arn:aws:s3:::${variables[EnvNames.ConfigBucket]}/${variables[EnvNames.ConfigKey]}`;
}
